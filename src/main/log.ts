// Structured JSON log lines on stdout. Callers pass fields, never secrets.
// stdout is the process's, so there is one sink; each registry has its own
// Logger (its configured level), and `log` is the process's own (the CLI's).
import type { LogLevel } from './config.js';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

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

/** Tests capture lines through this. */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

export type LogFields = Record<string, unknown>;

export class Logger {
  private threshold: number;
  constructor(level: LogLevel) {
    this.threshold = ORDER[level];
  }
  setLevel(level: LogLevel): void {
    this.threshold = ORDER[level];
  }
  /** Whether lines of this level are written (so callers skip building fields that would be dropped). */
  enabled(level: LogLevel): boolean {
    return ORDER[level] >= this.threshold;
  }
  private emit(level: LogLevel, msg: string, fields?: LogFields): void {
    if (ORDER[level] < this.threshold) return;
    sink(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
  }
  debug(msg: string, f?: LogFields): void {
    this.emit('debug', msg, f);
  }
  info(msg: string, f?: LogFields): void {
    this.emit('info', msg, f);
  }
  warn(msg: string, f?: LogFields): void {
    this.emit('warn', msg, f);
  }
  error(msg: string, f?: LogFields): void {
    this.emit('error', msg, f);
  }
}

/** The process's own log (the CLI's lines, and code run outside any registry). */
export const log = new Logger('info');
