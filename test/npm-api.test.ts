// The npm registry API over plain HTTP: documents, tarball downloads,
// validation of publishes (each refused publish leaves the stored package
// exactly as it was), immutability, revisions, concurrency and limits.
import t from 'tap';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry } from './helpers/registry.js';

function tarball(seed: string, size = 64): Buffer {
  return gzipSync(Buffer.from(seed.repeat(Math.ceil(size / seed.length)).slice(0, size)));
}

interface PublishOpts {
  integrity?: string;
  shasum?: string;
  data64?: string;
  tags?: Record<string, string>;
  attachmentName?: string;
  extra?: Record<string, unknown>;
  manifestName?: string;
}

function publishDoc(name: string, version: string, data: Buffer, o: PublishOpts = {}): Record<string, unknown> {
  const base = name.includes('/') ? name.split('/')[1] : name;
  return {
    _id: name,
    name,
    description: `${name} for tests`,
    'dist-tags': o.tags ?? { latest: version },
    versions: {
      [version]: {
        name: o.manifestName ?? name,
        version,
        description: `${name} for tests`,
        dependencies: { 'left-pad': '^1.0.0' },
        scripts: { postinstall: 'node x.js' },
        readme: 'long readme text',
        dist: {
          integrity: o.integrity ?? 'sha512-' + createHash('sha512').update(data).digest('base64'),
          shasum: o.shasum ?? createHash('sha1').update(data).digest('hex'),
          tarball: `http://elsewhere.example/${name}/-/${base}-${version}.tgz`,
        },
        ...o.extra,
      },
    },
    access: 'public',
    _attachments: {
      [o.attachmentName ?? `${name}-${version}.tgz`]: {
        content_type: 'application/octet-stream',
        data: o.data64 ?? data.toString('base64'),
        length: data.length,
      },
    },
  };
}

const esc = (name: string) => name.replace('/', '%2f');

