// Hostile input on /v2/: every path parameter and query value gets traversal
// payloads (plain, encoded, double-encoded, NUL, backslashes, over-long), then
// digest confusion, oversized and malformed requests. Each case must get a 4xx
// in the OCI error shape and leave the data directory byte-for-byte as it was
// (snapshot of every stored object's size and sha256, read through the storage
// driver, before and after each case). The same cases run on every storage
// mode: hostile-docker.test.ts (local disk) and hostile-docker-s3.test.ts (S3).
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf, parseDigest } from '../../src/main/digest.js';
import { blobKey } from '../../src/main/storage/blobs.js';
import { UPLOADS } from '../../src/protocols/docker/upload-sessions.js';
import { startRegistry, type Running } from './registry.js';
import { OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST, encode, pushBlob, pushImage, type Pushed } from './oci-push.js';
import { rawHttp, type RawRequest, type RawResponse } from './raw-http.js';
import { diffSnapshots, tornObjects, type Snapshot, type StoreView } from './store-snapshot.js';
import { startOn, type StorageMode } from './storage-modes.js';

const MiB = 1024 * 1024;
const PWNED = `nora-pwned-${process.pid}`;

/** Path-parameter payloads, written as they go on the wire. None decodes to a valid name, tag, digest or uuid. */
const TRAVERSAL = [
  '..',
  '.',
  '%2e%2e',
  '%2E%2e',
  '.%2e',
  '%2e',
  '%252e%252e',
  '%252e%252e%252f' + PWNED,
  `..%2f..%2f..%2f${PWNED}`,
  '%2F%2F..%2F',
  `%2f..%2f..%2f${PWNED}`,
  `..%5c..%5c${PWNED}`,
  `..\\..\\${PWNED}`,
  '%5c%5c',
  '%00',
  'a%00b',
  `..%00${PWNED}`,
  '%c0%ae%c0%ae',
  '%e2%80%ae',
  '%ff%fe',
  'a%0d%0aX-Injected:%20yes',
  '~root',
  '%25',
  'a'.repeat(300),
  'b'.repeat(5000),
];

/** Valid as tags and uuids' neighbours, but never as repository names. */
const NAME_ONLY = ['UPPER', '_manifests', '_layers', 'a__-b', '-a', 'a.', 'a//b'];
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

interface Case {
  label: string;
  req: RawRequest;
  /** allowed statuses (default: any 4xx) */
  status?: number[];
  /** expected OCI error code(s) */
  code?: string[];
}

let r: Running;
let store: StoreView;
let img: Pushed;
let other: Pushed;
let layer: { digest: string; bytes: Buffer };
let before: Snapshot;
let cases = 0;
const tally = new Map<string, number>();

// Upload sessions (under _uploads/) and writers are scratch to the snapshot; they are checked separately.
const snap = () => store.snapshot();
/** Session documents and parts of the open upload sessions. */
const uploadObjects = () => store.keys(UPLOADS);

function isOciError(res: RawResponse): string | null {
  try {
    const body = JSON.parse(res.body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] };
    const e = body.errors?.[0];
    return e && typeof e.code === 'string' && typeof e.message === 'string' ? e.code : null;
  } catch {
    return null;
  }
}

async function expectRefused(t: Test, group: string, c: Case): Promise<RawResponse> {
  const res = await rawHttp(r.port, c.req, 5000);
  cases++;
  tally.set(group, (tally.get(group) ?? 0) + 1);
  const what = `${group}: ${c.label} (${c.req.method} ${c.req.target.slice(0, 120)})`;
  if (res.timedOut) t.fail(`${what}: no answer within 5 s`);
  const okStatus = c.status ? c.status.includes(res.status) : res.status >= 400 && res.status < 500;
  if (!okStatus) t.fail(`${what}: status ${res.status}`, { body: res.body.toString('utf8').slice(0, 300) });
  if (c.req.method !== 'HEAD' && res.status >= 400) {
    const code = isOciError(res);
    if (code === null) t.fail(`${what}: not an OCI error body`, { body: res.body.toString('utf8').slice(0, 300) });
    else if (c.code && !c.code.includes(code)) t.fail(`${what}: code ${code}, expected ${c.code.join('|')}`);
    if (res.headers['content-type'] !== 'application/json') t.fail(`${what}: content-type ${res.headers['content-type']}`);
  }
  if (res.status >= 400 && res.headers['x-injected'] !== undefined) t.fail(`${what}: header injection`);
  const diff = diffSnapshots(before, await snap());
  if (diff.length) t.fail(`${what}: stored data changed`, { diff });
  return res;
}

