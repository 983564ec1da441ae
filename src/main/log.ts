// Structured JSON log lines on stdout. Callers pass fields, never secrets.
import type { LogLevel } from './config.js';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold = ORDER.info;
let sink: (line: string) => void = (line) => process.stdout.write(line + '\n');

export function setLogLevel(level: LogLevel): void {
  threshold = ORDER[level];
}

/** Tests capture lines through this. */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
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
