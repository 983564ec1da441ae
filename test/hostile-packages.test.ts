// Hostile input on npm (/npm/), PyPI (/simple/, /pypi/) and the token API
// (/api/tokens): traversal payloads in every path parameter and JSON field
// that names something stored, JavaScript prototype keys (__proto__,
// constructor, ...) wherever a name is looked up in stored metadata, and
// malformed bodies. Each case gets a 4xx in the format's own error shape and
// leaves the data directory byte-for-byte as it was.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { startRegistry, type Running } from './helpers/registry.js';
import { startAuthRegistry, USERS, mint, type AuthRegistry } from './helpers/auth.js';
import { rawHttp, type RawRequest, type RawResponse } from './helpers/raw-http.js';
import { diffSnapshots, snapshotTree, type Snapshot } from './helpers/tree-snapshot.js';

const TRAVERSAL = [
  '..',
  '%2e%2e',
  '%252e%252e',
  '..%2f..%2fpackage.json',
  '%2F%2F..%2F',
  '..%5c..%5cx',
  '..\\..\\x',
  '%00',
  'a%00b',
  '%c0%ae%c0%ae',
  'a%0d%0aX-Injected:%20yes',
  'x'.repeat(300),
  'y'.repeat(5000),
];
/** Keys every plain JavaScript object answers to. */
const PROTO_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf'];

type Shape = 'npm' | 'pypi' | 'tokens' | 'oci';
let cases = 0;
const tally = new Map<string, number>();

function shapeOk(shape: Shape, res: RawResponse): boolean {
  if (shape === 'pypi') return /^text\/plain/.test(res.headers['content-type'] ?? '') && res.body.length > 0;
  try {
    const b = JSON.parse(res.body.toString('utf8')) as { error?: unknown; errors?: { code?: unknown }[] };
    if (shape === 'oci') return typeof b.errors?.[0]?.code === 'string';
    return typeof b.error === 'string' && b.error.length > 0;
  } catch {
    return false;
  }
}

interface Target {
  r: Running;
  shape: Shape;
  before: Snapshot;
  snap: () => Promise<Snapshot>;
}

async function target(r: Running, shape: Shape): Promise<Target> {
  const skipTmp = (rel: string) => rel === join('storage', 'tmp') || rel.startsWith(join('storage', 'tmp') + '/');
  const snap = () => snapshotTree(r.dir, skipTmp);
  return { r, shape, before: await snap(), snap };
}

async function expectRefused(t: Test, tg: Target, group: string, label: string, req: RawRequest, status?: number[]): Promise<RawResponse> {
  const res = await rawHttp(tg.r.port, req, 5000);
  cases++;
  tally.set(group, (tally.get(group) ?? 0) + 1);
  const what = `${group}: ${label} (${req.method} ${req.target.slice(0, 100)})`;
  if (res.timedOut) t.fail(`${what}: no answer`);
  const okStatus = status ? status.includes(res.status) : res.status >= 400 && res.status < 500;
  if (!okStatus) t.fail(`${what}: status ${res.status}`, { body: res.body.toString('utf8').slice(0, 300) });
  if (req.method !== 'HEAD' && res.status >= 400 && !shapeOk(tg.shape, res))
    t.fail(`${what}: not a ${tg.shape} error body`, { type: res.headers['content-type'], body: res.body.toString('utf8').slice(0, 200) });
  if (res.headers['x-injected'] !== undefined) t.fail(`${what}: header injection`);
  const diff = diffSnapshots(tg.before, await tg.snap());
  if (diff.length) t.fail(`${what}: stored data changed`, { diff });
  return res;
}

// ---- npm --------------------------------------------------------------------

function tgz(seed: string): Buffer {
  return gzipSync(Buffer.from(seed.repeat(20)));
}

function publishDoc(name: string, version: string, data: Buffer, over: Record<string, unknown> = {}): Record<string, unknown> {
  const base = name.includes('/') ? name.split('/')[1]! : name;
  return {
    _id: name,
    name,
    'dist-tags': { latest: version },
    versions: {
      [version]: {
        name,
        version,
        dist: {
          integrity: 'sha512-' + createHash('sha512').update(data).digest('base64'),
          shasum: createHash('sha1').update(data).digest('hex'),
          tarball: `http://x/${name}/-/${base}-${version}.tgz`,
        },
      },
    },
    _attachments: { [`${base}-${version}.tgz`]: { content_type: 'application/octet-stream', data: data.toString('base64'), length: data.length } },
    ...over,
  };
}

