// The web UI's pages over real content, without a browser: an index lists its
// per-platform manifests, a referrer shows on its subject, tags page 50 at a
// time, repository filters, HEAD, error pages, the assets' caching, the root
// for browsers and for everyone else; sessions stored as hashes and ended by
// their expiry.
import t from 'tap';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry, tempDir } from './helpers/registry.js';
import { twine, writeWheel } from './helpers/pypi-tools.js';
import { uiSignIn } from './helpers/ui-session.js';
import { publish, publishBody, publishMeta } from './helpers/cargo-wire.js';
import { deleteUser, setUser, startAuthRegistry, USERS } from './helpers/auth.js';
import { OCI_MANIFEST, pushImage, pushIndex, putManifest } from './helpers/oci-push.js';

const get = async (url: string, headers: Record<string, string> = {}, method = 'GET') => {
  const res = await fetch(url, { headers, method, redirect: 'manual' });
  return { res, body: await res.text() };
};

t.test('Docker pages: platforms, referrers, tag pages, filters', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const amd = await pushImage(r, 'team/app', 'amd');
  const arm = await pushImage(r, 'team/app', 'arm');
  const index = await pushIndex(r, 'team/app', 'multi', [amd, arm]);
  const sbom = await pushImage(r, 'team/app', 'sbom', { extra: { artifactType: 'application/spdx+json', subject: { mediaType: OCI_MANIFEST, digest: amd.digest, size: amd.size } } });
  for (let i = 0; i < 60; i++) t.equal((await putManifest(r, 'team/app', `t${String(i).padStart(2, '0')}`, amd.bytes, OCI_MANIFEST)).status, 201);
  await pushImage(r, 'other/thing', 'v1');

  const multi = await get(`${r.url}/ui/docker/team/app?ref=multi`);
  t.equal(multi.res.status, 200);
  t.match(multi.body, /<caption>Platforms<\/caption>/);
  for (const [child, platform] of [[amd, 'linux/amd64'], [arm, 'linux/arm64']] as const) {
    t.match(multi.body, `<td>${platform}</td><td><a href="/ui/docker/team/app?ref=${encodeURIComponent(child.digest)}">`, `${platform} links to its manifest`);
  }
  t.match(multi.body, `docker pull 127.0.0.1:${r.port}/team/app:multi`);
  t.match(multi.body, index.digest);

  const byDigest = await get(`${r.url}/ui/docker/team/app?ref=${amd.digest}`);
  t.match(byDigest.body, /Referrers[\s\S]*application\/spdx\+json/, 'the SBOM shows among the referrers of its subject');
  t.match(byDigest.body, `docker pull 127.0.0.1:${r.port}/team/app@${amd.digest}`);
  t.match(byDigest.body, `?ref=${encodeURIComponent(sbom.digest)}`);

  const first = await get(`${r.url}/ui/docker/team/app`);
  t.equal((first.body.match(/<tr><td><a href="\/ui\/docker\/team\/app\?ref=/g) ?? []).length, 50, '50 tags on a page');
  const next = /<a href="([^"]+)" rel="next">/.exec(first.body)?.[1]?.replaceAll('&amp;', '&');
  t.ok(next, 'a next page');
  const second = await get(`${r.url}${next}`);
  t.equal((second.body.match(/<tr><td><a href="\/ui\/docker\/team\/app\?ref=/g) ?? []).length, 64 - 50, 'the rest on the next page');
  t.notMatch(second.body, /rel="next"/, 'and no further page');
  t.ok(Buffer.byteLength(first.body) < 100 * 1024, 'under 100 KB');

  const filtered = await get(`${r.url}/ui/docker/?q=other`);
  t.match(filtered.body, 'href="/ui/docker/other/thing"');
  t.notMatch(filtered.body, 'href="/ui/docker/team/app"', 'the filter leaves other repositories out');

  const dash = await get(`${r.url}/ui/`);
  t.match(dash.body, /Recent pushes and publishes[\s\S]*other\/thing<\/a> v1/, 'the last push first');
  t.match(dash.body, /Docker<\/a><div class="n">2<\/div>/, 'two repositories');

  const head = await fetch(`${r.url}/ui/docker/team/app`, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal((await head.arrayBuffer()).byteLength, 0, 'HEAD has no body');
});

t.test('root, errors, assets', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const browser = await get(`${r.url}/`, { accept: 'text/html,*/*;q=0.8' });
  t.same([browser.res.status, browser.res.headers.get('location')], [303, '/ui/']);
  const curl = await get(`${r.url}/`, { accept: '*/*' });
  t.equal(curl.res.status, 404, 'a non-browser at the root still gets the plain 404');
  t.same(JSON.parse(curl.body), { error: 'not found', code: 'NOT_FOUND' });

  for (const [path, status] of [['/ui/docker/team/none', 404], ['/ui/nothing/x', 404], ['/ui/docker/%zz', 400], ['/ui/npm/-bad-', 404]] as const) {
    const { res, body } = await get(`${r.url}${path}`);
    t.equal(res.status, status, path);
    t.match(res.headers.get('content-type'), /^text\/html/, `${path}: an HTML error page`);
    t.match(body, /role="alert"/);
  }
  const bare = await get(`${r.url}/ui/docker`);
  t.same([bare.res.status, bare.res.headers.get('location')], [303, '/ui/docker/'], 'a format without its slash');
  const post = await fetch(`${r.url}/ui/`, { method: 'POST' });
  t.same([post.status, post.headers.get('allow')], [405, 'GET, HEAD']);

  const page = (await get(`${r.url}/ui/`)).body;
  const css = /href="(\/ui\/assets\/ui\.[0-9a-f]+\.css)"/.exec(page)![1]!;
  const js = /src="(\/ui\/assets\/ui\.[0-9a-f]+\.js)"/.exec(page)![1]!;
  for (const asset of [css, js]) {
    const a = await fetch(r.url + asset);
    t.equal(a.status, 200);
    t.match(a.headers.get('cache-control'), /immutable/);
    const again = await fetch(r.url + asset, { headers: { 'if-none-match': a.headers.get('etag')! } });
    t.equal(again.status, 304, `${asset} revalidates`);
  }
  t.notMatch(page, /<script>|<style|style=/, 'no inline script or style');
});

t.test('sessions are stored as hashes and end at their expiry', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const cookie = (await uiSignIn(r.url, 'alice', USERS.alice)).setCookie!;
  t.match(cookie, /^nora_session=[A-Za-z0-9_-]{43}; Path=\/ui; Max-Age=43200; HttpOnly; SameSite=Strict$/, 'HttpOnly, SameSite=Strict, 12 hours; not Secure over plain http');
  const id = cookie.split(';')[0]!.split('=')[1]!;
  const storage = r.registry.ctx.storage;
  const key = `ui/sessions/${createHash('sha256').update(id).digest('hex')}`;
  const stored = await storage.get(key);
  t.ok(stored, 'stored under the hash of the id');
  t.notOk(stored!.data.toString().includes(id), 'the id itself is not stored');
  t.equal((await get(`${r.url}/ui/tokens`, { cookie: `nora_session=${id}` })).res.status, 200, 'the session works');

  const s = JSON.parse(stored!.data.toString());
  await storage.put(key, JSON.stringify({ ...s, expires: Date.now() - 1000 }));
  const expired = await get(`${r.url}/ui/tokens`, { cookie: `nora_session=${id}` });
  t.match([expired.res.status, expired.res.headers.get('location')], [303, /^\/ui\/login/], 'an expired session is no session');
  t.equal(await storage.get(key), null, 'and is removed');
});

t.test('Secure cookies when the link base is https', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  // The default trusted_proxies include 127.0.0.1: a proxy's X-Forwarded-Proto says https.
  const form = await fetch(`${r.url}/ui/login`, { headers: { 'x-forwarded-proto': 'https' } });
  t.match(form.headers.get('set-cookie'), /; Secure$/);
});

t.test('PyPI project page after a twine upload', async (t) => {
  const r = await startRegistry();
  const dir = await tempDir('nora-ui-pypi-');
  t.teardown(async () => {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });
  const wheel = join(dir, 'demo_pkg-1.0-py3-none-any.whl');
  await writeWheel(wheel, 'demo_pkg', '1.0', 'Demo-Pkg');
  const up = await twine(['--repository-url', `${r.url}/pypi/`, '-u', 'x', '-p', 'x', wheel]);
  t.equal(up.code, 0, `twine upload: ${up.stderr}`);
  const list = await get(`${r.url}/ui/pypi/`);
  t.match(list.body, 'href="/ui/pypi/demo-pkg"');
  const page = await get(`${r.url}/ui/pypi/Demo_Pkg`);
  t.equal(page.res.status, 200, 'any spelling of the name finds the project');
  t.match(page.body, `pip install --index-url ${r.url}/simple/ Demo-Pkg`);
  t.match(page.body, /<td>1\.0<\/td><td><a href="\/simple\/demo-pkg\/demo_pkg-1\.0-py3-none-any\.whl">/, 'the file, linked for download');
  t.match(page.body, /<pre>long description/, 'the description from the wheel metadata, as plain text (no Markdown content type)');
  t.match((await get(`${r.url}/ui/search?q=demo`)).body, /PyPI[\s\S]*demo-pkg/);
});

t.test('tokens from the UI: never a role above the user', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  for (const [user, adminAllowed] of [['alice', false], ['admin', true]] as const) {
    const cookie = (await uiSignIn(r.url, user, USERS[user])).cookie!;
    const page = (await get(`${r.url}/ui/tokens`, { cookie })).body;
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const res = await fetch(`${r.url}/ui/tokens`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, role: 'admin', ttl_days: '1', description: 'forged' }).toString(),
    });
    const body = await res.text();
    if (adminAllowed) {
      t.equal(res.status, 201, 'an admin_users member mints an admin token');
      t.match(body, /id="token" readonly value="nra_[0-9a-f]{32}"/);
    } else {
      t.equal(res.status, 403, `${user} may not mint an admin token, even with a hand-made form`);
      t.match(body, /admin role is not permitted/);
    }
    const bad = await fetch(`${r.url}/ui/tokens`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, role: 'read', ttl_days: '99999' }).toString(),
    });
    t.equal(bad.status, 422, 'a ttl out of range is refused with the API message');
    t.match(await bad.text(), /ttl_days: must be a whole number of days from 1 to 3650/);
  }
});