t.test('publish, documents, tarballs', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const put = (name: string, doc: unknown) =>
    fetch(`${r.url}/npm/${esc(name)}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) });

  const data = tarball('hello', 5000);
  const res = await put('@team/widget', publishDoc('@team/widget', '1.0.0', data));
  t.equal(res.status, 201);
  t.match(await res.json(), { ok: true, id: '@team/widget' });

  // Both spellings of a scoped name.
  const full = await fetch(`${r.url}/npm/@team%2fwidget`);
  t.equal(full.status, 200);
  t.match(full.headers.get('content-type'), /^application\/json/);
  const doc = (await full.json()) as any;
  t.same(await (await fetch(`${r.url}/npm/@team/widget`)).json(), doc);
  t.equal(doc.name, '@team/widget');
  t.match(doc._rev, /^1-[0-9a-f]{32}$/);
  t.same(doc['dist-tags'], { latest: '1.0.0' });
  t.equal(doc.versions['1.0.0'].dist.tarball, `${r.url}/npm/@team/widget/-/widget-1.0.0.tgz`, 'tarball URL rewritten to this registry');
  t.equal(doc.versions['1.0.0']._id, '@team/widget@1.0.0');
  t.equal(doc.readme, 'long readme text', 'readme kept at package level');
  t.equal(doc.versions['1.0.0'].readme, undefined);
  t.ok(doc.time['1.0.0'] && doc.time.created && doc.time.modified);

  // Abbreviated install document.
  const corgi = await fetch(`${r.url}/npm/@team/widget`, {
    headers: { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*' },
  });
  t.match(corgi.headers.get('content-type'), /^application\/vnd\.npm\.install-v1\+json/);
  t.equal(corgi.headers.get('vary'), 'Accept');
  const small = (await corgi.json()) as any;
  t.same(Object.keys(small).sort(), ['dist-tags', 'modified', 'name', 'versions']);
  t.same(small.versions['1.0.0'], {
    name: '@team/widget',
    version: '1.0.0',
    dependencies: { 'left-pad': '^1.0.0' },
    dist: doc.versions['1.0.0'].dist,
    hasInstallScript: true,
  });

  // Packument validators.
  const etag = full.headers.get('etag')!;
  t.ok(etag);
  t.equal((await fetch(`${r.url}/npm/@team/widget`, { headers: { 'if-none-match': etag } })).status, 304);

  // Versions by number and by tag.
  t.equal(((await (await fetch(`${r.url}/npm/@team/widget/1.0.0`)).json()) as any).version, '1.0.0');
  t.equal(((await (await fetch(`${r.url}/npm/@team%2fwidget/latest`)).json()) as any).version, '1.0.0');
  const noVersion = await fetch(`${r.url}/npm/@team/widget/9.9.9`);
  t.equal(noVersion.status, 404);
  t.match(await noVersion.json(), { error: /9\.9\.9/ });

  // Tarball: whole, validators, ranges, HEAD.
  const tgzUrl = `${r.url}/npm/@team/widget/-/widget-1.0.0.tgz`;
  const tgz = await fetch(tgzUrl);
  t.equal(tgz.status, 200);
  t.same(Buffer.from(await tgz.arrayBuffer()), data);
  t.equal(tgz.headers.get('accept-ranges'), 'bytes');
  t.match(tgz.headers.get('cache-control'), /immutable/);
  const tgzTag = tgz.headers.get('etag')!;
  t.equal((await fetch(tgzUrl, { headers: { 'if-none-match': tgzTag } })).status, 304);
  const part = await fetch(tgzUrl, { headers: { range: 'bytes=2-11' } });
  t.equal(part.status, 206);
  t.equal(part.headers.get('content-range'), `bytes 2-11/${data.length}`);
  t.same(Buffer.from(await part.arrayBuffer()), data.subarray(2, 12));
  const beyond = await fetch(tgzUrl, { headers: { range: `bytes=${data.length + 5}-` } });
  t.equal(beyond.status, 416);
  t.equal(beyond.headers.get('content-range'), `bytes */${data.length}`);
  await beyond.arrayBuffer();
  const head = await fetch(tgzUrl, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.headers.get('content-length'), String(data.length));
  // npm's own default tarball path for scoped packages works too.
  t.equal((await fetch(`${r.url}/npm/@team/widget/-/@team/widget-1.0.0.tgz`)).status, 200);
  t.equal((await fetch(`${r.url}/npm/@team/widget/-/widget-2.0.0.tgz`)).status, 404);

  // Versions are immutable: same or different bytes, 409, nothing changes.
  const before = await (await fetch(`${r.url}/npm/@team/widget`)).text();
  const again = await put('@team/widget', publishDoc('@team/widget', '1.0.0', tarball('other')));
  t.equal(again.status, 409);
  t.match(await again.json(), { error: /previously published version 1\.0\.0/ });
  t.equal(await (await fetch(`${r.url}/npm/@team/widget`)).text(), before);
  t.same(Buffer.from(await (await fetch(tgzUrl)).arrayBuffer()), data, 'tarball unchanged');

  // A second version with its own tag.
  t.equal((await put('@team/widget', publishDoc('@team/widget', '1.1.0-beta.1', tarball('beta'), { tags: { next: '1.1.0-beta.1' } }))).status, 201);
  const two = (await (await fetch(`${r.url}/npm/@team/widget`)).json()) as any;
  t.same(two['dist-tags'], { latest: '1.0.0', next: '1.1.0-beta.1' });
  t.match(two._rev, /^2-/);
});

t.test('refused publishes leave stored state untouched', async (t) => {
  const r = await startRegistry({ server: { body_limit_mb: 1 } });
  t.teardown(() => r.close());
  const put = (path: string, body: unknown, type = 'application/json') =>
    fetch(`${r.url}/npm/${path}`, { method: 'PUT', headers: { 'content-type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  // The package document plus every stored file (blobs included) and leftover temp files.
  const state = async () => {
    const res = await fetch(`${r.url}/npm/pkg`);
    const root = join(r.dir, 'storage');
    const files = (await readdir(root, { recursive: true })).map(String).sort();
    return `${res.status} ${await res.text()} ${files.join(',')} tmp:${(await readdir(join(root, 'tmp'))).length}`;
  };
  t.equal((await put('pkg', publishDoc('pkg', '1.0.0', tarball('one')))).status, 201);
  const stored = await state();

  const data = tarball('two');
  const cases: [string, string, unknown, RegExp][] = [
    ['bad base64', 'pkg', publishDoc('pkg', '2.0.0', data, { data64: '!!not*base64!!==' }), /not valid base64/],
    ['base64 with junk', 'pkg', publishDoc('pkg', '2.0.0', data, { data64: data.toString('base64').slice(0, -4) + '@@@@' }), /not valid base64/],
    ['wrong integrity', 'pkg', publishDoc('pkg', '2.0.0', data, { integrity: 'sha512-' + createHash('sha512').update('x').digest('base64') }), /integrity check failed.*dist\.integrity/],
    ['wrong shasum', 'pkg', publishDoc('pkg', '2.0.0', data, { shasum: createHash('sha1').update('x').digest('hex') }), /dist\.shasum/],
    ['not gzip', 'pkg', publishDoc('pkg', '2.0.0', Buffer.from('plain text, not a tarball')), /not a gzip tarball/],
    ['attachment for another version', 'pkg', publishDoc('pkg', '2.0.0', data, { attachmentName: 'pkg-3.0.0.tgz' }), /no tarball attachment pkg-2\.0\.0\.tgz/],
    ['path in attachment name', 'pkg', publishDoc('pkg', '2.0.0', data, { attachmentName: '../../etc/pkg-2.0.0.tgz' }), /invalid attachment file name/],
    ['name differs from URL', 'pkg', publishDoc('other', '2.0.0', data), /does not match the URL/],
    ['manifest names another package', 'pkg', publishDoc('pkg', '2.0.0', data, { manifestName: 'evil' }), /names package "evil"/],
    ['not semver', 'pkg', publishDoc('pkg', 'v2', data), /not semver/],
    ['tag that reads as a version', 'pkg', publishDoc('pkg', '2.0.0', data, { tags: { '1.x': '2.0.0' } }), /invalid dist-tag/],
    ['tag for a version not in the publish', 'pkg', publishDoc('pkg', '2.0.0', data, { tags: { latest: '1.0.0' } }), /must point to a version in this publish/],
    ['invalid JSON', 'pkg', '{"name": "pkg", ', /not valid JSON/],
  ];
  for (const [what, path, body, message] of cases) {
    const res = await put(path, body);
    t.equal(res.status, 400, what);
    t.match(res.headers.get('content-type'), /application\/json/);
    t.match(await res.json(), { error: message }, what);
    t.equal(await state(), stored, `${what}: package unchanged`);
  }
  t.equal((await fetch(`${r.url}/npm/pkg/-/pkg-2.0.0.tgz`)).status, 404);
  const dup = await put('pkg', publishDoc('pkg', '1.0.0', tarball('different bytes')));
  t.equal(dup.status, 409);
  t.equal(await state(), stored, 'republish: no new blob, package unchanged');

  // Above body_limit_mb (1 MiB): refused before anything is stored.
  const big = gzipSync(Buffer.from(Array.from({ length: 1200 * 1024 }, (_, i) => (i * 7919) % 251)), { level: 0 });
  const tooBig = await put('pkg', publishDoc('pkg', '2.0.0', big));
  t.equal(tooBig.status, 413);
  t.match(await tooBig.json(), { error: /exceeds/ });
  t.equal(await state(), stored, 'oversized publish: package unchanged');
  const newPkg = await put('fresh', publishDoc('fresh', '1.0.0', big));
  t.equal(newPkg.status, 413);
  t.equal((await fetch(`${r.url}/npm/fresh`)).status, 404, 'oversized publish of a new package creates nothing');
  t.equal(await state(), stored);

  // Invalid names.
  t.equal((await put('Bad..Name', publishDoc('Bad..Name', '1.0.0', data))).status, 400);
  t.equal((await put('.hidden', publishDoc('.hidden', '1.0.0', data))).status, 400);
  t.equal((await fetch(`${r.url}/npm/UPPER`)).status, 404);
  t.equal((await fetch(`${r.url}/npm/%ZZ`)).status, 404);
});

t.test('concurrent publishes of different versions all land', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const versions = Array.from({ length: 12 }, (_, i) => `1.${i}.0`);
  const results = await Promise.all(
    versions.map((v) =>
      fetch(`${r.url}/npm/busy`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(publishDoc('busy', v, tarball(v))) }),
    ),
  );
  t.same(results.map((x) => x.status), versions.map(() => 201));
  const doc = (await (await fetch(`${r.url}/npm/busy`)).json()) as any;
  t.same(Object.keys(doc.versions).sort(), [...versions].sort());
  t.ok(versions.includes(doc['dist-tags'].latest), 'latest is the version of one of the publishes (each sets it)');
  t.match(doc._rev, /^12-/);
  // Racing publishes of the same version: exactly one wins.
  const same = await Promise.all(
    [1, 2, 3, 4].map((i) =>
      fetch(`${r.url}/npm/busy`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(publishDoc('busy', '2.0.0', tarball(`x${i}`))) }),
    ),
  );
  t.same(same.map((x) => x.status).sort(), [201, 409, 409, 409]);
});

t.test('revisions, dist-tags, unpublish and errors', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const json = { 'content-type': 'application/json' };
  for (const v of ['1.0.0', '1.1.0']) {
    t.equal((await fetch(`${r.url}/npm/tagged`, { method: 'PUT', headers: json, body: JSON.stringify(publishDoc('tagged', v, tarball(v))) })).status, 201);
  }
  const doc = (await (await fetch(`${r.url}/npm/tagged?write=true`)).json()) as any;
  const rev = doc._rev as string;

  // dist-tags API.
  const tagUrl = `${r.url}/npm/-/package/tagged/dist-tags`;
  t.same(await (await fetch(tagUrl)).json(), { latest: '1.1.0' });
  t.equal((await fetch(`${tagUrl}/stable`, { method: 'PUT', headers: json, body: '"1.0.0"' })).status, 201);
  t.equal((await fetch(`${tagUrl}/broken`, { method: 'PUT', headers: json, body: '"7.7.7"' })).status, 404);
  t.equal((await fetch(`${tagUrl}/1.0`, { method: 'PUT', headers: json, body: '"1.0.0"' })).status, 400);
  t.equal((await fetch(`${tagUrl}/gone`, { method: 'DELETE' })).status, 404);
  t.same(await (await fetch(tagUrl)).json(), { latest: '1.1.0', stable: '1.0.0' });

  // Updates need the current revision.
  const stale = await fetch(`${r.url}/npm/tagged/-rev/${rev}`, { method: 'PUT', headers: json, body: JSON.stringify({ ...doc, versions: { '1.1.0': doc.versions['1.1.0'] } }) });
  t.equal(stale.status, 409, 'the dist-tag change moved the revision on');
  t.match(await stale.json(), { error: /revision conflict/ });
  t.equal((await fetch(`${r.url}/npm/tagged/-rev/${rev}`, { method: 'DELETE' })).status, 409);

  // A PUT may not change a published version's content, only its deprecation.
  const cur = (await (await fetch(`${r.url}/npm/tagged?write=true`)).json()) as any;
  cur.versions['1.0.0'].dependencies = { evil: '*' };
  cur.versions['1.0.0'].deprecated = 'old';
  t.equal((await fetch(`${r.url}/npm/tagged`, { method: 'PUT', headers: json, body: JSON.stringify(cur) })).status, 200);
  const v1 = (await (await fetch(`${r.url}/npm/tagged/1.0.0`)).json()) as any;
  t.equal(v1.deprecated, 'old');
  t.same(v1.dependencies, { 'left-pad': '^1.0.0' }, 'dependencies are immutable');
  const cur2 = (await (await fetch(`${r.url}/npm/tagged?write=true`)).json()) as any;
  cur2.versions['9.0.0'] = { name: 'tagged', version: '9.0.0' };
  const noTarball = await fetch(`${r.url}/npm/tagged`, { method: 'PUT', headers: json, body: JSON.stringify(cur2) });
  t.equal(noTarball.status, 400, 'no version without its tarball');
  t.match(await noTarball.json(), { error: /9\.0\.0 .*not published/ });
  const staleBody = await fetch(`${r.url}/npm/tagged`, { method: 'PUT', headers: json, body: JSON.stringify(cur) });
  t.equal(staleBody.status, 409, 'a document with an old _rev is refused');

  // Unpublish 1.0.0 the way npm does it, then try to reuse the number.
  const w = (await (await fetch(`${r.url}/npm/tagged?write=true`)).json()) as any;
  delete w.versions['1.0.0'];
  delete w['dist-tags'].stable;
  t.equal((await fetch(`${r.url}/npm/tagged/-rev/${w._rev}`, { method: 'PUT', headers: json, body: JSON.stringify(w) })).status, 200);
  const w2 = (await (await fetch(`${r.url}/npm/tagged?write=true`)).json()) as any;
  t.equal((await fetch(`${r.url}/npm/tagged/-/tagged-1.1.0.tgz/-rev/${w2._rev}`, { method: 'DELETE' })).status, 409, 'a published tarball cannot be deleted');
  t.equal((await fetch(`${r.url}/npm/tagged/-/tagged-1.0.0.tgz/-rev/${w2._rev}`, { method: 'DELETE' })).status, 200);
  t.equal((await fetch(`${r.url}/npm/tagged/-/tagged-1.0.0.tgz`)).status, 404);
  const reuse = await fetch(`${r.url}/npm/tagged`, { method: 'PUT', headers: json, body: JSON.stringify(publishDoc('tagged', '1.0.0', tarball('1.0.0'))) });
  t.equal(reuse.status, 409, 'an unpublished version number is not reused');

  // Whole package.
  t.equal((await fetch(`${r.url}/npm/tagged/-rev/${w2._rev}`, { method: 'DELETE' })).status, 200);
  t.equal((await fetch(`${r.url}/npm/tagged`)).status, 404);
  t.equal((await fetch(`${r.url}/npm/-/package/tagged/dist-tags`)).status, 404);

  // Error shapes and methods.
  const unknown = await fetch(`${r.url}/npm/-/nothing/here`);
  t.equal(unknown.status, 404);
  t.match(await unknown.json(), { error: String });
  const post = await fetch(`${r.url}/npm/tagged/1.0.0`, { method: 'POST' });
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET, HEAD');
  t.same(await (await fetch(`${r.url}/npm/-/ping`)).json(), {});
  t.same(await (await fetch(`${r.url}/npm/-/whoami`)).json(), { username: 'anonymous' });
  const login = await fetch(`${r.url}/npm/-/user/org.couchdb.user:bob`, { method: 'PUT', headers: json, body: '{}' });
  t.equal(login.status, 404);
  t.match(await login.json(), { error: /token/ });
});

t.test('links follow public_url', async (t) => {
  const r = await startRegistry({ server: { public_url: 'https://registry.example.com' } });
  t.teardown(() => r.close());
  const data = tarball('x');
  await fetch(`${r.url}/npm/linked`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(publishDoc('linked', '1.0.0', data)) });
  const doc = (await (await fetch(`${r.url}/npm/linked`)).json()) as any;
  t.equal(doc.versions['1.0.0'].dist.tarball, 'https://registry.example.com/npm/linked/-/linked-1.0.0.tgz');
});
