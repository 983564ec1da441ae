// Manifest push, pull, HEAD and delete over real HTTP against an in-process registry.
import t from 'tap';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { startRegistry, type Running } from './helpers/registry.js';
import {
  DOCKER_LIST,
  DOCKER_MANIFEST,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
  encode,
  errorCode,
  pushBlob,
  pushImage,
  pushIndex,
  putManifest,
} from './helpers/oci-push.js';
import { digestOf, parseDigest } from '../src/main/digest.js';
import { tagKey } from '../src/protocols/docker/layout.js';

let r: Running;
t.before(async () => {
  r = await startRegistry();
});
t.teardown(() => r.close());

const url = (name: string, ref: string) => `${r.url}/v2/${name}/manifests/${ref}`;

t.test('OCI manifest: push by tag, pull by tag and digest with headers, HEAD', async (t) => {
  const m = await pushImage(r, 'oci/app', 'v1', { layers: 2 });
  // Push again to read the push response itself (same bytes: idempotent).
  const res = await putManifest(r, 'oci/app', 'v1', m.bytes, OCI_MANIFEST);
  t.equal(res.status, 201);
  t.equal(res.headers.get('location'), `/v2/oci/app/manifests/${m.digest}`);
  t.equal(res.headers.get('docker-content-digest'), m.digest);
  t.equal(res.headers.get('oci-subject'), null, 'no subject, no OCI-Subject');

  for (const ref of ['v1', m.digest]) {
    const get = await fetch(url('oci/app', ref));
    t.equal(get.status, 200, `GET ${ref}`);
    t.equal(get.headers.get('content-type'), OCI_MANIFEST);
    t.equal(get.headers.get('docker-content-digest'), m.digest);
    t.equal(get.headers.get('content-length'), String(m.size));
    t.equal(get.headers.get('etag'), `"${m.digest}"`);
    const body = Buffer.from(await get.arrayBuffer());
    t.ok(body.equals(m.bytes), 'bytes served exactly as pushed');

    const head = await fetch(url('oci/app', ref), { method: 'HEAD' });
    t.equal(head.status, 200, `HEAD ${ref}`);
    t.equal(head.headers.get('content-length'), String(m.size));
    t.equal(head.headers.get('docker-content-digest'), m.digest);
    t.equal(head.headers.get('content-type'), OCI_MANIFEST);
    t.equal((await head.arrayBuffer()).byteLength, 0);
  }
});

t.test('Docker v2 manifest and Docker manifest list', async (t) => {
  const a = await pushImage(r, 'dock/img', 'amd64', { mediaType: DOCKER_MANIFEST });
  const b = await pushImage(r, 'dock/img', 'arm64', { mediaType: DOCKER_MANIFEST });
  const list = await pushIndex(r, 'dock/img', 'latest', [a, b], DOCKER_LIST);
  const get = await fetch(url('dock/img', 'latest'), { headers: { accept: `${DOCKER_MANIFEST}, ${DOCKER_LIST}` } });
  t.equal(get.status, 200);
  t.equal(get.headers.get('content-type'), DOCKER_LIST);
  t.equal(get.headers.get('docker-content-digest'), list.digest);
  t.ok(Buffer.from(await get.arrayBuffer()).equals(list.bytes));
  const child = await fetch(url('dock/img', a.digest));
  t.equal(child.headers.get('content-type'), DOCKER_MANIFEST);
  await child.arrayBuffer();
});

t.test('OCI index over OCI manifests', async (t) => {
  const a = await pushImage(r, 'idx/app', 'a');
  const b = await pushImage(r, 'idx/app', 'b');
  const idx = await pushIndex(r, 'idx/app', 'multi', [a, b], OCI_INDEX);
  const get = await fetch(url('idx/app', 'multi'), { headers: { accept: OCI_INDEX } });
  t.equal(get.status, 200);
  t.equal(get.headers.get('content-type'), OCI_INDEX);
  t.ok(Buffer.from(await get.arrayBuffer()).equals(idx.bytes));
});

