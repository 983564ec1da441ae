import { startNora } from './nora.js';
import { startDistribution } from './distribution.js';
import type { RunningServer, ServerName, StartOptions } from './types.js';

export function startServer(name: ServerName, opts: StartOptions): Promise<RunningServer> {
  return name === 'nora-ts' ? startNora(opts) : startDistribution(opts);
}
export * from './types.js';
