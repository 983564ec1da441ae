// The Maven repository over plain HTTP, as mvn, gradle and curl use it:
// deploys hashed while streaming (every served checksum checked against the
// bytes), checksum sidecars verified (maven.checksum_verify), releases
// immutable (maven.immutable_releases), SNAPSHOT builds and both levels of
// maven-metadata.xml rendered from what is stored, ETag / Last-Modified /
// Range, and concurrent deploys of 20 versions through two registries on one
// storage (each with its own in-process locks, so only the compare-and-swap
// keeps versions from being lost).
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { startRegistry, tempDir } from './helpers/registry.js';
import { metric } from './helpers/auth.js';
import { compareVersions } from '../src/protocols/maven/versions.js';

const hash = (alg: string, b: Buffer | string) => createHash(alg).update(b).digest('hex');
const put = (url: string, body: Buffer | string) => fetch(url, { method: 'PUT', body });

t.test('deploy, checksums, ETag, Last-Modified, Range', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const base = `${r.url}/maven2/org/acme/tool/1.2.0`;
  const jar = randomBytes(3 * 1024 * 1024 + 17); // several body chunks
  const res = await put(`${base}/tool-1.2.0.jar`, jar);
  t.equal(res.status, 201);
  for (const alg of ['md5', 'sha1', 'sha256', 'sha512']) {
    const c = await fetch(`${base}/tool-1.2.0.jar.${alg}`);
    t.equal(await c.text(), hash(alg, jar), `${alg} computed while streaming`);
    t.match(c.headers.get('content-type'), /^text\/plain/);
    t.equal((await put(`${base}/tool-1.2.0.jar.${alg}`, `${hash(alg, jar)}  tool-1.2.0.jar\n`)).status, 201, `matching .${alg} accepted`);
  }
  const got = await fetch(`${base}/tool-1.2.0.jar`);
  t.equal(got.status, 200);
  t.equal(got.headers.get('content-type'), 'application/java-archive');
  const etag = got.headers.get('etag')!;
  t.equal(etag, `"${hash('sha256', jar)}"`);
  const lastModified = got.headers.get('last-modified')!;
  t.ok(Math.abs(Date.parse(lastModified) - Date.now()) < 60_000, 'Last-Modified is the deploy time');
  t.ok(Buffer.from(await got.arrayBuffer()).equals(jar));
  t.equal((await fetch(`${base}/tool-1.2.0.jar`, { headers: { 'if-none-match': etag } })).status, 304);
  const part = await fetch(`${base}/tool-1.2.0.jar`, { headers: { range: 'bytes=100-199' } });
  t.equal(part.status, 206);
  t.equal(part.headers.get('content-range'), `bytes 100-199/${jar.length}`);
  t.ok(Buffer.from(await part.arrayBuffer()).equals(jar.subarray(100, 200)));
  t.equal((await fetch(`${base}/tool-1.2.0.jar`, { headers: { range: `bytes=${jar.length}-` } })).status, 416);
  const head = await fetch(`${base}/tool-1.2.0.jar`, { method: 'HEAD' });
  t.equal(head.headers.get('content-length'), String(jar.length));
  t.equal(head.headers.get('etag'), etag);

  // A sidecar that disagrees is refused, with the reason in the status line (all mvn prints).
  const bad = await put(`${base}/tool-1.2.0.jar.sha1`, '0'.repeat(40));
  t.equal(bad.status, 400);
  t.match(bad.statusText, /^Checksum mismatch: tool-1\.2\.0\.jar\.sha1/);
  t.match(await bad.text(), /Checksum mismatch/);
  t.equal((await put(`${base}/tool-1.2.0.pom.sha1`, '0'.repeat(40))).status, 404, 'checksum of a file never deployed');
  t.equal((await fetch(`${base}/tool-1.2.0.pom`)).status, 404);
  t.equal((await fetch(`${base}/tool-1.2.0.pom.sha1`)).status, 404);

  // Releases are immutable; the stored file stays as it was.
  const again = await put(`${base}/tool-1.2.0.jar`, 'different bytes');
  t.equal(again.status, 409);
  t.match(again.statusText, /org\.acme:tool:1\.2\.0 is a release/);
  t.equal(await (await fetch(`${base}/tool-1.2.0.jar.sha256`)).text(), hash('sha256', jar));

  const pom = '<project><modelVersion>4.0.0</modelVersion></project>';
  t.equal((await put(`${base}/tool-1.2.0.pom`, pom)).status, 201);
  t.equal((await fetch(`${base}/tool-1.2.0.pom`)).headers.get('content-type'), 'application/xml');

  // Requests are counted under the format's own label.
  t.equal(await metric(r.url, 'nora_http_requests_total', 'format="maven",method="PUT",status="201"'), 6, 'jar, four sidecars and the POM');
  t.equal(await metric(r.url, 'nora_http_requests_total', 'format="maven",method="PUT",status="409"'), 1);
  t.ok((await metric(r.url, 'nora_http_bytes_in_total', 'format="maven"')) >= jar.length);
});

