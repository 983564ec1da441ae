// Memory of a server process from /proc/<pid>/status (Linux): VmRSS now and
// VmHWM, the kernel's own high-water mark, which catches spikes between samples.
import { readFile } from 'node:fs/promises';

export interface MemStatus {
  rssBytes: number;
  hwmBytes: number;
}

export async function readMem(pid: number): Promise<MemStatus> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  };
  return { rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM') };
}

/** Samples VmRSS every `everyMs` until stop(); stop() returns the peak seen and the final VmHWM. */
export function sampleRss(pid: number, everyMs = 50) {
  let peak = 0;
  let stopped = false;
  let pending: Promise<void> = Promise.resolve();
  const tick = () => {
    pending = readMem(pid).then(
      (m) => {
        if (m.rssBytes > peak) peak = m.rssBytes;
      },
      () => {},
    );
  };
  tick();
  const timer = setInterval(() => {
    if (!stopped) tick();
  }, everyMs);
  return {
    async stop(): Promise<{ peakRssBytes: number; hwmBytes: number }> {
      stopped = true;
      clearInterval(timer);
      await pending;
      const m = await readMem(pid);
      return { peakRssBytes: Math.max(peak, m.rssBytes), hwmBytes: m.hwmBytes };
    },
  };
}

/**
 * CPU time (user + system) a process has used, in microseconds, from
 * /proc/<pid>/stat. CPU per request moves far less than req/s when the
 * machine is busy with something else, so A/B comparisons read it.
 */
export async function readCpuMicros(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  // fields after the parenthesised command name; utime and stime are the 14th and 15th
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / CLOCK_TICKS;
}

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;
