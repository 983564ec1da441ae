// Property-based tests (fast-check) for the shared parsers: digests, Range
// headers, storage keys, configuration (TOML + env), Authorization headers,
// htpasswd files and client-IP resolution.
import t from 'tap';
import fc from 'fast-check';
import { resolve, sep } from 'node:path';
import { parseDigest } from '../src/main/digest.js';
import { parseRange } from '../src/main/http/range.js';
import { checkKey, InvalidKey, MAX_KEY_LENGTH } from '../src/main/storage/keys.js';
import { LocalDriver } from '../src/main/storage/drivers/local.js';
import { buildConfig, ConfigError, CONFIG_SCHEMA } from '../src/main/config.js';
import { parseAuthorization } from '../src/main/auth/credentials.js';
import { parseHtpasswd } from '../src/main/auth/htpasswd.js';
import { ClientIp } from '../src/main/auth/client-ip.js';
import { TOKEN_RE } from '../src/main/auth/token-format.js';
import type { Req } from '../src/main/http/types.js';
import { check, iterations, trickyString } from './helpers/fuzz.js';

t.test('digests: accepted exactly when algorithm and hex length are right', async (t) => {
  const hexOf = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-fA-F]{${n}}$`));
  const candidate = fc.oneof(
    fc.tuple(fc.constantFrom('sha256', 'sha512', 'SHA256', 'sha384', 'md5', ''), fc.oneof(hexOf(64), hexOf(128), hexOf(63), trickyString(4))).map(([a, h]) => `${a}:${h}`),
    trickyString(),
    fc.string({ unit: 'binary', maxLength: 150 }),
  );
  check(t, 'parseDigest matches the grammar',
    fc.property(candidate, (s) => {
      const d = parseDigest(s);
      const valid = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/.test(s);
      return valid ? d !== null && d.value === s && `${d.algorithm}:${d.hex}` === s : d === null;
    }),
    2000,
  );
});

t.test('Range: agrees with an RFC 9110 model; accepted ranges always lie inside the object', async (t) => {
  const num = fc.oneof(
    fc.nat({ max: 300 }),
    fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String),
    fc.tuple(fc.stringMatching(/^0{10,20}$/), fc.nat({ max: 300 })).map(([z, x]) => `${z}${x}`),
    fc.constantFrom('', '00', '007'),
  );
  const header = fc.oneof(
    fc.tuple(num, num).map(([a, b]) => `bytes=${a}-${b}`),
    fc.tuple(num, num, num, num).map(([a, b, c, d]) => `bytes=${a}-${b},${c}-${d}`),
    fc.tuple(fc.constantFrom('bytes', 'Bytes', 'items', 'bytes '), num, num).map(([u, a, b]) => `${u}=${a}-${b}`),
    trickyString(6),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constant(undefined),
  );
  const size = fc.oneof(fc.nat({ max: 300 }), fc.constant(0), fc.nat({ max: 2 ** 40 }));
  // The model, in BigInt so digit strings of any length are exact: a single
  // "bytes=" range; malformed or multiple ranges → whole object; RFC 9110
  // §14.1.2: last-pos past the end is clipped, a suffix longer than the object
  // means all of it, first-pos past the end is unsatisfiable; an inverted
  // range is refused (416), as the OCI conformance suite expects.
  const model = (h: string | undefined, n: number) => {
    if (!h) return { kind: 'none' };
    const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
    if (!m || (m[1] === '' && m[2] === '')) return { kind: 'none' };
    const size = BigInt(n);
    const last = size - 1n;
    if (m[1] === '') {
      const suffix = BigInt(m[2]!);
      if (suffix === 0n || size === 0n) return { kind: 'unsatisfiable' };
      return { kind: 'ok', start: Number(suffix >= size ? 0n : size - suffix), end: Number(last) };
    }
    const start = BigInt(m[1]!);
    if (start >= size) return { kind: 'unsatisfiable' };
    const end = m[2] === '' ? last : BigInt(m[2]!);
    if (end < start) return { kind: 'unsatisfiable' };
    return { kind: 'ok', start: Number(start), end: Number(end < last ? end : last) };
  };
  check(t, 'parseRange equals the model and stays in bounds',
    fc.property(header, size, (h, n) => {
      const got = parseRange(h, n);
      if (got.kind === 'ok' && !(got.start >= 0 && got.start <= got.end && got.end < n)) return false;
      return JSON.stringify(got) === JSON.stringify(model(h, n));
    }),
    2000,
  );
});

t.test('storage keys: no accepted key leaves the root or reaches tmp/', async (t) => {
  const root = resolve('/srv/nora-keys-root');
  const storage = new LocalDriver(root);
  const key = fc.oneof(
    trickyString(20),
    fc.array(fc.oneof(fc.constantFrom('..', '.', '', 'tmp', 'a', '..\\..', '%2e%2e', '\0'), fc.stringMatching(/^[a-z.]{1,5}$/)), { maxLength: 8 }).map((s) => s.join('/')),
    fc.string({ unit: 'binary', maxLength: 64 }),
    fc.constant('a'.repeat(MAX_KEY_LENGTH + 1)),
  );
  check(t, 'checkKey / LocalDriver.path',
    fc.property(key, (k) => {
      let p: string;
      try {
        p = storage.path(k);
      } catch (e) {
        return e instanceof InvalidKey || (e as Error).message === 'reserved key';
      }
      checkKey(k);
      const segs = k.split('/');
      return (
        p.startsWith(root + sep) &&
        !p.startsWith(resolve(root, 'tmp') + sep) &&
        p !== resolve(root, 'tmp') &&
        resolve(p) === p &&
        segs.every((s) => s !== '..' && s !== '.' && s !== '') &&
        !k.includes('\\') &&
        !k.includes('\0') &&
        k.length <= MAX_KEY_LENGTH
      );
    }),
    2000,
  );
});

t.test('configuration: any TOML and environment either builds a valid Config or throws ConfigError', async (t) => {
  const sections = Object.keys(CONFIG_SCHEMA);
  const keysOf = (s: string) => Object.keys(CONFIG_SCHEMA[s] ?? {});
  const tomlValue = fc.oneof(
    fc.integer({ min: -100_000, max: 100_000 }).map(String),
    fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }).map(String),
    fc.double({ noNaN: false }).map((d) => (Number.isFinite(d) ? String(d) : d > 0 ? 'inf' : d < 0 ? '-inf' : 'nan')),
    fc.boolean().map(String),
    fc.string({ maxLength: 20 }).map((s) => JSON.stringify(s)),
    fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }).map((a) => JSON.stringify(a)),
    fc.constantFrom('[1, 2]', '{ a = 1 }', '1979-05-27T07:32:00Z', '0x10', '"0.0.0.0"', '"http://x"', '"ftp://x"', '""', '"::"', '"local"', '"debug"'),
  );
  const line = fc.oneof(
    fc.tuple(fc.constantFrom(...sections), fc.constantFrom(...sections.flatMap(keysOf), 'unknown', 'port'), tomlValue).map(([s, k, v]) => ({ s, text: `${k} = ${v}` })),
    fc.tuple(fc.constantFrom(...sections, 'bogus'), trickyString(3)).map(([s, x]) => ({ s, text: x })),
  );
  const toml = fc.oneof(
    fc.array(line, { maxLength: 8 }).map((ls) => {
      const by = new Map<string, string[]>();
      for (const l of ls) by.set(l.s, [...(by.get(l.s) ?? []), l.text]);
      return [...by].map(([s, body]) => `[${s}]\n${body.join('\n')}`).join('\n');
    }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    trickyString(15),
    fc.constant(null),
  );
  const envVars = sections.flatMap((s) => Object.values(CONFIG_SCHEMA[s]!).map((spec) => spec.env).filter((e): e is string => !!e));
  const envValue = fc.oneof(fc.string({ maxLength: 12 }), fc.integer().map(String), fc.constantFrom('true', 'false', '1', '0', 'yes', '', ' 80 ', '0.0.0.0', 'local', 'debug', 'a,b, ,c', '65536', '-1'));
  const env = fc.dictionary(fc.constantFrom(...envVars), envValue, { maxKeys: 5 });
  check(t, 'buildConfig throws nothing but ConfigError',
    fc.property(toml, env, (text, e) => {
      let c;
      try {
        c = buildConfig(text, e);
      } catch (err) {
        return err instanceof ConfigError && /^config: \S/.test(err.message) && !err.message.includes('\n');
      }
      return (
        Number.isInteger(c.server.port) && c.server.port >= 1 && c.server.port <= 65535 &&
        c.server.body_limit_mb >= 1 && c.server.host !== '' && c.storage.path !== '' &&
        typeof c.auth.enabled === 'boolean' && Array.isArray(c.auth.admin_users) &&
        c.docker.max_upload_sessions >= 1 && ['debug', 'info', 'warn', 'error'].includes(c.log.level)
      );
    }),
    1500,
  );
});

t.test('Authorization header: never throws; Basic and Bearer round-trip; a token-shaped password is only a token', async (t) => {
  check(t, 'parseAuthorization never throws on any header',
    fc.property(fc.oneof(trickyString(), fc.string({ unit: 'binary', maxLength: 200 }), fc.constant(undefined), fc.base64String().map((b) => `Basic ${b}`)), (h) => {
      const r = parseAuthorization(h);
      return typeof r === 'string' ? ['none', 'malformed', 'unsupported'].includes(r) : (r.kind === 'password' || r.kind === 'token') && typeof r.secret === 'string';
    }),
    2000,
  );
  const user = fc.string({ unit: 'grapheme', maxLength: 20 }).filter((u) => !u.includes(':'));
  const secret = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.stringMatching(/^nra_[0-9a-f]{32}$/));
  check(t, 'Basic user:secret round-trips',
    fc.property(user, secret, fc.constantFrom('Basic', 'basic', 'BASIC'), (u, s, scheme) => {
      const r = parseAuthorization(`${scheme} ${Buffer.from(`${u}:${s}`).toString('base64')}`);
      if (u === '' && s === '') return r === 'none';
      if (typeof r === 'string') return false;
      return r.user === u && r.secret === s && r.kind === (TOKEN_RE.test(s) ? 'token' : 'password');
    }),
    1500,
  );
  check(t, 'Bearer <token> is a token',
    fc.property(fc.stringMatching(/^[A-Za-z0-9._~+/-]{1,60}=*$/), (tok) => {
      const r = parseAuthorization(`Bearer ${tok}`);
      return typeof r !== 'string' && r.kind === 'token' && r.secret === tok;
    }),
    500,
  );
});

t.test('htpasswd: any text parses without throwing; problems never quote a hash', async (t) => {
  const bcrypt = fc.stringMatching(/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/);
  const secret = fc.stringMatching(/^SECRET[A-Za-z0-9]{6,20}$/);
  const lineArb = fc.oneof(
    fc.tuple(fc.stringMatching(/^[a-z0-9._-]{0,10}$/), bcrypt).map(([u, h]) => `${u}:${h}`),
    fc.tuple(fc.stringMatching(/^[a-z0-9._-]{1,10}$/), secret).map(([u, h]) => `${u}:${h}`),
    fc.tuple(fc.stringMatching(/^[a-z0-9._-]{1,10}$/), secret).map(([u, h]) => `${u}:{SHA}${h}`),
    secret,
    trickyString(6),
    fc.constantFrom('', '# comment', ':', '::', '   '),
  );
  check(t, 'parseHtpasswd',
    fc.property(fc.array(lineArb, { maxLength: 12 }), fc.constantFrom('\n', '\r\n'), (lines, eol) => {
      const text = lines.join(eol);
      const { users, problems } = parseHtpasswd(text);
      const all = problems.map((p) => p.reason).join('\n');
      if (/SECRET[A-Za-z0-9]{6}/.test(all) && !lines.some((l) => /^[^:]*SECRET/.test(l))) return false;
      for (const [u, h] of users) if (u === '' || !/^\$2b\$\d\d\$/.test(h)) return false;
      return problems.every((p) => p.line >= 1 && p.line <= text.split(/\r?\n/).length);
    }),
    1500,
  );
});

t.test('client IP: always the peer or a well-formed address behind a trusted proxy', async (t) => {
  const ips = new ClientIp(['127.0.0.1', '10.0.0.0/8', '::1']);
  const ip = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('127.0.0.1', '10.1.2.3', '::1', '::ffff:10.0.0.1'), trickyString(3));
  const xff = fc.option(fc.array(ip, { maxLength: 5 }).map((a) => a.join(', ')), { nil: undefined });
  check(t, 'ClientIp.resolve',
    fc.property(fc.constantFrom('127.0.0.1', '10.9.9.9', '192.0.2.7', '::1', '2001:db8::1'), xff, fc.option(ip, { nil: undefined }), (peer, x, real) => {
      const headers: Record<string, string> = {};
      if (x !== undefined) headers['x-forwarded-for'] = x;
      if (real !== undefined) headers['x-real-ip'] = real;
      const got = ips.resolve({ ip: peer, headers } as unknown as Req);
      if (!ips.isTrusted(peer)) return got === peer;
      return got === peer || (x ?? '').includes(got) || (real ?? '').includes(got);
    }),
    1500,
  );
  t.comment(`fuzz-core iterations: ${iterations()}`);
});
