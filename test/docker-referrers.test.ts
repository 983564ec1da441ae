// The referrers API (OCI distribution 1.1): subject on push, OCI-Subject,
// listing with artifactType filter, pagination and removal on delete.
import t from 'tap';
import { startRegistry } from './helpers/registry.js';
import { OCI_INDEX, OCI_MANIFEST, encode, errorCode, pushBlob, pushImage, putManifest } from './helpers/oci-push.js';
import { digestOf } from '../src/main/digest.js';

const EMPTY = 'application/vnd.oci.empty.v1+json';
const SBOM = 'application/vnd.example.sbom.v1';
const SIG_CONFIG = 'application/vnd.example.signature.config.v1+json';

interface Index {
  schemaVersion: number;
  mediaType: string;
  manifests: Record<string, unknown>[];
}

t.test('referrers', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const name = 'ref/app';
  const subject = await pushImage(r, name, 'v1');
  const subjectDesc = { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.size };
  const empty = await pushBlob(r, name, '{}', EMPTY);
  const payload = await pushBlob(r, name, 'sbom payload', 'application/json');

  // 1. An artifact with artifactType and an empty config.
  const sbom = encode(
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: SBOM,
      config: empty,
      layers: [payload],
      subject: subjectDesc,
      annotations: { 'org.example.sbom.format': 'json' },
    },
    OCI_MANIFEST,
  );
  let res = await putManifest(r, name, sbom.digest, sbom.bytes, OCI_MANIFEST);
  t.equal(res.status, 201);
  t.equal(res.headers.get('oci-subject'), subject.digest, 'OCI-Subject says the subject was indexed');
  await res.arrayBuffer();

  // 2. No artifactType: the config's mediaType stands in.
  const sigConfig = await pushBlob(r, name, '{"sig":true}', SIG_CONFIG);
  const sig = encode(
    { schemaVersion: 2, mediaType: OCI_MANIFEST, config: sigConfig, layers: [], subject: subjectDesc, annotations: { 'org.example.fp': 'abcd' } },
    OCI_MANIFEST,
  );
  res = await putManifest(r, name, sig.digest, sig.bytes, OCI_MANIFEST);
  t.equal(res.status, 201);
  t.equal(res.headers.get('oci-subject'), subject.digest);

  // 3. An index with a subject and no artifactType: the descriptor has none.
  const idx = encode({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], subject: subjectDesc }, OCI_INDEX);
  res = await putManifest(r, name, 'idx-referrer', idx.bytes, OCI_INDEX);
  t.equal(res.status, 201);
  t.equal(res.headers.get('oci-subject'), subject.digest);

  const expected = [
    { mediaType: OCI_MANIFEST, digest: sbom.digest, size: sbom.size, artifactType: SBOM, annotations: { 'org.example.sbom.format': 'json' } },
    { mediaType: OCI_MANIFEST, digest: sig.digest, size: sig.size, artifactType: SIG_CONFIG, annotations: { 'org.example.fp': 'abcd' } },
    { mediaType: OCI_INDEX, digest: idx.digest, size: idx.size },
  ].sort((a, b) => (a.digest < b.digest ? -1 : 1));

  res = await fetch(`${r.url}/v2/${name}/referrers/${subject.digest}`);
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), OCI_INDEX);
  t.equal(res.headers.get('oci-filters-applied'), null);
  const all = (await res.json()) as Index;
  t.equal(all.schemaVersion, 2);
  t.equal(all.mediaType, OCI_INDEX);
  t.same(all.manifests, expected, 'every referrer, with artifactType and annotations');
  t.notOk('artifactType' in all.manifests.find((m) => m.digest === idx.digest)!, 'index without artifactType has none');

  res = await fetch(`${r.url}/v2/${name}/referrers/${subject.digest}?artifactType=${encodeURIComponent(SBOM)}`);
  t.equal(res.status, 200);
  t.equal(res.headers.get('oci-filters-applied'), 'artifactType');
  t.same(((await res.json()) as Index).manifests, expected.filter((m) => m.artifactType === SBOM));
  res = await fetch(`${r.url}/v2/${name}/referrers/${subject.digest}?artifactType=application/none`);
  t.equal(res.headers.get('oci-filters-applied'), 'artifactType');
  t.same(((await res.json()) as Index).manifests, []);

  // Pagination via Link.
  const seen: Record<string, unknown>[] = [];
  let next: string | null = `/v2/${name}/referrers/${subject.digest}?n=1`;
  let pages = 0;
  while (next) {
    res = await fetch(r.url + next);
    t.equal(res.status, 200);
    seen.push(...((await res.json()) as Index).manifests);
    const link = res.headers.get('link');
    next = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1]! : null;
    if (++pages > 10) break;
  }
  t.equal(pages, 3);
  t.same(seen, expected, 'pages of one cover every referrer once');

  // Referrers are listed per repository.
  res = await fetch(`${r.url}/v2/other/repo/referrers/${subject.digest}`);
  t.equal(res.status, 200, 'unknown repository: an empty list, never 404');
  t.same(((await res.json()) as Index).manifests, []);
  res = await fetch(`${r.url}/v2/${name}/referrers/${digestOf(Buffer.from('no such subject'))}`);
  t.equal(res.status, 200);
  t.same(await res.json(), { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });

  for (const bad of ['sha256:short', 'md5:abc', 'nonsense']) {
    res = await fetch(`${r.url}/v2/${name}/referrers/${bad}`);
    t.equal(res.status, 400, bad);
    t.equal((await errorCode(res)).code, 'DIGEST_INVALID');
  }
  res = await fetch(`${r.url}/v2/${name}/referrers/${subject.digest}`, { method: 'PUT' });
  t.equal(res.status, 405);
  await res.arrayBuffer();

  // Deleting a referrer removes it from the list; deleting by tag does not.
  res = await fetch(`${r.url}/v2/${name}/manifests/idx-referrer`, { method: 'DELETE' });
  t.equal(res.status, 202);
  res = await fetch(`${r.url}/v2/${name}/referrers/${subject.digest}`);
  t.equal(((await res.json()) as Index).manifests.length, 3, 'untagging keeps the referrer');
  res = await fetch(`${r.url}/v2/${name}/manifests/${sbom.digest}`, { method: 'DELETE' });
  t.equal(res.status, 202);
  res = await fetch(`${r.url}/v2/${name}/referrers/${subject.digest}`);
  t.same(((await res.json()) as Index).manifests.map((m) => m.digest).sort(), [sig.digest, idx.digest].sort());
});

