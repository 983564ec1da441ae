// `[[docker.upstreams]]` and NORA_DOCKER_PROXIES ("url|user:pass|prefix,url2"),
// checked as NORA checks them (a bad prefix is fatal), and shown by
// `nora config` with the password masked.

export interface DockerUpstream {
  /** base URL, no trailing slash, no credentials */
  url: string;
  /** "user:pass", or '' for anonymous pulls */
  auth: string;
  /** first path segment routed to this upstream ('' = no prefix) */
  prefix: string;
  /** storage namespace of its cached content (default: derived from the host) */
  namespace: string;
}

const RESERVED = new Set(['blobs', 'manifests', 'tags', 'uploads', '_catalog', 'v2']);
const SEGMENT = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

function checkUrl(raw: string, where: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw `${where}: url must be an http(s) URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw `${where}: url must be an http(s) URL`;
  if (u.username || u.password) throw `${where}: put credentials in auth, not in the url`;
  return u.toString().replace(/\/+$/, '');
}

function entry(raw: Record<string, unknown>, where: string): DockerUpstream {
  for (const k of Object.keys(raw)) if (!['url', 'auth', 'prefix', 'namespace'].includes(k)) throw `${where}: unknown key ${k}`;
  for (const k of ['url', 'auth', 'prefix', 'namespace'])
    if (raw[k] !== undefined && typeof raw[k] !== 'string') throw `${where}: ${k} must be a string`;
  const url = checkUrl((raw.url as string | undefined) ?? '', where);
  const auth = (raw.auth as string | undefined) ?? '';
  if (auth !== '' && !auth.includes(':')) throw `${where}: auth must be user:pass`;
  const prefix = (raw.prefix as string | undefined) ?? '';
  if (raw.prefix !== undefined && (prefix === '' || !SEGMENT.test(prefix) || RESERVED.has(prefix)))
    throw `${where}: prefix must be one lower-case path segment other than ${[...RESERVED].join(', ')}`;
  const namespace = (raw.namespace as string | undefined) ?? new URL(url).host.replace(/[^a-z0-9.-]/gi, '-').toLowerCase();
  if (!SEGMENT.test(namespace)) throw `${where}: namespace must be one lower-case path segment`;
  return { url, auth, prefix, namespace };
}

/** The upstream list from TOML (array of tables) or from the env's compact form. */
export function parseDockerUpstreams(raw: unknown, fromEnv: boolean): DockerUpstream[] {
  let list: DockerUpstream[];
  if (fromEnv) {
    const text = String(raw).trim();
    list =
      text === ''
        ? []
        : text.split(',').map((item, i) => {
            const [url, auth, prefix] = item.trim().split('|');
            return entry({ url, auth: auth || undefined, prefix: prefix || undefined }, `entry ${i + 1}`);
          });
  } else {
    if (!Array.isArray(raw)) throw 'expected [[docker.upstreams]] tables';
    list = raw.map((t, i) => {
      if (typeof t !== 'object' || t === null || Array.isArray(t)) throw `entry ${i + 1}: expected a table`;
      return entry(t as Record<string, unknown>, `entry ${i + 1}`);
    });
  }
  const prefixes = list.map((u) => u.prefix).filter(Boolean);
  const dup = prefixes.find((p, i) => prefixes.indexOf(p) !== i);
  if (dup) throw `prefix ${dup} is used twice`;
  return list;
}

/** Upstreams as `nora config` prints them: the password never shown. */
export function describeUpstreams(list: DockerUpstream[]): string {
  const items = list.map((u) => {
    const auth = u.auth ? `, auth = "${u.auth.slice(0, u.auth.indexOf(':'))}:********"` : '';
    return `{ url = "${u.url}"${auth}, prefix = "${u.prefix}", namespace = "${u.namespace}" }`;
  });
  return `[${items.join(', ')}]`;
}
