// Which upstream repositories a client's repository name may come from, as
// NORA routes: an upstream whose `prefix` is the first segment takes the rest
// of the name; otherwise every upstream without a prefix is tried in order.
// A one-segment name is tried bare, then as Docker Hub's `library/<name>`.
// Cached content of a route lives in the repository `_proxy/<namespace>/<remote>`:
// '_' can start no client's name, so no push can reach or shadow a cache, and
// the catalog does not list it.
import type { DockerUpstream } from '../../../main/proxy/upstream-config.js';
import type { RegistryClient } from './registry-client.js';

export interface ProxyUpstream {
  cfg: DockerUpstream;
  client: RegistryClient;
}

export interface ProxyRoute {
  up: ProxyUpstream;
  /** the repository name on the upstream */
  remote: string;
  /** the repository holding its cached manifests and blob links */
  cache: string;
}

export const CACHE_ROOT = '_proxy';

function routes(up: ProxyUpstream, remote: string): ProxyRoute[] {
  const names = remote.includes('/') ? [remote] : [remote, `library/${remote}`];
  return names.map((r) => ({ up, remote: r, cache: `${CACHE_ROOT}/${up.cfg.namespace}/${r}` }));
}

export function routesFor(name: string, upstreams: readonly ProxyUpstream[]): ProxyRoute[] {
  const slash = name.indexOf('/');
  const first = slash < 0 ? name : name.slice(0, slash);
  const prefixed = upstreams.find((u) => u.cfg.prefix !== '' && u.cfg.prefix === first);
  if (prefixed) return slash < 0 ? [] : routes(prefixed, name.slice(slash + 1));
  return upstreams.filter((u) => u.cfg.prefix === '').flatMap((u) => routes(u, name));
}
