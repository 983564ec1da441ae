-- wrk script shared by every GET scenario and both servers.
-- Request headers come from BENCH_HEADERS ("Name: value" lines) so the
-- credentials never appear on wrk's command line. done() prints one JSON line
-- (prefixed BENCH_RESULT) that bench/wrk.ts parses: exact percentiles in µs.
local raw = os.getenv("BENCH_HEADERS") or ""
for line in raw:gmatch("[^\n]+") do
  local k, v = line:match("^([^:]+):%s*(.-)%s*$")
  if k then wrk.headers[k] = v end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us":%d,"requests":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.duration, summary.requests, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