const manifestBody = () => ({ body: img.bytes, headers: { 'content-type': OCI_MANIFEST } });

/** The cases, registered by hostileDockerSuite on one registry of the mode's storage. */
const suite: [string, (t: Test) => Promise<void>][] = [];
const test = (name: string, fn: (t: Test) => Promise<void>) => void suite.push([name, fn]);

export function hostileDockerSuite(mode: StorageMode): void {
  if (mode.skip) return void t.plan(0, mode.skip);
  t.before(() => setUp(mode));
  for (const [name, fn] of suite) t.test(name, fn);
}

async function setUp(mode: StorageMode): Promise<void> {
  ({ r, store } = await startOn(t, mode, 'hostile-docker', (storage) => startRegistry({ server: { body_limit_mb: 1 }, storage })));
  img = await pushImage(r, 'lib/app', 'v1', { layers: 2 });
  await pushImage(r, 'lib/app', 'v2');
  other = await pushImage(r, 'lib/other', 'v1');
  const bytes = Buffer.from('a layer of lib/app used by the hostile tests');
  layer = { digest: (await pushBlob(r, 'lib/app', bytes)).digest, bytes };
  before = await snap();
  badLineResults = Promise.all(badLines.map((target) => rawHttp(r.port, { method: 'GET', target }, 30_000)));
}

