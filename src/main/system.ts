// /health (liveness + facts), /ready (storage reachable and credential checks
// possible), /metrics (Prometheus text).
import type { Context, Protocol } from './protocol.js';
import type { Requirement } from './auth/types.js';
import { methodNotAllowed } from './errors.js';
import { plainProtocol } from './server.js';

const started = Date.now();
const PUBLIC: Requirement = { access: 'public' };
const ADMIN: Requirement = { access: 'admin' };

export function systemProtocol(ctx: Context): Protocol {
  // The port opens before the hash workers have booted: not ready until they have.
  let workers = ctx.config.auth.enabled ? 'starting' : 'off';
  ctx.gate.ready().then(
    () => (workers = ctx.config.auth.enabled ? 'ready' : 'off'),
    () => (workers = 'failed'),
  );
  return {
    name: 'system',
    matches: (p) => p === '/health' || p === '/ready' || p === '/metrics',
    access: (req) => (req.path === '/metrics' && !ctx.config.auth.public_metrics ? ADMIN : PUBLIC),
    async handle(req, reply) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
      if (req.path === '/health') {
        const reachable = await ctx.storage.probe();
        reply.json(200, {
          status: reachable ? 'healthy' : 'degraded',
          version: ctx.version,
          uptime_seconds: Math.floor((Date.now() - started) / 1000),
          storage: { backend: ctx.storage.name, reachable },
          auth: { enabled: ctx.config.auth.enabled },
        });
      } else if (req.path === '/ready') {
        // The body says what is missing, so a 503 can be acted on without reading logs.
        const writable = await ctx.storage.probe();
        const redis = ctx.gate.redis();
        const ready = writable && (workers === 'ready' || workers === 'off') && redis !== 'unreachable';
        reply.json(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', storage: writable ? 'writable' : 'not writable', auth_workers: workers, redis });
      } else {
        reply.status(200).header('Content-Type', 'text/plain; version=0.0.4').send(ctx.metrics.render());
      }
    },
    error: plainProtocol.error,
  };
}