t.test('mediaType from Content-Type when the body has none, or from the shape', async (t) => {
  const cfg = await pushBlob(r, 'plain/app', '{"os":"linux"}', OCI_CONFIG);
  const doc = { schemaVersion: 2, config: cfg, layers: [] };
  let res = await putManifest(r, 'plain/app', 'ct', doc, OCI_MANIFEST);
  t.equal(res.status, 201);
  res = await fetch(url('plain/app', 'ct'));
  t.equal(res.headers.get('content-type'), OCI_MANIFEST);
  await res.arrayBuffer();

  res = await putManifest(r, 'plain/app', 'shape', doc);
  t.equal(res.status, 201, 'no mediaType and no Content-Type: an OCI manifest by its shape');
  res = await fetch(url('plain/app', 'shape'));
  t.equal(res.headers.get('content-type'), OCI_MANIFEST);
  await res.arrayBuffer();

  res = await putManifest(r, 'plain/app', 'parm', { ...doc, mediaType: OCI_MANIFEST }, `${OCI_MANIFEST}; charset=utf-8`);
  t.equal(res.status, 201, 'parameters on Content-Type are ignored');
  await res.arrayBuffer();

  res = await putManifest(r, 'plain/app', 'dock', { ...doc, config: { ...cfg, mediaType: 'application/vnd.docker.container.image.v1+json' } }, DOCKER_MANIFEST);
  t.equal(res.status, 400, 'a Docker manifest must carry its mediaType');
  t.equal((await errorCode(res)).code, 'MANIFEST_INVALID');
});

t.test('Content-Type that contradicts the body mediaType is refused (CVE-2021-41190)', async (t) => {
  const m = await pushImage(r, 'cve/app', 'base');
  for (const ct of [OCI_INDEX, DOCKER_MANIFEST, 'application/octet-stream']) {
    const res = await putManifest(r, 'cve/app', 'evil', m.bytes, ct);
    t.equal(res.status, 400, ct);
    const e = await errorCode(res);
    t.equal(e.code, 'MANIFEST_INVALID');
  }
  // A document that is both an image and an index is ambiguous.
  const both = { ...m.doc, manifests: [] };
  let res = await putManifest(r, 'cve/app', 'evil', both, OCI_MANIFEST);
  t.equal(res.status, 400);
  t.equal((await errorCode(res)).code, 'MANIFEST_INVALID');
  res = await putManifest(r, 'cve/app', 'evil', { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], layers: [] }, OCI_INDEX);
  t.equal(res.status, 400);
  t.equal((await errorCode(res)).code, 'MANIFEST_INVALID');
  const get = await fetch(url('cve/app', 'evil'));
  t.equal(get.status, 404, 'nothing was stored');
  await get.arrayBuffer();
});

t.test('malformed and unsupported manifests', async (t) => {
  const cases: [string, string | Buffer, string | undefined][] = [
    ['not json', '{"schemaVersion":', OCI_MANIFEST],
    ['empty body', '', OCI_MANIFEST],
    ['array', '[]', OCI_MANIFEST],
    ['schema1', JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }), 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
    ['schema1 by body', JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }), undefined],
    ['unknown type', JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.example+json' }), 'application/vnd.example+json'],
    ['schemaVersion 3', JSON.stringify({ schemaVersion: 3, mediaType: OCI_INDEX, manifests: [] }), OCI_INDEX],
    ['bad digest', JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: 'sha256:zz', size: 1 }] }), OCI_INDEX],
    ['bad size', JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: digestOf(Buffer.from('x')), size: -1 }] }), OCI_INDEX],
    ['no layers', JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: digestOf(Buffer.from('x')), size: 1 } }), OCI_MANIFEST],
    ['bad annotations', JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], annotations: { a: 1 } }), OCI_INDEX],
  ];
  for (const [label, body, ct] of cases) {
    const res = await putManifest(r, 'bad/app', 'x', body, ct);
    t.equal(res.status, 400, label);
    t.equal((await errorCode(res)).code, 'MANIFEST_INVALID', label);
  }
});

