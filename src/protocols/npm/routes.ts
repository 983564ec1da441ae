// Maps a request path to a route. npm appends its paths to the registry URL,
// which is either /npm/ or the root (for requests from npm clients, see
// fromNpmClient): package documents at <registry>/<name> (scoped names as
// `@scope%2fname` or `@scope/name`), registry endpoints under <registry>/-/.
export type Route =
  | { kind: 'ping' }
  | { kind: 'whoami' }
  | { kind: 'search' }
  | { kind: 'audit' }
  | { kind: 'login' }
  | { kind: 'dist-tags'; name: string; tag: string | null }
  | { kind: 'package'; name: string; rev: string | null }
  | { kind: 'version'; name: string; spec: string }
  | { kind: 'tarball'; name: string; file: string; rev: string | null }
  | { kind: 'unknown' };

export const PREFIX = '/npm';

/** True for paths under /npm/ (the rest are requests at the root). */
export function underPrefix(path: string): boolean {
  return path === PREFIX || path.startsWith(PREFIX + '/');
}

/**
 * Whether a request comes from an npm client: npm names its command in
 * `npm-command` (and its auth style in `npm-auth-type`; npm 6 sent
 * `npm-session`); yarn and pnpm put `npm/<version>` in their user agent.
 */
export function fromNpmClient(headers: Readonly<Record<string, string>>): boolean {
  return (
    headers['npm-command'] !== undefined ||
    headers['npm-auth-type'] !== undefined ||
    headers['npm-session'] !== undefined ||
    /(?:^|\s)npm\//.test(headers['user-agent'] ?? '')
  );
}

function decode(seg: string): string | null {
  try {
    return decodeURIComponent(seg);
  } catch {
    return null;
  }
}

/** Splits the leading package name off decoded segments; scoped names take two raw segments unless %2f-joined. */
function takeName(segs: string[]): { name: string; rest: string[] } | null {
  const first = segs[0];
  if (first === undefined || first === '') return null;
  if (first.startsWith('@') && !first.includes('/')) {
    if (segs.length < 2 || segs[1] === '') return null;
    return { name: `${first}/${segs[1]}`, rest: segs.slice(2) };
  }
  return { name: first, rest: segs.slice(1) };
}

export function parseRoute(path: string): Route {
  const raw = path.slice(underPrefix(path) ? PREFIX.length + 1 : 1);
  const decoded = raw.split('/').map(decode);
  if (decoded.some((s) => s === null)) return { kind: 'unknown' };
  const segs = decoded as string[];
  if (segs[segs.length - 1] === '' && segs.length > 1) segs.pop(); // tolerate one trailing slash

  if (segs[0] === '-') {
    const rest = segs.slice(1);
    const joined = rest.join('/');
    if (joined === 'ping') return { kind: 'ping' };
    if (joined === 'whoami') return { kind: 'whoami' };
    if (joined === 'v1/search') return { kind: 'search' };
    if (joined === 'npm/v1/security/advisories/bulk' || joined === 'npm/v1/security/audits/quick') return { kind: 'audit' };
    if (rest[0] === 'user' || joined === 'v1/login') return { kind: 'login' };
    if (rest[0] === 'package') {
      const n = takeName(rest.slice(1));
      if (!n || n.rest[0] !== 'dist-tags') return { kind: 'unknown' };
      if (n.rest.length === 1) return { kind: 'dist-tags', name: n.name, tag: null };
      if (n.rest.length === 2) return { kind: 'dist-tags', name: n.name, tag: n.rest[1]! };
    }
    return { kind: 'unknown' };
  }

  const n = takeName(segs);
  if (!n) return { kind: 'unknown' };
  const { name, rest } = n;
  if (rest.length === 0) return { kind: 'package', name, rev: null };
  if (rest.length === 2 && rest[0] === '-rev') return { kind: 'package', name, rev: rest[1]! };
  if (rest.length === 1 && rest[0] !== '-') return { kind: 'version', name, spec: rest[0]! };
  if (rest[0] === '-') {
    let tail = rest.slice(1);
    // npm's own default tarball URL for scoped packages repeats the scope: /@s/n/-/@s/n-1.0.0.tgz
    const scope = name.startsWith('@') ? name.slice(0, name.indexOf('/')) : null;
    if (scope && tail[0] === scope) tail = tail.slice(1);
    if (tail.length === 1) return { kind: 'tarball', name, file: tail[0]!, rev: null };
    if (tail.length === 3 && tail[1] === '-rev') return { kind: 'tarball', name, file: tail[0]!, rev: tail[2]! };
  }
  return { kind: 'unknown' };
}