t.test('maven.checksum_verify = false and maven.immutable_releases = false', async (t) => {
  const r = await startRegistry({ maven: { checksum_verify: false, immutable_releases: false } });
  t.teardown(() => r.close());
  const base = `${r.url}/maven2/org/acme/tool/1.0`;
  t.equal((await put(`${base}/tool-1.0.jar`, 'one')).status, 201);
  t.equal((await put(`${base}/tool-1.0.jar.sha1`, '0'.repeat(40))).status, 201, 'a wrong checksum is not checked');
  t.equal(await (await fetch(`${base}/tool-1.0.jar.sha1`)).text(), hash('sha1', 'one'), 'served checksums stay the real ones');
  t.equal((await put(`${base}/tool-1.0.jar`, 'two')).status, 201, 'a release may be redeployed');
  t.equal(await (await fetch(`${base}/tool-1.0.jar`)).text(), 'two');
});

t.test('SNAPSHOT builds and maven-metadata.xml at both levels', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const art = `${r.url}/maven2/org/acme/lib`;
  const snap = `${art}/1.1-SNAPSHOT`;
  for (const [build, ts] of [
    [1, '20260101.100000'],
    [2, '20260102.110000'],
  ] as const) {
    for (const f of [`lib-1.1-${ts}-${build}.jar`, `lib-1.1-${ts}-${build}.pom`, `lib-1.1-${ts}-${build}-sources.jar`]) t.equal((await put(`${snap}/${f}`, `${f} bytes`)).status, 201, f);
  }
  // A SNAPSHOT build may be redeployed; so may a plain -SNAPSHOT file.
  t.equal((await put(`${snap}/lib-1.1-20260102.110000-2.jar`, 'rebuilt')).status, 201);
  t.equal((await put(`${snap}/lib-1.1-SNAPSHOT.jar`, 'plain')).status, 201);
  t.equal((await fetch(`${snap}/lib-1.1-SNAPSHOT.jar`)).headers.get('cache-control'), 'public, no-cache');
  t.equal((await fetch(`${snap}/lib-1.1-20260102.110000-2.jar`)).headers.get('cache-control'), 'public, max-age=31536000, immutable');
  // What a client uploads as metadata is ignored: the server's is rendered from what is stored.
  t.equal((await put(`${snap}/maven-metadata.xml`, '<metadata>stale</metadata>')).status, 201);
  t.equal((await put(`${snap}/maven-metadata.xml.sha1`, '0'.repeat(40))).status, 201);
  t.equal((await put(`${art}/maven-metadata.xml`, '<metadata>stale</metadata>')).status, 201);

  const vres = await fetch(`${snap}/maven-metadata.xml`);
  t.equal(vres.headers.get('content-type'), 'application/xml');
  const vxml = await vres.text();
  t.match(vxml, '<version>1.1-SNAPSHOT</version>');
  t.match(vxml, '<snapshot>\n      <timestamp>20260102.110000</timestamp>\n      <buildNumber>2</buildNumber>\n    </snapshot>');
  t.match(vxml, '<classifier>sources</classifier>\n        <extension>jar</extension>\n        <value>1.1-20260102.110000-2</value>');
  t.equal([...vxml.matchAll(/<value>1\.1-20260102\.110000-2<\/value>/g)].length, 3, 'jar, sources jar and pom name build 2');
  t.notMatch(vxml, 'stale');
  for (const alg of ['md5', 'sha1', 'sha256', 'sha512']) t.equal(await (await fetch(`${snap}/maven-metadata.xml.${alg}`)).text(), hash(alg, vxml), `version-level .${alg}`);
  const etag = vres.headers.get('etag')!;
  t.equal((await fetch(`${snap}/maven-metadata.xml`, { headers: { 'if-none-match': etag } })).status, 304);

  for (const v of ['1.9', '1.10', '1.10.0-rc1', '2.0-alpha-1']) t.equal((await put(`${art}/${v}/lib-${v}.pom`, 'p')).status, 201);
  const axml = await (await fetch(`${art}/maven-metadata.xml`)).text();
  t.match(axml, '<latest>2.0-alpha-1</latest>');
  t.match(axml, '<release>2.0-alpha-1</release>');
  const listed = [...axml.matchAll(/<version>([^<]+)<\/version>/g)].map((m) => m[1]);
  t.same(listed, ['1.1-SNAPSHOT', '1.9', '1.10.0-rc1', '1.10', '2.0-alpha-1'], 'versions in Maven order');
  t.match(axml, /<lastUpdated>\d{14}<\/lastUpdated>/);
  t.equal(await (await fetch(`${art}/maven-metadata.xml.sha1`)).text(), hash('sha1', axml));
  t.notOk((await fetch(`${art}/maven-metadata.xml`)).headers.get('last-modified') === null);
  t.equal((await fetch(`${r.url}/maven2/org/acme/nothing/maven-metadata.xml`)).status, 404);
});