test('path traversal in every path parameter and query value', async (t) => {
  const D = layer.digest;
  const M = img.digest;
  // A live session, so PUT ?digest=<payload> reaches digest parsing.
  const post = await fetch(`${r.url}/v2/lib/app/blobs/uploads/`, { method: 'POST' });
  const session = post.headers.get('location')!;
  t.equal(post.status, 202);

  const positions: ((p: string) => RawRequest)[] = [
    (p) => ({ method: 'GET', target: `/v2/${p}/tags/list` }),
    (p) => ({ method: 'GET', target: `/v2/${p}/manifests/v1` }),
    (p) => ({ method: 'HEAD', target: `/v2/${p}/manifests/v1` }),
    (p) => ({ method: 'PUT', target: `/v2/${p}/manifests/v1`, ...manifestBody() }),
    (p) => ({ method: 'DELETE', target: `/v2/${p}/manifests/v1` }),
    (p) => ({ method: 'GET', target: `/v2/${p}/blobs/${D}` }),
    (p) => ({ method: 'DELETE', target: `/v2/${p}/blobs/${D}` }),
    (p) => ({ method: 'POST', target: `/v2/${p}/blobs/uploads/` }),
    (p) => ({ method: 'POST', target: `/v2/${p}/blobs/uploads/?digest=${D}`, body: layer.bytes }),
    (p) => ({ method: 'GET', target: `/v2/${p}/referrers/${M}` }),
    (p) => ({ method: 'GET', target: `/v2/lib/${p}/app/manifests/v1` }),
    (p) => ({ method: 'PUT', target: `/v2/lib/${p}/app/manifests/v1`, ...manifestBody() }),
    (p) => ({ method: 'GET', target: `/v2/lib/app/manifests/${p}` }),
    (p) => ({ method: 'HEAD', target: `/v2/lib/app/manifests/${p}` }),
    (p) => ({ method: 'PUT', target: `/v2/lib/app/manifests/${p}`, ...manifestBody() }),
    (p) => ({ method: 'DELETE', target: `/v2/lib/app/manifests/${p}` }),
    (p) => ({ method: 'GET', target: `/v2/lib/app/blobs/${p}` }),
    (p) => ({ method: 'GET', target: `/v2/lib/app/blobs/sha256:${p}` }),
    (p) => ({ method: 'DELETE', target: `/v2/lib/app/blobs/${p}` }),
    (p) => ({ method: 'GET', target: `/v2/lib/app/referrers/${p}` }),
    (p) => ({ method: 'GET', target: `/v2/lib/app/blobs/uploads/${p}` }),
    (p) => ({ method: 'PATCH', target: `/v2/lib/app/blobs/uploads/${p}`, body: 'chunk' }),
    (p) => ({ method: 'PUT', target: `/v2/lib/app/blobs/uploads/${p}?digest=${D}`, body: layer.bytes }),
    (p) => ({ method: 'DELETE', target: `/v2/lib/app/blobs/uploads/${p}` }),
    (p) => ({ method: 'POST', target: `/v2/lib/app/blobs/uploads/?digest=${p}`, body: layer.bytes }),
    (p) => ({ method: 'POST', target: `/v2/lib/app/blobs/uploads/?digest=sha256:${p}`, body: layer.bytes }),
    (p) => ({ method: 'POST', target: `/v2/lib/app/blobs/uploads/?mount=${p}&from=lib/other` }),
    (p) => ({ method: 'POST', target: `/v2/lib/fresh/blobs/uploads/?mount=${other.digest}&from=${p}` }),
    (p) => ({ method: 'POST', target: `/v2/lib/app/blobs/uploads/?digest-algorithm=${p}` }),
    (p) => ({ method: 'PUT', target: `${session}?digest=${p}`, body: '' }),
  ];
  for (const p of TRAVERSAL) {
    for (const make of positions) {
      await expectRefused(t, 'traversal', { label: p.slice(0, 40), req: make(p) });
    }
  }
  for (const p of NAME_ONLY) {
    for (const make of positions.slice(0, 12)) {
      await expectRefused(t, 'traversal', { label: p, req: make(p) });
    }
  }

  // Cursors are compared, never used as paths: a payload there is just a cursor.
  for (const p of TRAVERSAL) {
    for (const target of [`/v2/lib/app/tags/list?last=${p}`, `/v2/_catalog?last=${p}`]) {
      const res = await rawHttp(r.port, { method: 'GET', target });
      cases++;
      tally.set('traversal', (tally.get('traversal') ?? 0) + 1);
      t.equal(res.status, 200, `cursor ${target.slice(0, 80)}`);
      const body = JSON.parse(res.body.toString('utf8')) as { tags?: string[]; repositories?: string[] };
      const names = body.tags ?? body.repositories ?? [];
      t.ok(names.every((n) => ['v1', 'v2', 'lib/app', 'lib/other'].includes(n)), 'only real entries listed');
    }
  }
  // A traversal payload in the JSON body: descriptor digests are parsed, never used as paths.
  for (const p of TRAVERSAL) {
    const doc = JSON.parse(img.bytes.toString()) as { layers: { digest: string }[] };
    let decoded = p;
    try {
      decoded = decodeURIComponent(p);
    } catch {
      /* keep it as sent */
    }
    doc.layers[0]!.digest = `sha256:${decoded.slice(0, 400)}`;
    await expectRefused(t, 'traversal', {
      label: `layer digest ${p.slice(0, 30)}`,
      req: { method: 'PUT', target: '/v2/lib/app/manifests/v9', body: JSON.stringify(doc), headers: { 'content-type': OCI_MANIFEST } },
      code: ['MANIFEST_INVALID'],
    });
  }
  await fetch(`${r.url}${session}`, { method: 'DELETE' });

  for (const dir of [tmpdir(), join(tmpdir(), '..'), '/', process.cwd(), r.dir, r.config.storage.path]) {
    t.notOk(existsSync(join(dir, PWNED)), `nothing written at ${dir}`);
  }
});

// Raw control bytes and spaces in the request target never parse as HTTP: the
// server answers nothing and drops the connection (at the latest when its idle
// timeout fires, ~10 s), and no handler runs. Started early, checked later, so
// the idle wait overlaps the other tests.
const badLines = ['/v2/a\x00b/tags/list', '/v2/lib/app/manifests/v1\x00', '/v2/a\x01b/tags/list', '/v2/lib app/tags/list', '/v2/lib/app/blobs/uploads/\r'];
let badLineResults: Promise<RawResponse[]>;

test('request lines uWebSockets.js refuses are closed without reaching a handler', async (t) => {
  const lines = badLines;
  const results = await badLineResults;
  for (const [i, res] of results.entries()) {
    cases++;
    tally.set('malformed', (tally.get('malformed') ?? 0) + 1);
    t.notOk(res.timedOut, `${JSON.stringify(lines[i])}: connection closed by the server`);
    t.ok(res.status === 0 || (res.status >= 400 && res.status < 500), `${JSON.stringify(lines[i])}: no answer or a 4xx (${res.status})`);
  }
  t.same(diffSnapshots(before, await snap()), [], 'nothing changed');
});