t.test('a referrer may be pushed before its subject', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const name = 'early/app';
  const later = encode({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'x/y', digest: digestOf(Buffer.from('c')), size: 1 }, layers: [] }, OCI_MANIFEST);
  const empty = await pushBlob(r, name, '{}', EMPTY);
  const art = encode(
    { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: SBOM, config: empty, layers: [], subject: { mediaType: OCI_MANIFEST, digest: later.digest, size: later.size } },
    OCI_MANIFEST,
  );
  let res = await putManifest(r, name, 'sbom', art.bytes, OCI_MANIFEST);
  t.equal(res.status, 201, 'subject need not exist');
  t.equal(res.headers.get('oci-subject'), later.digest);
  res = await fetch(`${r.url}/v2/${name}/referrers/${later.digest}`);
  t.same(((await res.json()) as Index).manifests.map((m) => m.digest), [art.digest]);

  // A malformed subject is refused.
  res = await putManifest(r, name, 'bad', { ...art.doc, subject: { mediaType: OCI_MANIFEST, digest: 'sha256:nope', size: 1 } }, OCI_MANIFEST);
  t.equal(res.status, 400);
  t.equal((await errorCode(res)).code, 'MANIFEST_INVALID');
  // Docker manifests have no subject field: nothing is indexed, no OCI-Subject.
  const img = await pushImage(r, name, 'docker', { mediaType: 'application/vnd.docker.distribution.manifest.v2+json' });
  res = await putManifest(r, name, 'docker2', { ...img.doc, subject: { mediaType: OCI_MANIFEST, digest: later.digest, size: later.size } }, 'application/vnd.docker.distribution.manifest.v2+json');
  t.equal(res.status, 201);
  t.equal(res.headers.get('oci-subject'), null);
});