const json = (v: unknown) => ({ body: JSON.stringify(v), headers: { 'content-type': 'application/json' } });

t.test('npm', async (t) => {
  const r = await startRegistry({ server: { body_limit_mb: 1 } });
  t.teardown(() => r.close());
  for (const [name, v] of [['pkg', '1.0.0'], ['@scope/pkg', '1.0.0'], ['pkg', '1.1.0']] as const) {
    const res = await fetch(`${r.url}/npm/${name.replace('/', '%2f')}`, { method: 'PUT', ...json(publishDoc(name, v, tgz(`${name}@${v}`))) });
    t.equal(res.status, 201, `publish ${name}@${v}: ${await res.text()}`);
  }
  const beta = await fetch(`${r.url}/npm/-/package/pkg/dist-tags/beta`, { method: 'PUT', ...json('1.0.0') });
  t.equal(beta.status, 201);
  const rev = ((await (await fetch(`${r.url}/npm/pkg?write=true`)).json()) as { _rev: string })._rev;
  const tg = await target(r, 'npm');

  const positions: ((p: string) => RawRequest)[] = [
    (p) => ({ method: 'GET', target: `/npm/${p}` }),
    (p) => ({ method: 'GET', target: `/npm/${p}/1.0.0` }),
    (p) => ({ method: 'GET', target: `/npm/pkg/${p}` }),
    (p) => ({ method: 'GET', target: `/npm/pkg/-/${p}` }),
    (p) => ({ method: 'HEAD', target: `/npm/pkg/-/${p}` }),
    (p) => ({ method: 'GET', target: `/npm/pkg/-/${p}.tgz` }),
    (p) => ({ method: 'GET', target: `/npm/${p}/-/pkg-1.0.0.tgz` }),
    (p) => ({ method: 'GET', target: `/npm/@scope/${p}/-/pkg-1.0.0.tgz` }),
    (p) => ({ method: 'GET', target: `/npm/@${p}/pkg` }),
    (p) => ({ method: 'PUT', target: `/npm/${p}`, ...json(publishDoc('pkg', '2.0.0', tgz('x'))) }),
    (p) => ({ method: 'PUT', target: `/npm/pkg/-rev/${p}`, ...json({ name: 'pkg', versions: { '1.0.0': {} } }) }),
    (p) => ({ method: 'DELETE', target: `/npm/pkg/-rev/${p}` }),
    (p) => ({ method: 'DELETE', target: `/npm/${p}/-rev/${rev}` }),
    (p) => ({ method: 'DELETE', target: `/npm/pkg/-/${p}/-rev/${rev}` }),
    (p) => ({ method: 'GET', target: `/npm/-/package/${p}/dist-tags` }),
    (p) => ({ method: 'GET', target: `/npm/-/package/pkg/dist-tags/${p}` }),
    (p) => ({ method: 'PUT', target: `/npm/-/package/pkg/dist-tags/${p}`, ...json('1.0.0') }),
    (p) => ({ method: 'DELETE', target: `/npm/-/package/pkg/dist-tags/${p}` }),
    (p) => ({ method: 'PUT', target: `/npm/-/package/${p}/dist-tags/next`, ...json('1.0.0') }),
  ];
  for (const p of TRAVERSAL) for (const make of positions) await expectRefused(t, tg, 'npm traversal', p.slice(0, 30), make(p));

  // Prototype keys where a file, version, tag or rev is looked up in the stored document.
  for (const k of PROTO_KEYS) {
    const reqs: RawRequest[] = [
      { method: 'GET', target: `/npm/pkg/-/${k}` },
      { method: 'HEAD', target: `/npm/pkg/-/${k}` },
      { method: 'GET', target: `/npm/pkg/${k}` },
      { method: 'GET', target: `/npm/-/package/pkg/dist-tags/${k}` },
      { method: 'DELETE', target: `/npm/-/package/pkg/dist-tags/${k}` },
      { method: 'PUT', target: '/npm/-/package/pkg/dist-tags/next', ...json(k) },
      { method: 'POST', target: '/npm/-/package/pkg/dist-tags', ...json({ next: k }) },
      { method: 'PUT', target: '/npm/-/package/pkg/dist-tags', ...json({ latest: '1.1.0', next: k }) },
      { method: 'DELETE', target: `/npm/pkg/-/${k}/-rev/${rev}` },
      { method: 'PUT', target: '/npm/pkg', ...json({ name: 'pkg', versions: { [k]: { deprecated: 'polluted' } } }) },
      { method: 'PUT', target: '/npm/pkg', ...json({ name: 'pkg', versions: { '1.0.0': {} }, 'dist-tags': { latest: '1.0.0', next: k } }) },
      { method: 'PUT', target: `/npm/pkg/-rev/${rev}`, ...json({ name: 'pkg', versions: { '1.1.0': {}, [k]: {} } }) },
    ];
    for (const req of reqs) await expectRefused(t, tg, 'npm prototype keys', k, req);
  }
  // JSON.parse keeps "__proto__" as an own key: written raw, it must not reach any prototype.
  const raw = `{"name":"pkg","versions":{"__proto__":{"deprecated":"polluted"}}}`;
  await expectRefused(t, tg, 'npm prototype keys', 'raw __proto__ version', { method: 'PUT', target: '/npm/pkg', body: raw, headers: { 'content-type': 'application/json' } });
  t.equal(({} as Record<string, unknown>).deprecated, undefined, 'Object.prototype not polluted');
  t.equal((Object as unknown as Record<string, unknown>).deprecated, undefined, 'Object not polluted');

  // Publishes naming stored things with hostile strings.
  const data = tgz('hostile');
  const hostileDocs: [string, Record<string, unknown>][] = [
    ['attachment ../', { ...publishDoc('pkg', '2.0.0', data), _attachments: { '../../pkg-2.0.0.tgz': { data: data.toString('base64'), length: data.length } } }],
    ['attachment with backslash', { ...publishDoc('pkg', '2.0.0', data), _attachments: { '..\\pkg-2.0.0.tgz': { data: data.toString('base64'), length: data.length } } }],
    ['attachment with NUL', { ...publishDoc('pkg', '2.0.0', data), _attachments: { 'pkg-2.0.0.tgz\0': { data: data.toString('base64'), length: data.length } } }],
    ['attachment __proto__.tgz only', { ...publishDoc('pkg', '2.0.0', data), _attachments: { '__proto__': { data: data.toString('base64') } } }],
    ['version ../../x', publishDoc('pkg', '../../x', data)],
    ['version __proto__', publishDoc('pkg', '__proto__', data)],
    ['version with NUL', publishDoc('pkg', '2.0.0\0', data)],
    ['name in body differs', publishDoc('other', '2.0.0', data)],
    ['dist-tag ../x', publishDoc('pkg', '2.0.0', data, { 'dist-tags': { '../x': '2.0.0' } })],
    ['dist-tag __proto__', publishDoc('pkg', '2.0.0', data, { 'dist-tags': JSON.parse('{"__proto__":"2.0.0"}') })],
    ['dist-tag to another version', publishDoc('pkg', '2.0.0', data, { 'dist-tags': { latest: 'constructor' } })],
    ['integrity of other bytes', publishDoc('pkg', '2.0.0', tgz('other'), { _attachments: { 'pkg-2.0.0.tgz': { data: data.toString('base64'), length: data.length } } })],
    ['base64 garbage', { ...publishDoc('pkg', '2.0.0', data), _attachments: { 'pkg-2.0.0.tgz': { data: '%%%not base64%%%', length: 3 } } }],
    ['versions an array', { ...publishDoc('pkg', '2.0.0', data), versions: [] }],
    ['version manifest a string', { ...publishDoc('pkg', '2.0.0', data), versions: { '2.0.0': 'x' } }],
    ['republish 1.0.0', publishDoc('pkg', '1.0.0', tgz('pkg@1.0.0'))],
  ];
  for (const [label, doc] of hostileDocs) {
    await expectRefused(t, tg, 'npm publish', label, { method: 'PUT', target: '/npm/pkg', ...json(doc) });
  }
  // Malformed bodies.
  const bodies: [string, string | Buffer][] = [
    ['empty', ''],
    ['truncated', '{"name":"pkg",'],
    ['array', '[]'],
    ['null', 'null'],
    ['string', '"pkg"'],
    ['deep nesting', '['.repeat(100_000) + ']'.repeat(100_000)],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
    ['NUL', '{"name":"pkg"\0}'],
  ];
  for (const [label, body] of bodies) {
    await expectRefused(t, tg, 'npm malformed', label, { method: 'PUT', target: '/npm/pkg', body, headers: { 'content-type': 'application/json' } });
    await expectRefused(t, tg, 'npm malformed', `dist-tags ${label}`, { method: 'PUT', target: '/npm/-/package/pkg/dist-tags/next', body, headers: { 'content-type': 'application/json' } });
  }
  const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
  await expectRefused(t, tg, 'npm oversized', 'publish over body_limit_mb', { method: 'PUT', target: '/npm/pkg', body: big, headers: { 'content-type': 'application/json' } }, [413]);
  await expectRefused(t, tg, 'npm oversized', 'dist-tag body over 64 KiB', { method: 'PUT', target: '/npm/-/package/pkg/dist-tags/next', body: Buffer.alloc(70_000, 0x20) }, [413]);
  // Range on tarballs (npm serves them through the shared serveObject).
  for (const h of ['bytes=abc', 'bytes=5-1', 'bytes=-0', 'bytes=99999999999999999999-', 'bytes=0-1,2-3']) {
    const res = await rawHttp(r.port, { method: 'GET', target: '/npm/pkg/-/pkg-1.0.0.tgz', headers: { range: h } });
    cases++;
    tally.set('npm malformed', (tally.get('npm malformed') ?? 0) + 1);
    t.ok([200, 206, 416].includes(res.status), `tarball Range ${h}: ${res.status}`);
  }
  t.same(diffSnapshots(tg.before, await tg.snap()), [], 'npm: nothing stored changed');
  const still = await fetch(`${r.url}/npm/pkg`);
  t.equal(still.status, 200, 'the package still reads');
});