test('digest confusion', async (t) => {
  const hex = layer.digest.slice(7);
  const badDigests = [
    ['md5', 'md5:d41d8cd98f00b204e9800998ecf8427e'],
    ['upper-case hex', `sha256:${hex.toUpperCase()}`],
    ['upper-case algorithm', `SHA256:${hex}`],
    ['short', `sha256:${hex.slice(0, 63)}`],
    ['long', `sha256:${hex}0`],
    ['sha384', `sha384:${'a'.repeat(96)}`],
    ['sha512 with 64 hex', `sha512:${hex}`],
    ['not hex', `sha256:${'g'.repeat(64)}`],
    ['dash separator', `sha256-${hex}`],
    ['bare hex', hex],
    ['double colon', `sha256::${hex}`],
    ['trailing NUL', `sha256:${hex}%00`],
    ['empty', 'sha256:'],
    ['base64', `sha256:${Buffer.from(hex, 'hex').toString('base64url')}`],
  ];
  for (const [label, d] of badDigests) {
    await expectRefused(t, 'digest', { label: `blob GET ${label}`, req: { method: 'GET', target: `/v2/lib/app/blobs/${d}` } });
    await expectRefused(t, 'digest', { label: `blob HEAD ${label}`, req: { method: 'HEAD', target: `/v2/lib/app/blobs/${d}` } });
    // Some of these are valid tags ("sha256-<hex>", bare hex): by tag they are just unknown or a new tag.
    if (!TAG_RE.test(d!)) {
      await expectRefused(t, 'digest', { label: `manifest GET ${label}`, req: { method: 'GET', target: `/v2/lib/app/manifests/${d}` } });
      await expectRefused(t, 'digest', {
        label: `manifest PUT ${label}`,
        req: { method: 'PUT', target: `/v2/lib/app/manifests/${d}`, ...manifestBody() },
      });
    }
    await expectRefused(t, 'digest', {
      label: `single POST ${label}`,
      req: { method: 'POST', target: `/v2/lib/app/blobs/uploads/?digest=${d}`, body: layer.bytes },
    });
    await expectRefused(t, 'digest', { label: `referrers ${label}`, req: { method: 'GET', target: `/v2/lib/app/referrers/${d}` } });
  }

  const wrong = digestOf(Buffer.from('other bytes'));
  await expectRefused(t, 'digest', {
    label: 'single POST: bytes do not match the digest',
    req: { method: 'POST', target: `/v2/lib/app/blobs/uploads/?digest=${wrong}`, body: layer.bytes },
    code: ['DIGEST_INVALID'],
  });
  const sha512 = digestOf(layer.bytes, 'sha512');
  await expectRefused(t, 'digest', {
    label: 'single POST: right bytes, other algorithm and wrong value',
    req: { method: 'POST', target: `/v2/lib/app/blobs/uploads/?digest=sha512:${'0'.repeat(128)}`, body: layer.bytes },
    code: ['DIGEST_INVALID'],
  });
  t.ok(sha512.startsWith('sha512:'));
  // Chunked session closed with the wrong digest: refused, nothing stored, session gone.
  const post = await fetch(`${r.url}/v2/lib/app/blobs/uploads/`, { method: 'POST' });
  const loc = post.headers.get('location')!;
  await expectRefused(t, 'digest', {
    label: 'session PUT: bytes do not match the digest',
    req: { method: 'PUT', target: `${loc}?digest=${wrong}`, body: layer.bytes },
    code: ['DIGEST_INVALID'],
  });
  t.equal((await fetch(`${r.url}${loc}`)).status, 404, 'the session is over after a failed verification');

  const manifestBytes = img.bytes;
  await expectRefused(t, 'digest', {
    label: 'manifest PUT by a digest its bytes do not have',
    req: { method: 'PUT', target: `/v2/lib/app/manifests/${other.digest}`, body: manifestBytes, headers: { 'content-type': OCI_MANIFEST } },
    code: ['DIGEST_INVALID'],
  });
  await expectRefused(t, 'digest', {
    label: 'manifest PUT by its sha512 in upper case',
    req: { method: 'PUT', target: `/v2/lib/app/manifests/${digestOf(manifestBytes, 'sha512').toUpperCase()}`, body: manifestBytes, headers: { 'content-type': OCI_MANIFEST } },
  });

  const doc = JSON.parse(manifestBytes.toString()) as Record<string, any>;
  const variants: [string, Record<string, unknown>, string][] = [
    ['Content-Type index, body says manifest', doc, OCI_INDEX],
    ['Content-Type docker manifest, body says OCI manifest', doc, DOCKER_MANIFEST],
    ['mediaType docker, Content-Type OCI', { ...doc, mediaType: DOCKER_MANIFEST }, OCI_MANIFEST],
    ['layer digest upper case', { ...doc, layers: [{ ...doc.layers[0], digest: doc.layers[0].digest.toUpperCase() }] }, OCI_MANIFEST],
    ['layer digest md5', { ...doc, layers: [{ ...doc.layers[0], digest: 'md5:d41d8cd98f00b204e9800998ecf8427e' }] }, OCI_MANIFEST],
    ['config digest missing', { ...doc, config: { ...doc.config, digest: undefined } }, OCI_MANIFEST],
    ['layer of another repository', { ...doc, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: JSON.parse(other.bytes.toString()).layers[0].digest, size: 10 }] }, OCI_MANIFEST],
    ['layer never pushed', { ...doc, layers: [{ ...doc.layers[0], digest: wrong }] }, OCI_MANIFEST],
    ['size negative', { ...doc, layers: [{ ...doc.layers[0], size: -1 }] }, OCI_MANIFEST],
    ['size not an integer', { ...doc, layers: [{ ...doc.layers[0], size: 1.5 }] }, OCI_MANIFEST],
    ['size a string', { ...doc, layers: [{ ...doc.layers[0], size: '12' }] }, OCI_MANIFEST],
    ['size beyond 2^53', { ...doc, layers: [{ ...doc.layers[0], size: 2 ** 60 }] }, OCI_MANIFEST],
    ['schemaVersion 1', { ...doc, schemaVersion: 1 }, OCI_MANIFEST],
    ['schemaVersion missing', { ...doc, schemaVersion: undefined }, OCI_MANIFEST],
    ['both layers and manifests', { ...doc, manifests: [] }, OCI_MANIFEST],
    ['subject with a bad digest', { ...doc, subject: { mediaType: OCI_MANIFEST, digest: 'sha256:zz', size: 1 } }, OCI_MANIFEST],
    ['unknown media type', { ...doc, mediaType: 'application/x-evil' }, 'application/x-evil'],
    ['schema1 media type', { ...doc, mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' }, 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
    ['index with a missing child', { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: wrong, size: 10 }] }, OCI_INDEX],
    ['index with a child of another repository', { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: other.digest, size: other.size }] }, OCI_INDEX],
    ['index with layers', { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], layers: [] }, OCI_INDEX],
    ['index whose manifests is an object', { schemaVersion: 2, mediaType: OCI_INDEX, manifests: { a: 1 } }, OCI_INDEX],
  ];
  for (const [label, body, ct] of variants) {
    const m = encode(body, ct);
    for (const ref of ['v1', 'fresh', m.digest]) {
      await expectRefused(t, 'digest', {
        label: `${label} (${ref.slice(0, 12)})`,
        req: { method: 'PUT', target: `/v2/lib/app/manifests/${ref}`, body: m.bytes, headers: { 'content-type': ct } },
        code: ['MANIFEST_INVALID', 'MANIFEST_BLOB_UNKNOWN', 'DIGEST_INVALID'],
      });
    }
  }
});