t.test('Maven version order', async (t) => {
  const ascending = ['1.0-alpha-1', '1.0-beta-2', '1.0-M1', '1.0-rc1', '1.0-SNAPSHOT', '1.0', '1.0-sp1', '1.0.1', '1.1', '1.9', '1.10', '2.0-alpha', '2'];
  for (let i = 0; i + 1 < ascending.length; i++) t.ok(compareVersions(ascending[i]!, ascending[i + 1]!) < 0, `${ascending[i]} < ${ascending[i + 1]}`);
  t.equal(compareVersions('1.0', '1.0.0'), 0);
  t.equal(compareVersions('1.0-ga', '1'), 0);
  t.equal(compareVersions('1.0-final', '1.0'), 0);
});

t.test('20 versions deployed at once through two registries on one storage: none lost', async (t) => {
  const dir = await tempDir('nora-maven-cas-');
  const a = await startRegistry({}, dir);
  const b = await startRegistry({}, dir);
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  const versions = Array.from({ length: 20 }, (_, i) => `3.${i}.0`);
  const results = await Promise.all(
    versions.flatMap((v, i) => {
      const url = `${(i % 2 ? a : b).url}/maven2/org/acme/busy/${v}/busy-${v}`;
      return [put(`${url}.jar`, `jar ${v}`), put(`${url}.pom`, `pom ${v}`)];
    }),
  );
  const refused = await Promise.all(results.filter((x) => x.status !== 201).map(async (x) => `${x.status} ${await x.text()}`));
  t.same(refused, [], 'every deploy answered 201');
  for (const r of [a, b]) {
    const xml = await (await fetch(`${r.url}/maven2/org/acme/busy/maven-metadata.xml`)).text();
    const listed = [...xml.matchAll(/<version>([^<]+)<\/version>/g)].map((m) => m[1]);
    t.same(listed, [...versions].sort(compareVersions), 'every version listed once');
  }
  for (const v of versions) t.equal(await (await fetch(`${a.url}/maven2/org/acme/busy/${v}/busy-${v}.pom`)).text(), `pom ${v}`);
});
