// Builds the pull-through cache from [[docker.upstreams]]; none configured
// (the default) means hosted only: no request ever leaves.
import type { Context } from '../../../main/protocol.js';
import { Fills, Upstream, breakerSettings } from '../../../main/proxy/index.js';
import type { DockerContent } from '../content.js';
import type { ManifestStore } from '../manifest-store.js';
import { RegistryClient } from './registry-client.js';
import { proxiedContent } from './proxied-content.js';
import type { ProxyUpstream } from './routing.js';

export interface DockerProxy {
  content: DockerContent;
  close(): void;
}

export function dockerProxy(ctx: Context, store: ManifestStore, hosted: DockerContent): DockerProxy | null {
  const c = ctx.config;
  if (c.docker.upstreams.length === 0) return null;
  const upstreams: ProxyUpstream[] = c.docker.upstreams.map((cfg) => {
    const upstream = new Upstream({
      url: cfg.url,
      label: cfg.prefix ? `${new URL(cfg.url).origin}#${cfg.prefix}` : undefined,
      connectTimeoutMs: c.docker.proxy_timeout * 1000,
      readTimeoutMs: c.docker.read_timeout * 1000,
      breaker: breakerSettings(c),
      metrics: ctx.metrics,
    });
    return { cfg, client: new RegistryClient(upstream, cfg.auth) };
  });
  const fills = new Fills(ctx.storage, ctx.log);
  const content = proxiedContent(ctx, store, hosted, upstreams, { metadataTtlSecs: c.docker.metadata_ttl, serveStale: c.docker.serve_stale }, fills);
  return {
    content,
    close() {
      fills.close();
      for (const u of upstreams) u.client.upstream.close();
    },
  };
}