test('oversized requests', async (t) => {
  const big = Buffer.alloc(4 * MiB + 1, 0x20);
  big.write('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","x":"', 0);
  await expectRefused(t, 'oversized', {
    label: 'manifest of 4 MiB + 1',
    req: { method: 'PUT', target: '/v2/lib/app/manifests/v1', body: big, headers: { 'content-type': OCI_MANIFEST } },
    status: [413],
    code: ['MANIFEST_INVALID'],
  });
  await expectRefused(t, 'oversized', {
    label: 'manifest announcing 100 TB',
    req: { method: 'PUT', target: '/v2/lib/app/manifests/v1', body: img.bytes, headers: { 'content-type': OCI_MANIFEST, 'content-length': '100000000' } },
    status: [413],
  });
  // uWebSockets.js 20.30 drops, at once and without an answer, any request whose
  // Content-Length has 10 or more digits (≥ 1e9 bytes); a handler never runs.
  for (const cl of ['1000000000', '100000000000000', '99999999999999999999999']) {
    const res = await rawHttp(r.port, { method: 'PUT', target: '/v2/lib/app/manifests/v1', body: img.bytes, headers: { 'content-length': cl } });
    cases++;
    tally.set('oversized', (tally.get('oversized') ?? 0) + 1);
    t.ok(res.status === 0 || res.status === 413, `Content-Length ${cl}: dropped or 413 (${res.status})`);
    t.notOk(res.timedOut, 'answered or closed at once');
  }
  // body_limit_mb is 1 in this registry.
  const blob = Buffer.alloc(MiB + 1, 7);
  await expectRefused(t, 'oversized', {
    label: 'single POST over body_limit_mb',
    req: { method: 'POST', target: `/v2/lib/app/blobs/uploads/?digest=${digestOf(blob)}`, body: blob },
    status: [413],
    code: ['SIZE_INVALID'],
  });
  await expectRefused(t, 'oversized', {
    label: 'single POST over body_limit_mb, chunked encoding',
    req: {
      method: 'POST',
      target: `/v2/lib/app/blobs/uploads/?digest=${digestOf(blob)}`,
      body: Buffer.concat([Buffer.from(`${blob.length.toString(16)}\r\n`), blob, Buffer.from('\r\n0\r\n\r\n')]),
      headers: { 'transfer-encoding': 'chunked' },
    },
    status: [413],
    code: ['SIZE_INVALID'],
  });
  const post = await fetch(`${r.url}/v2/lib/app/blobs/uploads/`, { method: 'POST' });
  const loc = post.headers.get('location')!;
  await fetch(`${r.url}${loc}`, { method: 'PATCH', body: Buffer.alloc(MiB - 10, 1) });
  for (const [label, body, headers] of [
    ['PATCH past body_limit_mb', Buffer.alloc(20, 1), {}],
    ['PATCH announcing 900 MB', Buffer.alloc(20, 1), { 'content-length': '900000000' }],
    ['PUT past body_limit_mb', Buffer.alloc(20, 1), {}],
  ] as const) {
    const method = label.startsWith('PUT') ? 'PUT' : 'PATCH';
    const target = method === 'PUT' ? `${loc}?digest=${digestOf(Buffer.alloc(MiB + 10, 1))}` : loc;
    await expectRefused(t, 'oversized', { label, req: { method, target, body, headers: { ...headers } }, status: [413] });
    const status = await fetch(`${r.url}${loc}`);
    t.equal(status.headers.get('range'), `0-${MiB - 11}`, `${label}: the session kept only its accepted bytes`);
  }
  await fetch(`${r.url}${loc}`, { method: 'DELETE' });

  // Header sizes: a clear 431 up to what uWebSockets.js buffers; beyond, it drops the connection.
  for (const size of [70 * 1024, 100 * 1024]) {
    await expectRefused(t, 'oversized', {
      label: `${size} bytes of headers`,
      req: { method: 'GET', target: '/v2/lib/app/manifests/v1', headers: { 'x-filler': 'a'.repeat(size) } },
      status: [431],
    });
  }
  for (const size of [1 * MiB, 8 * MiB]) {
    const res = await rawHttp(r.port, { method: 'GET', target: '/v2/', headers: { 'x-filler': 'a'.repeat(size) } });
    cases++;
    tally.set('oversized', (tally.get('oversized') ?? 0) + 1);
    t.ok(res.status === 0 || res.status === 431, `${size} bytes of headers: dropped or 431 (${res.status})`);
    t.notOk(res.timedOut, 'connection closed at once');
  }
  t.same(diffSnapshots(before, await snap()), [], 'nothing changed');

  // n is capped, never sizes an allocation: a huge n answers one capped page fast.
  for (const n of ['1000000000', '99999999999999999999999999']) {
    for (const target of [`/v2/_catalog?n=${n}`, `/v2/lib/app/tags/list?n=${n}`]) {
      const res = await rawHttp(r.port, { method: 'GET', target });
      cases++;
      tally.set('oversized', (tally.get('oversized') ?? 0) + 1);
      t.equal(res.status, 200, `${target}: one capped page`);
      const body = JSON.parse(res.body.toString()) as { tags?: string[]; repositories?: string[] };
      t.ok((body.tags ?? body.repositories)!.length <= 1000);
    }
  }
  for (const n of ['-1', '1e9', '0x10', 'abc', '1.5', '%00']) {
    for (const target of [`/v2/_catalog?n=${n}`, `/v2/lib/app/tags/list?n=${n}`]) {
      await expectRefused(t, 'malformed', { label: `n=${n}`, req: { method: 'GET', target }, code: ['PAGINATION_NUMBER_INVALID'] });
    }
  }
});

