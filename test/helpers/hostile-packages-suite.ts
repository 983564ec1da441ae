// Hostile input on npm (/npm/), PyPI (/simple/, /pypi/), Cargo (/cargo/), raw
// files (/raw/), Maven (/maven2/) and the token API (/api/tokens): traversal payloads in every path parameter and JSON field
// that names something stored, JavaScript prototype keys (__proto__,
// constructor, ...) wherever a name is looked up in stored metadata, and
// malformed bodies. Each case gets a 4xx in the format's own error shape and
// leaves every stored object (read through the storage driver, token files
// included) byte-for-byte as it was. The same cases run on every storage mode:
// hostile-packages.test.ts (local disk) and hostile-packages-s3.test.ts (S3),
// each format on a registry (and a bucket) of its own.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { startRegistry, type Running } from './registry.js';
import { startAuthRegistry, USERS, mint } from './auth.js';
import { rawHttp, type RawRequest, type RawResponse } from './raw-http.js';
import { diffSnapshots, tokenEntry, tornObjects, type Snapshot, type StoreView } from './store-snapshot.js';
import { publish, publishBody, publishMeta } from './cargo-wire.js';
import { startOn, type StorageMode } from './storage-modes.js';
import { publishDoc } from './npm-publish-doc.js';

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

type Shape = 'npm' | 'pypi' | 'cargo' | 'raw' | 'maven' | 'tokens' | 'oci';
let cases = 0;
const tally = new Map<string, number>();

function shapeOk(shape: Shape, res: RawResponse): boolean {
  if (shape === 'pypi' || shape === 'raw' || shape === 'maven') return /^text\/plain/.test(res.headers['content-type'] ?? '') && res.body.length > 0;
  try {
    const b = JSON.parse(res.body.toString('utf8')) as { error?: unknown; errors?: { code?: unknown; detail?: unknown }[] };
    if (shape === 'oci') return typeof b.errors?.[0]?.code === 'string';
    if (shape === 'cargo') return typeof b.errors?.[0]?.detail === 'string';
    return typeof b.error === 'string' && b.error.length > 0;
  } catch {
    return false;
  }
}

interface Target {
  r: Running;
  shape: Shape;
  store: StoreView;
  before: Snapshot;
  snap: () => Promise<Snapshot>;
}

/**
 * Failed logins are recorded, by design. On shared storage without Redis the
 * lockout counters are objects in the token store (src/main/auth/shared-failures.ts),
 * so replicas count a client's failures together; local storage keeps them in
 * memory. Their change is the lockout working, not stored data changing: the
 * token cases check those records apart.
 */
const LOCKOUT = tokenEntry('lockout/');
const withoutLockout = (s: Snapshot) => new Map([...s].filter(([k]) => !k.startsWith(LOCKOUT)));

async function target(r: Running, store: StoreView, shape: Shape): Promise<Target> {
  const snap = async () => withoutLockout(await store.snapshot());
  return { r, shape, store, before: await snap(), snap };
}

/** After a format's cases: every byte read again (no version cache), nothing torn or changed, no writer left. */
async function intact(t: Test, tg: Target, what: string): Promise<void> {
  t.ok(tg.before.size > 0, `${what}: the snapshots see the stored data`);
  const now = await tg.store.snapshot({ fresh: true });
  t.same(tornObjects(now), [], `${what}: no torn or partial object`);
  t.same(diffSnapshots(tg.before, withoutLockout(now)), [], `${what}: nothing stored changed`);
  t.equal(await tg.store.writers(), 0, `${what}: no writer left`);
}

/** The cases, registered by hostilePackagesSuite; each starts its registry on the mode's storage. */
const suite: [string, (t: Test, mode: StorageMode) => Promise<void>][] = [];
const test = (name: string, fn: (t: Test, mode: StorageMode) => Promise<void>) => void suite.push([name, fn]);