t.test('referenced blobs and children must exist in this repository', async (t) => {
  const cfg = await pushBlob(r, 'miss/app', '{"os":"linux","n":1}', OCI_CONFIG);
  const layer = await pushBlob(r, 'miss/app', 'a layer');
  const absent = digestOf(Buffer.from('never pushed'));
  let res = await putManifest(r, 'miss/app', 'v1', {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: cfg,
    layers: [layer, { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: absent, size: 12 }],
  }, OCI_MANIFEST);
  t.equal(res.status, 400);
  let e = await errorCode(res);
  t.equal(e.code, 'MANIFEST_BLOB_UNKNOWN');
  t.same(e.detail, { digest: absent });

  // A blob pushed to another repository does not count.
  const elsewhere = await pushBlob(r, 'other/app', 'only elsewhere');
  res = await putManifest(r, 'miss/app', 'v1', { schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg, layers: [elsewhere] }, OCI_MANIFEST);
  t.equal(res.status, 400);
  e = await errorCode(res);
  t.equal(e.code, 'MANIFEST_BLOB_UNKNOWN');
  t.same(e.detail, { digest: elsewhere.digest });

  // Missing config.
  res = await putManifest(r, 'miss/app', 'v1', { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { ...cfg, digest: absent }, layers: [layer] }, OCI_MANIFEST);
  t.equal(res.status, 400);
  t.equal((await errorCode(res)).code, 'MANIFEST_BLOB_UNKNOWN');

  // Foreign layers with URLs need not be pushed.
  res = await putManifest(r, 'miss/app', 'foreign', {
    schemaVersion: 2,
    mediaType: DOCKER_MANIFEST,
    config: { ...cfg, mediaType: 'application/vnd.docker.container.image.v1+json' },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: absent, size: 12, urls: ['https://example.invalid/layer'] }],
  }, DOCKER_MANIFEST);
  t.equal(res.status, 201, 'foreign layer with urls skipped');
  await res.arrayBuffer();

  // Index with a child that is not in the repository.
  const child = await pushImage(r, 'miss/app', 'child');
  const notHere = encode({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg, layers: [] }, OCI_MANIFEST);
  res = await putManifest(r, 'miss/app', 'idx', {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      { mediaType: OCI_MANIFEST, digest: child.digest, size: child.size },
      { mediaType: OCI_MANIFEST, digest: notHere.digest, size: notHere.size },
    ],
  }, OCI_INDEX);
  t.equal(res.status, 400);
  e = await errorCode(res);
  t.equal(e.code, 'MANIFEST_BLOB_UNKNOWN');
  t.same(e.detail, { digest: notHere.digest });
  t.equal((await fetch(url('miss/app', 'v1'))).status, 404);
});

t.test('4 MiB manifest limit, also when the body is chunked', async (t) => {
  const cfg = await pushBlob(r, 'big/app', '{"os":"linux","big":true}', OCI_CONFIG);
  const base = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg, layers: [] as unknown[], annotations: { pad: '' } };
  const limit = 4 * 1024 * 1024;
  const overhead = Buffer.byteLength(JSON.stringify(base));
  const exact = Buffer.from(JSON.stringify({ ...base, annotations: { pad: 'x'.repeat(limit - overhead) } }));
  t.equal(exact.length, limit);
  let res = await putManifest(r, 'big/app', 'max', exact, OCI_MANIFEST);
  t.equal(res.status, 201, 'exactly 4 MiB is accepted');
  await res.arrayBuffer();
  const get = await fetch(url('big/app', 'max'));
  t.ok(Buffer.from(await get.arrayBuffer()).equals(exact));

  const over = Buffer.from(JSON.stringify({ ...base, annotations: { pad: 'x'.repeat(limit - overhead + 1) } }));
  res = await putManifest(r, 'big/app', 'over', over, OCI_MANIFEST);
  t.equal(res.status, 413);
  t.equal((await errorCode(res)).code, 'MANIFEST_INVALID');

  // No Content-Length at all: the limit holds while reading.
  const chunks = [over.subarray(0, 1 << 20), over.subarray(1 << 20)];
  const stream = new ReadableStream({
    pull(c) {
      const next = chunks.shift();
      if (next) c.enqueue(next);
      else c.close();
    },
  });
  res = await fetch(url('big/app', 'chunked'), {
    method: 'PUT',
    body: stream,
    headers: { 'content-type': OCI_MANIFEST },
    duplex: 'half',
  } as RequestInit);
  t.equal(res.status, 413);
  await res.arrayBuffer();
  t.equal((await fetch(url('big/app', 'over'))).status, 404);
  t.equal((await fetch(url('big/app', 'chunked'))).status, 404);
});