test('thousands of upload sessions from one client hit the per-client cap', async (t) => {
  const cap = r.config.docker.max_upload_sessions_per_client;
  const statuses = new Map<number, number>();
  const locations: string[] = [];
  let retryAfter = true;
  let next = 0;
  const total = 2000;
  const worker = async () => {
    while (next < total) {
      next++;
      const res = await fetch(`${r.url}/v2/lib/app/blobs/uploads/`, { method: 'POST' });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 202) locations.push(res.headers.get('location')!);
      if (res.status === 429) {
        if (!res.headers.get('retry-after')) retryAfter = false;
        if (!text.includes('TOOMANYREQUESTS')) t.fail('429 without TOOMANYREQUESTS');
      }
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  cases += total;
  tally.set('oversized', (tally.get('oversized') ?? 0) + total);
  t.equal(statuses.get(202), cap, `exactly ${cap} sessions opened`);
  t.equal(statuses.get(429), total - cap, 'every other POST answered 429');
  t.ok(retryAfter, 'every 429 says Retry-After');
  const open = await uploadObjects();
  t.equal(open.filter((o) => o.key.endsWith('session.json')).length, cap, 'one session document per open session, no more');
  t.same(open.filter((o) => !o.key.endsWith('session.json')), [], 'sessions without chunks hold no data');
  await Promise.all(locations.map((l) => fetch(`${r.url}${l}`, { method: 'DELETE' }).then((x) => x.arrayBuffer())));
  t.same(await uploadObjects(), [], 'cancelled sessions leave no objects');
  t.equal(await store.writers(), 0, 'and no writers');
  const again = await fetch(`${r.url}/v2/lib/app/blobs/uploads/`, { method: 'POST' });
  t.equal(again.status, 202, 'the client can open sessions again once its others are gone');
  await fetch(`${r.url}${again.headers.get('location')}`, { method: 'DELETE' });
  t.same(diffSnapshots(before, await snap()), [], 'nothing changed');
});

test('malformed Range on blob GET: whole body, a correct slice or 416, never more', async (t) => {
  const size = layer.bytes.length;
  const headers = [
    'bytes=abc',
    'bytes=5-1',
    'bytes=-0',
    'bytes=0-0,2-3',
    'items=0-1',
    'bytes=99999999999999999999-',
    'bytes=-99999999999999999999',
    `bytes=${size}-`,
    'bytes= 0-1',
    'bytes=0--1',
    'bytes=--1',
    'bytes=-',
    'bytes=0x1-2',
    'bytes=1-2%00',
    '\u00ffbytes=0-1',
    'bytes=0-1'.repeat(1000),
  ];
  for (const h of headers) {
    const res = await rawHttp(r.port, { method: 'GET', target: `/v2/lib/app/blobs/${layer.digest}`, headers: { range: h } });
    cases++;
    tally.set('malformed', (tally.get('malformed') ?? 0) + 1);
    const label = `Range: ${h.slice(0, 40)}`;
    if (res.status === 200) t.ok(res.body.equals(layer.bytes), `${label}: whole blob`);
    else if (res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers['content-range'] ?? '');
      t.ok(m && res.body.equals(layer.bytes.subarray(Number(m[1]), Number(m[2]) + 1)), `${label}: the slice it names`);
    } else {
      t.equal(res.status, 416, `${label}: 200, 206 or 416`);
      t.equal(res.headers['content-range'], `bytes */${size}`);
    }
  }
  t.same(diffSnapshots(before, await snap()), [], 'nothing changed');
});