export function hostilePackagesSuite(mode: StorageMode): void {
  if (mode.skip) return void t.plan(0, mode.skip);
  for (const [name, fn] of suite) t.test(name, (t) => fn(t, mode));
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

const json = (v: unknown) => ({ body: JSON.stringify(v), headers: { 'content-type': 'application/json' } });

test('npm', async (t, mode) => {
  const { r, store } = await startOn(t, mode, 'hostile-npm', (storage) => startRegistry({ server: { body_limit_mb: 1 }, storage }));
  for (const [name, v] of [['pkg', '1.0.0'], ['@scope/pkg', '1.0.0'], ['pkg', '1.1.0']] as const) {
    const res = await fetch(`${r.url}/npm/${name.replace('/', '%2f')}`, { method: 'PUT', ...json(publishDoc(name, v, tgz(`${name}@${v}`))) });
    t.equal(res.status, 201, `publish ${name}@${v}: ${await res.text()}`);
  }
  const beta = await fetch(`${r.url}/npm/-/package/pkg/dist-tags/beta`, { method: 'PUT', ...json('1.0.0') });
  t.equal(beta.status, 201);
  const rev = ((await (await fetch(`${r.url}/npm/pkg?write=true`)).json()) as { _rev: string })._rev;
  const tg = await target(r, store, 'npm');

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
  await intact(t, tg, 'npm');
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

test('PyPI', async (t, mode) => {
  const { r, store } = await startOn(t, mode, 'hostile-pypi', (storage) => startRegistry({ server: { body_limit_mb: 1 }, storage }));
  const sdist = Buffer.from('an sdist the index never opens'.repeat(10));
  const up = await fetch(`${r.url}/pypi/`, { method: 'POST', ...multipart(form(uploadFields('demo-pkg', '1.0', sdist), { filename: 'demo-pkg-1.0.tar.gz', data: sdist })) });
  t.equal(up.status, 200, await up.text());
  const tg = await target(r, store, 'pypi');

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
  await intact(t, tg, 'PyPI');
});

function decodeSafe(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

// ---- Cargo and raw files ------------------------------------------------------

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

test('Cargo', async (t, mode) => {
  const { r, store } = await startOn(t, mode, 'hostile-cargo', (storage) => startRegistry({ server: { body_limit_mb: 1 }, storage }));
  const crate = Buffer.from('a .crate nobody unpacks'.repeat(20));
  t.equal((await publish(r.url, publishBody(publishMeta('demo-crate', '1.0.0'), crate))).status, 200);
  const tg = await target(r, store, 'cargo');

  const positions: ((p: string) => RawRequest)[] = [
    (p) => ({ method: 'GET', target: `/cargo/index/de/mo/${p}` }),
    (p) => ({ method: 'GET', target: `/cargo/index/${p}` }),
    (p) => ({ method: 'GET', target: `/cargo/index/${p}/demo-crate` }),
    (p) => ({ method: 'GET', target: `/cargo/api/v1/crates/${p}/1.0.0/download` }),
    (p) => ({ method: 'GET', target: `/cargo/api/v1/crates/demo-crate/${p}/download` }),
    (p) => ({ method: 'DELETE', target: `/cargo/api/v1/crates/${p}/1.0.0/yank` }),
    (p) => ({ method: 'PUT', target: `/cargo/api/v1/crates/demo-crate/${p}/unyank` }),
    (p) => ({ method: 'GET', target: `/cargo/api/v1/crates/${p}/owners` }),
    (p) => ({ method: 'PUT', target: '/cargo/api/v1/crates/new', body: publishBody(publishMeta(decodeSafe(p), '1.0.1'), crate) }),
    (p) => ({ method: 'PUT', target: '/cargo/api/v1/crates/new', body: publishBody(publishMeta('demo-crate', decodeSafe(p)), crate) }),
    (p) => ({ method: 'PUT', target: '/cargo/api/v1/crates/new', body: publishBody(publishMeta('demo-crate', '1.0.2', { deps: [{ name: decodeSafe(p), version_req: '1', features: [], optional: false, default_features: true, target: null, kind: 'normal' }] }), crate) }),
  ];
  for (const p of TRAVERSAL) for (const make of positions) await expectRefused(t, tg, 'cargo traversal', p.slice(0, 30), make(p));
  for (const k of PROTO_KEYS) {
    await expectRefused(t, tg, 'cargo prototype keys', k, { method: 'GET', target: `/cargo/api/v1/crates/demo-crate/${k}/download` });
    await expectRefused(t, tg, 'cargo prototype keys', k, { method: 'PUT', target: '/cargo/api/v1/crates/new', body: publishBody(publishMeta('demo-crate', '1.0.3', { features: { [k]: 5 } }), crate) });
  }
  const meta = Buffer.from(JSON.stringify(publishMeta('demo-crate', '2.0.0')));
  const malformed: [string, Buffer | string, number[]?][] = [
    ['empty body', ''],
    ['three bytes', 'abc'],
    ['metadata length of 4 GiB', Buffer.concat([u32(0xffffffff), meta])],
    ['metadata longer than the body', Buffer.concat([u32(meta.length + 100), meta])],
    ['metadata not JSON', Buffer.concat([u32(5), Buffer.from('{{{{{'), u32(crate.length), crate])],
    ['metadata a JSON array', Buffer.concat([u32(2), Buffer.from('[]'), u32(crate.length), crate])],
    ['no .crate length', Buffer.concat([u32(meta.length), meta])],
    ['.crate length of 4 GiB', Buffer.concat([u32(meta.length), meta, u32(0xffffffff), crate])],
    ['.crate shorter than declared', Buffer.concat([u32(meta.length), meta, u32(crate.length + 10), crate])],
    ['bytes after the .crate', Buffer.concat([u32(meta.length), meta, u32(crate.length), crate, Buffer.from('trailing')])],
    ['empty .crate', Buffer.concat([u32(meta.length), meta, u32(0)])],
    ['deps not a list', publishBody(publishMeta('demo-crate', '2.0.0', { deps: 'serde' }), crate)],
    ['dependency without version_req', publishBody(publishMeta('demo-crate', '2.0.0', { deps: [{ name: 'serde' }] }), crate)],
    ['unknown dependency kind', publishBody(publishMeta('demo-crate', '2.0.0', { deps: [{ name: 'serde', version_req: '1', kind: 'runtime' }] }), crate)],
    ['version not SemVer', publishBody(publishMeta('demo-crate', '1.0'), crate)],
    ['name starting with a digit', publishBody(publishMeta('9lives', '1.0.0'), crate)],
    ['name of 65 characters', publishBody(publishMeta('a'.repeat(65), '1.0.0'), crate)],
    ['existing version', publishBody(publishMeta('demo-crate', '1.0.0'), crate), [409]],
    ['existing version, other spelling', publishBody(publishMeta('Demo_Crate', '1.0.0'), crate), [409]],
  ];
  for (const [label, body, status] of malformed) await expectRefused(t, tg, 'cargo malformed', label, { method: 'PUT', target: '/cargo/api/v1/crates/new', body }, status);
  await expectRefused(t, tg, 'cargo malformed', 'declared Content-Length beyond the body limit', { method: 'PUT', target: '/cargo/api/v1/crates/new', headers: { 'content-length': '999999999' }, body: 'x' }, [413]);
  await intact(t, tg, 'Cargo');
});

test('raw files', async (t, mode) => {
  const { r, store } = await startOn(t, mode, 'hostile-raw', (storage) => startRegistry({ raw: { max_file_size: 4096 }, storage }));
  t.equal((await fetch(`${r.url}/raw/dir/kept.txt`, { method: 'PUT', body: 'kept' })).status, 201);
  const tg = await target(r, store, 'raw');
  const positions: ((p: string) => RawRequest)[] = [
    (p) => ({ method: 'PUT', target: `/raw/${p}`, body: 'x' }),
    (p) => ({ method: 'PUT', target: `/raw/dir/${p}/x.txt`, body: 'x' }),
    (p) => ({ method: 'PUT', target: `/raw/${p}/dir/kept.txt`, body: 'x' }),
    (p) => ({ method: 'GET', target: `/raw/${p}/storage/tmp` }),
    (p) => ({ method: 'GET', target: `/raw/dir/${p}/` }),
    (p) => ({ method: 'HEAD', target: `/raw/dir/${p}` }),
    (p) => ({ method: 'DELETE', target: `/raw/${p}/dir/kept.txt` }),
    (p) => ({ method: 'DELETE', target: `/raw/dir/${p}` }),
  ];
  // Long names are valid paths, and so is %252e%252e (decoded once, the literal name "%2e%2e"): only the rest here.
  for (const p of TRAVERSAL.filter((x) => !/^[xy]+$/.test(x) && x !== '%252e%252e')) for (const make of positions) await expectRefused(t, tg, 'raw traversal', p.slice(0, 30), make(p));
  const hostile: [string, RawRequest, number[]?][] = [
    ['key of 5000 characters', { method: 'PUT', target: `/raw/${'k'.repeat(5000)}`, body: 'x' }, [400]],
    ['non-ASCII key', { method: 'PUT', target: '/raw/%C3%A9t%C3%A9.txt', body: 'x' }, [400]],
    ['space in key', { method: 'PUT', target: '/raw/a%20b', body: 'x' }, [400]],
    ['empty segment', { method: 'PUT', target: '/raw/dir//kept.txt', body: 'x' }, [400]],
    ['file below a file', { method: 'PUT', target: '/raw/dir/kept.txt/x', body: 'x' }, [409]],
    ['file over a directory', { method: 'PUT', target: '/raw/dir', body: 'x' }, [409]],
    ['PUT to a directory path', { method: 'PUT', target: '/raw/dir/', body: 'x' }, [400]],
    ['overwrite without If-Match', { method: 'PUT', target: '/raw/dir/kept.txt', body: 'x' }, [409]],
    ['declared length over max_file_size', { method: 'PUT', target: '/raw/dir/big', headers: { 'content-length': '999999999' }, body: 'x' }, [413]],
    ['chunked body over max_file_size', { method: 'PUT', target: '/raw/dir/big', headers: { 'transfer-encoding': 'chunked' }, body: `1001\r\n${'z'.repeat(4097)}\r\n0\r\n\r\n` }, [413]],
    ['If-None-Match other than *', { method: 'PUT', target: '/raw/dir/new', headers: { 'if-none-match': 'W/"x"' }, body: 'x' }, [400]],
    ['listing with a huge after', { method: 'GET', target: `/raw/dir/?after=${'%2e'.repeat(2000)}` }, [200]],
  ];
  for (const [label, req, status] of hostile) await expectRefused(t, tg, 'raw hostile', label, req, status);
  await intact(t, tg, 'raw');
});

// ---- Maven ------------------------------------------------------------------

test('Maven', async (t, mode) => {
  const { r, store } = await startOn(t, mode, 'hostile-maven', (storage) => startRegistry({ server: { body_limit_mb: 1 }, storage }));
  const base = '/maven2/com/example/demo/1.0';
  const jar = Buffer.from('a jar nobody opens'.repeat(10));
  t.equal((await fetch(`${r.url}${base}/demo-1.0.jar`, { method: 'PUT', body: jar })).status, 201);
  const tg = await target(r, store, 'maven');

  // Every segment of the layout, on reads, deploys and checksum deploys.
  const positions: ((p: string) => RawRequest)[] = [
    (p) => ({ method: 'GET', target: `/maven2/${p}/example/demo/1.0/demo-1.0.jar` }),
    (p) => ({ method: 'GET', target: `/maven2/com/${p}/demo/1.0/demo-1.0.jar` }),
    (p) => ({ method: 'HEAD', target: `/maven2/com/example/${p}/1.0/demo-1.0.jar` }),
    (p) => ({ method: 'GET', target: `${base}/${p}` }),
    (p) => ({ method: 'GET', target: `/maven2/com/example/${p}/maven-metadata.xml` }),
    (p) => ({ method: 'PUT', target: `/maven2/com/${p}/demo/1.0/demo-1.0.pom`, body: 'x' }),
    (p) => ({ method: 'PUT', target: `/maven2/com/example/demo/${p}/demo-${p}.jar`, body: 'x' }),
    (p) => ({ method: 'PUT', target: `${base}/${p}`, body: 'x' }),
    (p) => ({ method: 'PUT', target: `${base}/demo-1.0-${p}.jar`, body: 'x' }),
    (p) => ({ method: 'PUT', target: `${base}/${p}.sha1`, body: 'x' }),
    (p) => ({ method: 'PUT', target: `/maven2/${p}/maven-metadata.xml`, body: 'x' }),
  ];
  for (const p of [...TRAVERSAL, '/etc/passwd', '%2fetc%2fpasswd', 'C:%5cwin'])
    for (const make of positions) await expectRefused(t, tg, 'maven traversal', p.slice(0, 30), make(p));
  for (const k of PROTO_KEYS) {
    const reqs: RawRequest[] = [
      { method: 'GET', target: `${base}/${k}` },
      { method: 'GET', target: `${base}/${k}.sha1` },
      { method: 'PUT', target: `${base}/${k}.md5`, body: '0'.repeat(32) },
      { method: 'GET', target: `/maven2/com/example/${k}/maven-metadata.xml` },
    ];
    for (const req of reqs) await expectRefused(t, tg, 'maven prototype keys', k, req);
  }
  const malformed: [string, RawRequest, number[]?][] = [
    ['declared length over the body limit', { method: 'PUT', target: `${base}/demo-1.0-big.jar`, headers: { 'content-length': String(2 * 1024 * 1024) } }, [413]],
    ['declared length of 1 PB', { method: 'PUT', target: `${base}/demo-1.0-huge.jar`, headers: { 'content-length': '999999999' } }, [413]],
    ['checksum that is not hex', { method: 'PUT', target: `${base}/demo-1.0.jar.sha1`, body: 'not a checksum' }, [400]],
    ['checksum of the wrong length', { method: 'PUT', target: `${base}/demo-1.0.jar.sha256`, body: 'ab'.repeat(20) }, [400]],
    ['checksum that disagrees', { method: 'PUT', target: `${base}/demo-1.0.jar.sha1`, body: '0'.repeat(40) }, [400]],
    ['checksum body over 1 MiB', { method: 'PUT', target: `${base}/demo-1.0.jar.md5`, body: 'a'.repeat(1024 * 1024 + 1) }, [413]],
    ['release overwrite', { method: 'PUT', target: `${base}/demo-1.0.jar`, body: 'other bytes' }, [409]],
    ['file of another version', { method: 'PUT', target: `${base}/demo-2.0.jar`, body: 'x' }, [400]],
    ['too few segments', { method: 'PUT', target: '/maven2/demo/1.0/demo-1.0.jar', body: 'x' }, [400]],
    ['DELETE', { method: 'DELETE', target: `${base}/demo-1.0.jar` }, [405]],
    ['POST', { method: 'POST', target: `${base}/demo-1.0.jar`, body: 'x' }, [405]],
  ];
  for (const [label, req, status] of malformed) await expectRefused(t, tg, 'maven malformed', label, req, status);
  const res = await fetch(`${r.url}${base}/demo-1.0.jar`);
  t.ok(Buffer.from(await res.arrayBuffer()).equals(jar), 'the deployed jar is intact');
  await intact(t, tg, 'Maven');
});

// ---- token API and credentials ------------------------------------------------

test('token API and Authorization headers', async (t, mode) => {
  const { r, store } = await startOn(t, mode, 'hostile-tokens', (storage) => startAuthRegistry({}, USERS, {}, { storage }));
  const admin = await mint(r.url, 'admin', USERS.admin, 'admin');
  await mint(r.url, 'alice', USERS.alice, 'write');
  const tg = await target(r, store, 'tokens');
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
  // The failures above, as the lockout keeps them: in the shared store on S3 (one record for this client), in memory on local disk.
  const lockouts = async () => [...(await store.snapshot()).keys()].filter((k) => k.startsWith(LOCKOUT)).map((k) => k.slice(tokenEntry('').length));
  const records = await lockouts();
  if (mode.name === 'local') t.same(records, [], 'local storage: no lockout record in the store');
  else {
    t.equal(records.length, 1, 'shared storage: one lockout record, for the one client IP');
    const doc = (await store.tokens.get(records[0] ?? 'none'))?.data.toString('utf8') ?? '{}';
    t.same(Object.keys(JSON.parse(doc)).sort(), ['failures', 'last'], 'it holds a count and a time, nothing sent');
  }
  // After all that, the real admin token still works (no corruption), unless the IP is still locked out.
  const ok = await fetch(`${r.url}/v2/`, { headers: { authorization: `Bearer ${admin}` } });
  await ok.arrayBuffer();
  t.ok([200, 429].includes(ok.status), `admin token still accepted or the IP is locked out (${ok.status})`);
  if (ok.status === 200) t.same(await lockouts(), [], 'a success clears the record');
  await intact(t, tg, 'tokens');
});

test('hostile package cases total', async (t, mode) => {
  t.comment(`hostile npm/PyPI/Cargo/raw/Maven/token cases on ${mode.name} storage: ${cases} (${[...tally].map(([k, v]) => `${k} ${v}`).join(', ')})`);
  t.ok(cases > 0);
});
