// Scenario 7: spawn() to the first 200 on the readiness path (/health for
// nora-ts, /v2/ with credentials for distribution), polled every 2 ms; then the
// resident memory after the server has sat idle for a moment. Auth on.
import { readMem } from '../procfs.js';
import { withServer, type Scenario } from '../scenario.js';
import { MB } from '../stats.js';

export const startup: Scenario = {
  id: '7',
  title: 'start-up (auth on, empty storage)',
  metrics: [
    { key: 'ms', label: 'start to first 200', unit: 'ms', better: 'lower', digits: 0 },
    { key: 'idle', label: 'idle RSS', unit: 'MB', better: 'lower', digits: 1 },
  ],
  run: (ctx, name) =>
    withServer(ctx, name, { auth: true, seed: false }, async ({ server }) => {
      await new Promise((r) => setTimeout(r, ctx.settings.idleWaitMs));
      const mem = await readMem(server.pid);
      return { ms: server.startupMs, idle: mem.rssBytes / MB };
    }),
};