test('malformed Content-Range on PATCH leaves the session as it was', async (t) => {
  const post = await fetch(`${r.url}/v2/lib/app/blobs/uploads/`, { method: 'POST' });
  const loc = post.headers.get('location')!;
  const first = await fetch(`${r.url}${loc}`, { method: 'PATCH', body: 'hello', headers: { 'content-range': '0-4' } });
  t.equal(first.status, 202);
  const bad: [string, string, number[]][] = [
    ['abc', 'xx', [400]],
    ['5-1', 'xx', [400]],
    ['-1-5', 'xxxxxxx', [400]],
    ['5-99999999999999999999', 'xx', [400]],
    ['0-1', 'xx', [416]],
    ['6-7', 'xx', [416]],
    ['5-6', 'xxx', [400]],
    ['5-9', 'xx', [400]],
    ['bytes 5-6/*x', 'xx', [400]],
    ['bytes=5-6', 'xx', [400]],
    [' 5 - 6 ', 'xx', [400]],
    ['5-6, 7-8', 'xx', [400]],
    ['0x5-0x6', 'xx', [400]],
  ];
  for (const [h, body, status] of bad) {
    await expectRefused(t, 'malformed', {
      label: `Content-Range: ${h}`,
      req: { method: 'PATCH', target: loc, body, headers: { 'content-range': h } },
      status,
      code: ['BLOB_UPLOAD_INVALID', 'SIZE_INVALID'],
    });
    const s = await fetch(`${r.url}${loc}`);
    t.equal(s.headers.get('range'), '0-4', `after Content-Range ${h}: still 5 bytes`);
  }
  const parts = (await uploadObjects()).filter((o) => !o.key.endsWith('session.json'));
  t.equal(parts.length, 1, 'one stored part: the accepted chunk');
  t.equal(parts[0]?.size, 5, 'the stored part holds only accepted bytes');
  const rest = Buffer.from(' world');
  const ok = await fetch(`${r.url}${loc}?digest=${digestOf(Buffer.from('hello world'))}`, { method: 'PUT', body: rest, headers: { 'content-range': '5-10' } });
  t.equal(ok.status, 201, 'the session still completes correctly');
  // That blob is now stored and linked: the new baseline.
  before = await snap();
});