t.test('a new password or a removed user ends the sessions', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const alice = (await uiSignIn(r.url, 'alice', USERS.alice)).cookie!;
  const bob = (await uiSignIn(r.url, 'bob', USERS.bob)).cookie!;
  const status = async (cookie: string) => (await get(`${r.url}/ui/tokens`, { cookie })).res.status;
  t.same([await status(alice), await status(bob)], [200, 200]);
  await setUser(r.htpasswd, 'alice', 'new-pw');
  await deleteUser(r.htpasswd, 'bob');
  const until = Date.now() + 10_000;
  while (Date.now() < until && ((await status(alice)) === 200 || (await status(bob)) === 200)) await new Promise((ok) => setTimeout(ok, 100));
  t.same([await status(alice), await status(bob)], [303, 303], 'both are sent to sign in again once the file is reloaded');
  t.match((await uiSignIn(r.url, 'alice', 'new-pw')).cookie, /^nora_session=/, 'the new password signs in');
});

t.test('Cargo and raw-file pages', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  for (const v of ['0.1.0', '0.2.0']) {
    const res = await publish(r.url, publishBody(publishMeta('demo-crate', v, { description: 'a <i>demo</i> crate' }), Buffer.from(`crate ${v}`)));
    t.equal(res.status, 200, `cargo publish ${v}`);
  }
  const crate = await get(`${r.url}/ui/cargo/demo-crate`);
  t.equal(crate.res.status, 200);
  t.match(crate.body, /<dt>Latest<\/dt><dd>0\.2\.0<\/dd>/);
  t.match(crate.body, 'a &lt;i&gt;demo&lt;/i&gt; crate', 'the description escaped');
  t.match(crate.body, `export CARGO_REGISTRIES_NORA_INDEX=sparse+${r.url}/cargo/index/`);
  t.match(crate.body, 'href="/cargo/api/v1/crates/demo-crate/0.1.0/download"');
  t.match((await get(`${r.url}/ui/cargo/`)).body, 'href="/ui/cargo/demo_crate"', 'listed by canonical name');
  t.match((await get(`${r.url}/ui/cargo/?q=Demo-Crate`)).body, 'href="/ui/cargo/demo_crate"', 'found by any spelling');

  // curl uploads, as the README's raw recipe does.
  const exec = promisify(execFile);
  for (const p of ['releases/1.0/app.tar.gz', 'releases/1.0/notes.txt', 'top.txt']) {
    await exec('curl', ['-fsS', '-T', '/dev/null', `${r.url}/raw/${p}`], { encoding: 'utf8' }).catch((e) => t.fail(`curl -T ${p}: ${e}`));
  }
  const root = await get(`${r.url}/ui/raw/`);
  t.match(root.body, /href="\/ui\/raw\/releases">releases<\/a><\/td><td>directory/);
  t.match(root.body, /href="\/ui\/raw\/top\.txt">top\.txt<\/a><\/td><td>0 B/);
  const dir = await get(`${r.url}/ui/raw/releases/1.0`);
  t.match(dir.body, 'href="/ui/raw/releases/1.0/notes.txt"');
  const file = await get(`${r.url}/ui/raw/releases/1.0/app.tar.gz`);
  t.match(file.body, `curl -fO ${r.url}/raw/releases/1.0/app.tar.gz`);
  t.match(file.body, /<dt>SHA-256<\/dt><dd><code>e3b0c442/, 'the (empty) file');
  t.equal((await get(`${r.url}/ui/raw/nothing/here`)).res.status, 404);
  t.equal((await get(`${r.url}/ui/raw/a%5Cb`)).res.status, 400, 'the raw path rules apply (no backslash)');
  const search = await get(`${r.url}/ui/search?q=notes`);
  t.match(search.body, /Raw files[\s\S]*releases\/1\.0\/notes\.txt/, 'search finds a file by any part of its path');
  const dash = await get(`${r.url}/ui/`);
  t.match(dash.body, /Cargo<\/a><div class="n">1<\/div>[\s\S]*Raw files<\/a><div class="n">3<\/div>/, 'counted on the dashboard');
  t.match(dash.body, /top\.txt<\/a> uploaded[\s\S]*demo-crate<\/a> 0\.2\.0/, 'among the recent uploads and publishes');
});

