import { startNora } from './nora.js';
import { startDistribution } from './distribution.js';
import { startVerdaccio } from './verdaccio.js';
import type { RunningServer, ServerName, StartOptions } from './types.js';

export function startServer(name: ServerName, opts: StartOptions): Promise<RunningServer> {
  if (name === 'nora-ts') return startNora(opts);
  return name === 'distribution' ? startDistribution(opts) : startVerdaccio(opts);
}
export * from './types.js';