test('malformed manifest JSON', async (t) => {
  const bodies: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['truncated', Buffer.from('{"schemaVersion":2,')],
    ['array', Buffer.from('[]')],
    ['null', Buffer.from('null')],
    ['number', Buffer.from('2')],
    ['string', Buffer.from('"manifest"')],
    ['deep nesting', Buffer.from('['.repeat(100_000) + ']'.repeat(100_000))],
    ['unterminated nesting', Buffer.from('{"a":'.repeat(50_000))],
    ['invalid UTF-8', Buffer.concat([Buffer.from('{"schemaVersion":2,"mediaType":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])],
    ['NUL bytes', Buffer.from('{"schemaVersion":2\0}')],
    ['__proto__ pollution', Buffer.from(`{"__proto__":{"polluted":true},"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":{"__proto__":{"digest":"sha256:${'0'.repeat(64)}"}},"layers":[]}`)],
    ['constructor keys', Buffer.from(`{"constructor":{"prototype":{"x":1}},"schemaVersion":2,"mediaType":"${OCI_INDEX}","manifests":[{"constructor":1}]}`)],
    ['huge number', Buffer.from(`{"schemaVersion":2e308,"mediaType":"${OCI_MANIFEST}"}`)],
    ['layers is a string', Buffer.from(`{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":${JSON.stringify(JSON.parse(img.bytes.toString()).config)},"layers":"x"}`)],
    ['annotations not strings', Buffer.from(JSON.stringify({ ...JSON.parse(img.bytes.toString()), annotations: { a: 1 } }))],
    ['urls not strings', Buffer.from(JSON.stringify({ ...JSON.parse(img.bytes.toString()), layers: [{ ...JSON.parse(img.bytes.toString()).layers[0], urls: [1] }] }))],
  ];
  for (const [label, body] of bodies) {
    for (const ct of [OCI_MANIFEST, 'application/json', undefined]) {
      const headers: Record<string, string> = ct ? { 'content-type': ct } : {};
      await expectRefused(t, 'malformed', {
        label: `${label} (${ct ?? 'no content-type'})`,
        req: { method: 'PUT', target: '/v2/lib/app/manifests/v1', body, headers },
        code: ['MANIFEST_INVALID', 'MANIFEST_BLOB_UNKNOWN'],
      });
    }
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
});

test('after everything: stored data intact, no stray temp files', async (t) => {
  t.ok(before.has(blobKey(parseDigest(layer.digest)!)), 'the snapshots see the pushed layer');
  // Every byte read again, no version cache: nothing torn, nothing changed.
  const now = await store.snapshot({ fresh: true });
  t.same(tornObjects(now), [], 'no torn or partial object');
  t.same(diffSnapshots(before, now), [], 'stored data unchanged');
  t.equal(await store.writers(), 0, 'no writers left (temp files, multipart uploads, staging objects)');
  const get = await fetch(`${r.url}/v2/lib/app/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
  t.ok(Buffer.from(await get.arrayBuffer()).equals(img.bytes), 'the image still pulls');
  t.comment(`hostile docker cases on ${store.content.name} storage: ${cases} (${[...tally].map(([k, v]) => `${k} ${v}`).join(', ')})`);
});