t.test('Maven artifact pages after deploys', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  for (const [v, f] of [['1.0', 'demo-1.0.jar'], ['1.0', 'demo-1.0.pom'], ['1.1', 'demo-1.1.jar']]) {
    const res = await fetch(`${r.url}/maven2/com/example/demo/${v}/${f}`, { method: 'PUT', body: `bytes of ${f}` });
    t.equal(res.status, 201, `deploy ${f}`);
  }
  const list = await get(`${r.url}/ui/maven/`);
  t.match(list.body, 'href="/ui/maven/com.example%3Ademo"');
  const page = await get(`${r.url}/ui/maven/com.example:demo`);
  t.equal(page.res.status, 200);
  t.match(page.body, /<dt>Latest<\/dt><dd>1\.1<\/dd>/);
  t.match(page.body, 'href="/maven2/com/example/demo/1.0/demo-1.0.pom"');
  t.match(page.body, `value="${r.url}/maven2/"`);
  t.match(page.body, '&lt;groupId&gt;com.example&lt;/groupId&gt;&lt;artifactId&gt;demo&lt;/artifactId&gt;&lt;version&gt;1.1&lt;/version&gt;', 'the dependency, escaped');
  t.equal((await get(`${r.url}/ui/maven/com.example:none`)).res.status, 404);
  const odd = await get(`${r.url}/ui/maven/a..b:x`);
  t.equal(odd.res.status, 404, `not a coordinate: ${odd.body.slice(-300)}`);
  t.match((await get(`${r.url}/ui/search?q=demo`)).body, /Maven[\s\S]*com\.example:demo/);
  t.match((await get(`${r.url}/ui/`)).body, /com\.example:demo<\/a> 1\.1/, 'among the recent deploys');
});