// ---- PyPI -------------------------------------------------------------------

const BOUNDARY = 'nora-hostile-boundary-0123456789';
function form(fields: [string, string][], file?: { filename: string; data: Buffer }): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of fields) parts.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`, 'latin1'));
  if (file) {
    parts.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="content"; filename="${file.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`, 'latin1'), file.data, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(parts);
}
const hexOf = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');
function uploadFields(name: string, version: string, data: Buffer): [string, string][] {
  return [
    [':action', 'file_upload'],
    ['protocol_version', '1'],
    ['name', name],
    ['version', version],
    ['filetype', 'sdist'],
    ['sha256_digest', hexOf('sha256', data)],
    ['md5_digest', hexOf('md5', data)],
  ];
}
const multipart = (body: Buffer) => ({ body, headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } });

t.test('PyPI', async (t) => {
  const r = await startRegistry({ server: { body_limit_mb: 1 } });
  t.teardown(() => r.close());
  const sdist = Buffer.from('an sdist the index never opens'.repeat(10));
  const up = await fetch(`${r.url}/pypi/`, { method: 'POST', ...multipart(form(uploadFields('demo-pkg', '1.0', sdist), { filename: 'demo-pkg-1.0.tar.gz', data: sdist })) });
  t.equal(up.status, 200, await up.text());
  const tg = await target(r, 'pypi');

  const positions: ((p: string) => RawRequest)[] = [
    (p) => ({ method: 'GET', target: `/simple/${p}/` }),
    (p) => ({ method: 'GET', target: `/simple/${p}` }),
    (p) => ({ method: 'GET', target: `/simple/demo-pkg/${p}` }),
    (p) => ({ method: 'HEAD', target: `/simple/demo-pkg/${p}` }),
    (p) => ({ method: 'GET', target: `/simple/demo-pkg/${p}.metadata` }),
    (p) => ({ method: 'GET', target: `/simple/demo-pkg/${p}.tar.gz` }),
    (p) => ({ method: 'GET', target: `/simple/${p}/demo-pkg-1.0.tar.gz` }),
    (p) => ({ method: 'POST', target: `/pypi/${p}/1.0/yank`, body: 'reason' }),
    (p) => ({ method: 'POST', target: `/pypi/demo-pkg/${p}/yank`, body: 'reason' }),
    (p) => ({ method: 'POST', target: `/pypi/demo-pkg/${p}/unyank` }),
    (p) => ({ method: 'POST', target: '/pypi/', ...multipart(form(uploadFields('demo-pkg', '1.1', sdist), { filename: decodeSafe(p), data: sdist })) }),
    (p) => ({ method: 'POST', target: '/pypi/', ...multipart(form(uploadFields(decodeSafe(p), '1.1', sdist), { filename: 'demo-pkg-1.1.tar.gz', data: sdist })) }),
    (p) => ({ method: 'POST', target: '/pypi/', ...multipart(form(uploadFields('demo-pkg', decodeSafe(p), sdist), { filename: 'demo-pkg-1.1.tar.gz', data: sdist })) }),
  ];
  for (const p of TRAVERSAL) for (const make of positions) await expectRefused(t, tg, 'pypi traversal', p.slice(0, 30), make(p));
  for (const k of PROTO_KEYS) {
    const reqs: RawRequest[] = [
      { method: 'GET', target: `/simple/demo-pkg/${k}` },
      { method: 'HEAD', target: `/simple/demo-pkg/${k}` },
      { method: 'GET', target: `/simple/demo-pkg/${k}.metadata` },
      { method: 'POST', target: `/pypi/demo-pkg/${k}/yank`, body: 'x' },
      { method: 'POST', target: '/pypi/', ...multipart(form(uploadFields('demo-pkg', '1.1', sdist), { filename: `${k}.tar.gz`, data: sdist })) },
    ];
    for (const req of reqs) await expectRefused(t, tg, 'pypi prototype keys', k, req);
  }
  const malformed: [string, RawRequest][] = [
    ['no boundary', { method: 'POST', target: '/pypi/', body: 'x', headers: { 'content-type': 'multipart/form-data' } }],
    ['json body', { method: 'POST', target: '/pypi/', ...json({ name: 'demo-pkg' }) }],
    ['empty multipart', { method: 'POST', target: '/pypi/', ...multipart(Buffer.from(`--${BOUNDARY}--\r\n`)) }],
    ['garbage', { method: 'POST', target: '/pypi/', ...multipart(Buffer.from('\0\0\0garbage')) }],
    ['boundary of 5000 chars', { method: 'POST', target: '/pypi/', body: 'x', headers: { 'content-type': `multipart/form-data; boundary=${'b'.repeat(5000)}` } }],
    ['header line of 100 KB in a part', { method: 'POST', target: '/pypi/', ...multipart(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${'n'.repeat(100_000)}"\r\n\r\nv\r\n--${BOUNDARY}--\r\n`)) }],
    ['yank reason over 4 KiB', { method: 'POST', target: '/pypi/demo-pkg/1.0/yank', body: 'r'.repeat(5000) }],
  ];
  for (const [label, req] of malformed) await expectRefused(t, tg, 'pypi malformed', label, req);
  t.same(diffSnapshots(tg.before, await tg.snap()), [], 'PyPI: nothing stored changed');
});

function decodeSafe(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

// ---- token API and credentials ------------------------------------------------

t.test('token API and Authorization headers', async (t) => {
  const r: AuthRegistry = await startAuthRegistry();
  t.teardown(() => r.close());
  const admin = await mint(r.url, 'admin', USERS.admin, 'admin');
  await mint(r.url, 'alice', USERS.alice, 'write');
  const tg = await target(r, 'tokens');
  const who = { username: 'admin', password: USERS.admin };

  for (const p of TRAVERSAL) {
    await expectRefused(t, tg, 'tokens traversal', `path ${p.slice(0, 30)}`, { method: 'POST', target: `/api/tokens/${p}`, ...json(who) });
    for (const prefix of [decodeSafe(p), `${decodeSafe(p)}.json`, `../tokens/${decodeSafe(p)}`]) {
      await expectRefused(t, tg, 'tokens traversal', `hash_prefix ${prefix.slice(0, 30)}`, { method: 'POST', target: '/api/tokens/revoke', ...json({ ...who, hash_prefix: prefix }) });
    }
  }
  for (const k of PROTO_KEYS) {
    await expectRefused(t, tg, 'tokens prototype keys', k, { method: 'POST', target: '/api/tokens/revoke', ...json({ ...who, hash_prefix: k }) });
    await expectRefused(t, tg, 'tokens prototype keys', `path ${k}`, { method: 'POST', target: `/api/tokens/${k}`, ...json(who) });
  }
  const bodies: [string, RawRequest, number[]?][] = [
    ['not JSON', { method: 'POST', target: '/api/tokens', body: '{"username":', headers: { 'content-type': 'application/json' } }, [400]],
    ['array', { method: 'POST', target: '/api/tokens', ...json([who]) }, [422]],
    ['null', { method: 'POST', target: '/api/tokens', ...json(null) }, [422]],
    ['deep nesting', { method: 'POST', target: '/api/tokens', body: '['.repeat(8000) + ']'.repeat(8000), headers: { 'content-type': 'application/json' } }, [400, 422]],
    ['invalid UTF-8', { method: 'POST', target: '/api/tokens', body: Buffer.from([0x7b, 0xff, 0x7d]), headers: { 'content-type': 'application/json' } }, [400]],
    ['form encoded', { method: 'POST', target: '/api/tokens', body: 'username=admin', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, [415]],
    ['no content type', { method: 'POST', target: '/api/tokens', body: JSON.stringify(who) }, [415]],
    ['over 16 KiB', { method: 'POST', target: '/api/tokens', ...json({ ...who, description: 'd'.repeat(20_000) }) }, [413]],
    ['username a number', { method: 'POST', target: '/api/tokens', ...json({ username: 1, password: 'x' }) }, [422]],
    ['password an object', { method: 'POST', target: '/api/tokens', ...json({ username: 'admin', password: { a: 1 } }) }, [422]],
    ['role root', { method: 'POST', target: '/api/tokens', ...json({ ...who, role: 'root' }) }, [422]],
    ['role __proto__', { method: 'POST', target: '/api/tokens', ...json({ ...who, role: '__proto__' }) }, [422]],
    ['ttl_days -1', { method: 'POST', target: '/api/tokens', ...json({ ...who, ttl_days: -1 }) }, [422]],
    ['ttl_days 1.5', { method: 'POST', target: '/api/tokens', ...json({ ...who, ttl_days: 1.5 }) }, [422]],
    ['ttl_days 1e309', { method: 'POST', target: '/api/tokens', body: `{"username":"admin","password":"${USERS.admin}","ttl_days":1e309}`, headers: { 'content-type': 'application/json' } }, [422]],
    ['ttl_days "30"', { method: 'POST', target: '/api/tokens', ...json({ ...who, ttl_days: '30' }) }, [422]],
    ['ttl_days huge', { method: 'POST', target: '/api/tokens', ...json({ ...who, ttl_days: 2 ** 53 }) }, [422]],
    ['description a list', { method: 'POST', target: '/api/tokens', ...json({ ...who, description: ['x'] }) }, [422]],
    ['hash_prefix missing', { method: 'POST', target: '/api/tokens/revoke', ...json(who) }, [422]],
    ['hash_prefix a number', { method: 'POST', target: '/api/tokens/revoke', ...json({ ...who, hash_prefix: 12 }) }, [422]],
    ['GET', { method: 'GET', target: '/api/tokens' }, [405]],
  ];
  for (const [label, req, status] of bodies) await expectRefused(t, tg, 'tokens malformed', label, req, status);

  // Hostile Authorization headers on every format: 401 (or 429 once locked out), never a crash.
  const headers = [
    'Basic',
    'Basic ',
    'Basic !!!!',
    'Basic ' + Buffer.from('no-colon').toString('base64'),
    'Basic ' + Buffer.from('admin\0:' + USERS.admin).toString('base64'),
    'Basic ' + Buffer.from([0xff, 0xfe, 0x3a, 0x41]).toString('base64'),
    'Basic ' + Buffer.from('admin:' + 'p'.repeat(40_000)).toString('base64'),
    'Basic ' + Buffer.from('../../etc/passwd:x').toString('base64'),
    'Bearer',
    'Bearer ' + 'x'.repeat(50_000),
    'Bearer nra_../../tokens/x',
    'Bearer nra_' + '0'.repeat(32),
    'Bearer nra_' + 'G'.repeat(32),
    'nra_',
    'nra_' + 'f'.repeat(31) + '\u00e9',
    'Digest username="admin"',
    'bAsIc ' + Buffer.from('admin:wrong').toString('base64'),
    'Basic ' + Buffer.from('admin:' + USERS.admin).toString('base64') + '=',
  ];
  const routes: [string, Shape][] = [
    ['/v2/lib/app/manifests/v1', 'oci'],
    ['/npm/pkg', 'npm'],
    ['/simple/demo-pkg/', 'pypi'],
  ];
  for (const h of headers) {
    for (const [path, shape] of routes) {
      await expectRefused(t, { ...tg, shape }, 'credentials', h.slice(0, 30), { method: 'GET', target: path, headers: { authorization: h } }, [400, 401, 429]);
    }
  }
  // After all that, the real admin token still works (no corruption), unless the IP is locked out.
  const ok = await fetch(`${r.url}/v2/`, { headers: { authorization: `Bearer ${admin}` } });
  await ok.arrayBuffer();
  t.ok([200, 429].includes(ok.status), `admin token still accepted or the IP is locked out (${ok.status})`);
  t.same(diffSnapshots(tg.before, await tg.snap()), [], 'tokens: nothing stored changed');
});

t.test('hostile package cases total', async (t) => {
  t.comment(`hostile npm/PyPI/token cases: ${cases} (${[...tally].map(([k, v]) => `${k} ${v}`).join(', ')})`);
  t.ok(cases > 0);
});
