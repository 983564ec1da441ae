// Structured JSON log lines on stdout. Callers pass fields, never secrets.
import type { LogLevel } from './config.js';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold = ORDER.info;

// Lines are batched and written once per event-loop turn: one write syscall for
// many access-log lines under load instead of one each.
let pending: string[] = [];
let scheduled = false;
function flush(): void {
  scheduled = false;
  if (pending.length === 0) return;
  const text = pending.join('\n') + '\n';
  pending = [];
  process.stdout.write(text);
}
process.on('exit', flush);
const stdoutSink = (line: string) => {
  pending.push(line);
  if (pending.length >= 512) flush();
  else if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
};
let sink: (line: string) => void = stdoutSink;

/** Writes out batched lines now (before exit). */
export function flushLog(): void {
  flush();
}

export function setLogLevel(level: LogLevel): void {
  threshold = ORDER[level];
}

/** Tests capture lines through this. */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

/** Whether lines of this level are written (so callers skip building fields that would be dropped). */
export function logEnabled(level: LogLevel): boolean {
  return ORDER[level] >= threshold;
}

function emit(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
  if (ORDER[level] < threshold) return;
  sink(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
}

export const log = {
  debug: (msg: string, f?: Record<string, unknown>) => emit('debug', msg, f),
  info: (msg: string, f?: Record<string, unknown>) => emit('info', msg, f),
  warn: (msg: string, f?: Record<string, unknown>) => emit('warn', msg, f),
  error: (msg: string, f?: Record<string, unknown>) => emit('error', msg, f),
};