t.test('PUT by digest must match the body', async (t) => {
  const m = await pushImage(r, 'dig/app', 'v1');
  const other = encode({ ...m.doc, annotations: { changed: 'yes' } }, OCI_MANIFEST);
  let res = await putManifest(r, 'dig/app', m.digest, other.bytes, OCI_MANIFEST);
  t.equal(res.status, 400);
  const e = await errorCode(res);
  t.equal(e.code, 'DIGEST_INVALID');
  t.equal((await fetch(url('dig/app', other.digest))).status, 404);

  res = await putManifest(r, 'dig/app', other.digest, other.bytes, OCI_MANIFEST);
  t.equal(res.status, 201);
  t.equal(res.headers.get('docker-content-digest'), other.digest);

  const sha512 = `sha512:${createHash('sha512').update(other.bytes).digest('hex')}`;
  res = await putManifest(r, 'dig/app', sha512, other.bytes, OCI_MANIFEST);
  t.equal(res.status, 201, 'sha512 references work');
  t.equal(res.headers.get('docker-content-digest'), sha512);
  const get = await fetch(url('dig/app', sha512));
  t.equal(get.status, 200);
  t.ok(Buffer.from(await get.arrayBuffer()).equals(other.bytes));
});

t.test('Accept negotiation', async (t) => {
  const m = await pushImage(r, 'acc/app', 'oci');
  const d = await pushImage(r, 'acc/app', 'docker', { mediaType: DOCKER_MANIFEST });
  const idx = await pushIndex(r, 'acc/app', 'index', [m]);
  const status = async (ref: string, accept?: string) => {
    const res = await fetch(url('acc/app', ref), accept === undefined ? {} : { headers: { accept } });
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, body };
  };
  t.equal((await status('oci')).status, 200, 'no Accept: served');
  t.equal((await status('oci', '*/*')).status, 200);
  t.equal((await status('oci', `${DOCKER_MANIFEST}, ${OCI_MANIFEST};q=0.5`)).status, 200);
  const refused = await status('oci', DOCKER_MANIFEST);
  t.equal(refused.status, 404, 'OCI manifest to a Docker-only client');
  t.equal(JSON.parse(refused.body.toString()).errors[0].code, 'MANIFEST_UNKNOWN');
  t.equal((await status('oci', `${OCI_MANIFEST};q=0`)).status, 404, 'q=0 is a refusal');
  t.equal((await status('index', OCI_MANIFEST)).status, 404, 'an index to a client without index support');
  t.equal((await status(idx.digest, `${OCI_MANIFEST}, ${OCI_INDEX}`)).status, 200);
  t.equal((await status('docker', OCI_MANIFEST)).status, 200, 'Docker types are always served');
  t.equal((await status(d.digest, DOCKER_MANIFEST)).status, 200);
});

t.test('unknown manifests, bad references, bad methods', async (t) => {
  await pushImage(r, 'ref/app', 'v1');
  let res = await fetch(url('ref/app', 'nope'));
  t.equal(res.status, 404);
  t.equal((await errorCode(res)).code, 'MANIFEST_UNKNOWN');
  res = await fetch(url('never/pushed', 'v1'));
  t.equal(res.status, 404);
  t.equal((await errorCode(res)).code, 'MANIFEST_UNKNOWN');
  res = await fetch(url('ref/app', digestOf(Buffer.from('absent'))), { method: 'HEAD' });
  t.equal(res.status, 404);
  await res.arrayBuffer();
  res = await fetch(url('ref/app', 'sha256:abc'));
  t.equal(res.status, 400);
  t.equal((await errorCode(res)).code, 'DIGEST_INVALID');
  const m = await pushImage(r, 'ref/app', 'v2');
  res = await putManifest(r, 'ref/app', '-bad', m.bytes, OCI_MANIFEST);
  t.equal(res.status, 400, 'PUT refuses a tag that is not one');
  t.equal((await errorCode(res)).code, 'MANIFEST_INVALID');
  res = await putManifest(r, 'ref/app', 'x'.repeat(129), m.bytes, OCI_MANIFEST);
  t.equal(res.status, 400, 'tags are at most 128 characters');
  t.equal((await errorCode(res)).code, 'MANIFEST_INVALID');
  res = await fetch(url('ref/app', 'v1'), { method: 'POST' });
  t.equal(res.status, 405);
  t.equal(res.headers.get('allow'), 'GET, HEAD, PUT, DELETE');
  t.equal((await errorCode(res)).code, 'UNSUPPORTED');
});

t.test('DELETE by tag removes only the tag; by digest removes the manifest and its tags', async (t) => {
  const m = await pushImage(r, 'del/app', 'v1');
  for (const tag of ['v2', 'latest']) {
    const res = await putManifest(r, 'del/app', tag, m.bytes, OCI_MANIFEST);
    t.equal(res.status, 201);
  }
  const keep = await pushImage(r, 'del/app', 'keep');

  let res = await fetch(url('del/app', 'v2'), { method: 'DELETE' });
  t.equal(res.status, 202);
  await res.arrayBuffer();
  t.equal((await fetch(url('del/app', 'v2'))).status, 404, 'tag gone');
  t.equal((await fetch(url('del/app', 'v1'), { method: 'HEAD' })).status, 200, 'other tags stay');
  t.equal((await fetch(url('del/app', m.digest), { method: 'HEAD' })).status, 200, 'manifest stays');
  res = await fetch(url('del/app', 'v2'), { method: 'DELETE' });
  t.equal(res.status, 404);
  t.equal((await errorCode(res)).code, 'MANIFEST_UNKNOWN');

  res = await fetch(url('del/app', m.digest), { method: 'DELETE' });
  t.equal(res.status, 202);
  await res.arrayBuffer();
  for (const ref of [m.digest, 'v1', 'latest']) {
    t.equal((await fetch(url('del/app', ref), { method: 'HEAD' })).status, 404, `${ref} gone`);
  }
  const tags = (await (await fetch(`${r.url}/v2/del/app/tags/list`)).json()) as { tags: string[] };
  t.same(tags.tags, ['keep']);
  t.equal((await fetch(url('del/app', keep.digest), { method: 'HEAD' })).status, 200);
  res = await fetch(url('del/app', m.digest), { method: 'DELETE' });
  t.equal(res.status, 404);
  t.equal((await errorCode(res)).code, 'MANIFEST_UNKNOWN');

  // Pushing it again brings it back.
  res = await putManifest(r, 'del/app', 'v1', m.bytes, OCI_MANIFEST);
  t.equal(res.status, 201);
  t.equal((await fetch(url('del/app', 'v1'), { method: 'HEAD' })).status, 200);
});

t.test('concurrent pushes of one tag: the last writer wins whole', async (t) => {
  const images = [];
  for (let i = 0; i < 6; i++) images.push(await pushImage(r, 'race/app', `seed${i}`));
  const results = await Promise.all(
    Array.from({ length: 24 }, (_, i) => putManifest(r, 'race/app', 'hot', images[i % images.length]!.bytes, OCI_MANIFEST).then(async (res) => {
      await res.arrayBuffer();
      return res.status;
    })),
  );
  t.same(new Set(results), new Set([201]));
  const raw = (await readFile(r.registry.ctx.storage.path(tagKey('race/app', 'hot')), 'utf8')).trim();
  t.ok(parseDigest(raw), 'tag file holds one whole digest');
  t.ok(images.some((m) => m.digest === raw), 'and it is one of the pushed manifests');
  const get = await fetch(url('race/app', 'hot'));
  t.equal(get.headers.get('docker-content-digest'), raw, 'reads agree with the file');
  const body = Buffer.from(await get.arrayBuffer());
  t.equal(digestOf(body), raw);
});

t.test('a reference no manifest can have is not found on reads and deletes (OCI conformance)', async (t) => {
  const m = await pushImage(r, 'conf/app', 'v1');
  // The distribution-spec v1.1.1 conformance suite's "nonexistent manifest" reference, and others of its kind.
  for (const ref of ['.INVALID_MANIFEST_NAME', '-bad', 'x'.repeat(129), 'Tag:v1', '..foo']) {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(url('conf/app', ref), { method });
      t.equal(res.status, 404, `${method} ${ref.slice(0, 24)}`);
      const e = await errorCode(res);
      t.equal(e.code, 'MANIFEST_UNKNOWN', `${method} ${ref.slice(0, 24)}: OCI error body`);
    }
    const head = await fetch(url('conf/app', ref), { method: 'HEAD' });
    t.equal(head.status, 404, `HEAD ${ref.slice(0, 24)}`);
    t.equal(head.headers.get('docker-distribution-api-version'), 'registry/2.0');
    await head.arrayBuffer();
  }
  const res = await putManifest(r, 'conf/app', '.INVALID_MANIFEST_NAME', m.bytes, OCI_MANIFEST);
  t.equal(res.status, 400, 'PUT still refuses it');
  t.equal((await errorCode(res)).code, 'MANIFEST_INVALID');
  const still = await fetch(url('conf/app', 'v1'));
  t.equal(still.status, 200, 'nothing was deleted');
  await still.arrayBuffer();
});
