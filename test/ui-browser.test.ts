// The web UI in a real browser (Debian's Chromium, headless, driven by
// playwright-core) against registries with real content: an image pushed by
// skopeo and a package published by npm. Anonymous browsing with
// anonymous_read, signing in with the keyboard alone, search, creating a
// token that curl then uses, revoking it and curl being refused, CSRF
// refusals (a forged field, and a real form on another site), sign-out, and
// the gated mode where every page waits for a sign-in. Every page is watched
// for console errors, failed requests and unexpected error answers.
// Screenshots of the main pages go to test/screenshots/ (git-ignored).
import t from 'tap';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { mint, startAuthRegistry, type AuthRegistry } from './helpers/auth.js';
import { tempDir, ROOT } from './helpers/registry.js';
import { buildOciImage } from './helpers/oci-image.js';
import { makePackage, NpmWorkspace } from './helpers/npm-cli.js';
import { haveChromium, openBrowser, tabTo, type Watched } from './helpers/browser.js';

const exec = promisify(execFile);
const SHOTS = join(ROOT, 'test', 'screenshots');
const README = '# nora-hello\n\nSays **hello**.\n\n<script>window.pwned = 1</script>\n\n[bad](javascript:alert(1)) [good](https://example.com/)\n';

async function curlStatus(url: string, token: string): Promise<number> {
  const { stdout } = await exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${token}`, url]);
  return Number(stdout);
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}

/** Fills the sign-in form with the keyboard only: the username field has focus on arrival. */
async function signInWithKeyboard(page: Page, user: string, pw: string): Promise<void> {
  await page.waitForSelector('#username:focus');
  await page.keyboard.type(user);
  await page.keyboard.press('Tab');
  await page.keyboard.type(pw);
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
}

async function content(r: AuthRegistry, work: string): Promise<void> {
  const host = `127.0.0.1:${r.port}`;
  const img = await buildOciImage(join(work, 'img'), 'v1', 16);
  const write = await mint(r.url, 'alice', 'alice-pw', 'write');
  const ws = new NpmWorkspace(join(work, 'npm'), `${r.url}/npm/`);
  await makePackage(ws.dir, { name: 'ws', version: '0.0.0', private: true }, null);
  await ws.configure(write);
  const pkg = await makePackage(join(work, 'hello'), { name: 'nora-hello', version: '1.0.0', description: 'A <b>friendly</b> greeter' }, 'hello');
  await writeFile(join(pkg, 'README.md'), README);
  const [pub] = await Promise.all([
    ws.run(['publish'], pkg),
    exec('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:alice-pw', `oci:${img.dir}:v1`, `docker://${host}/team/app:v1`]),
  ]);
  if (pub.code !== 0) throw new Error(`npm publish failed: ${pub.stderr}`);
}

t.test('the web UI in Chromium', { skip: (await haveChromium()) ? false : 'chromium is not installed (/usr/bin/chromium); CI installs it' }, async (t) => {
  await mkdir(SHOTS, { recursive: true });
  const work = await tempDir('nora-ui-');
  const r = await startAuthRegistry({ anonymous_read: true });
  let b: Watched | null = null;
  t.teardown(async () => {
    await b?.close();
    await r.close();
    await rm(work, { recursive: true, force: true });
  });
  await content(r, work);
  b = await openBrowser();
  const { page } = b;
  const ui = (p: string) => `${r.url}/ui/${p}`;

  await t.test('anonymous browsing with anonymous_read', async (t) => {
    const res = await page.goto(`${r.url}/`);
    t.equal(page.url(), ui(''), 'the root sends a browser to the UI');
    t.ok((await res!.body()).length < 100 * 1024, 'the dashboard is under 100 KB');
    t.match(await page.textContent('main'), /Recent pushes and publishes[\s\S]*nora-hello/, 'the publish is among the recent ones');
    t.equal(await page.locator('nav a[href="/ui/docker/"]').count(), 0, "Docker's list is not offered: its catalog needs a sign-in");
    await shot(page, 'dashboard-anonymous');

    await page.goto(ui('npm/'));
    await Promise.all([page.waitForNavigation(), page.click('text=nora-hello')]);
    t.equal(page.url(), ui('npm/nora-hello'));
    t.match(await page.textContent('main'), /A <b>friendly<\/b> greeter/, 'the description is shown as text');
    t.equal(await page.locator('.readme strong').textContent(), 'hello', 'the readme is rendered');
    t.equal(await page.locator('.readme h3').textContent(), 'nora-hello', "its heading below the page's own");
    t.equal(await page.locator('h1').count(), 1, 'one h1 per page');
    t.equal(await page.locator('.readme script, main b').count(), 0, 'raw HTML in the readme and description stays text');
    t.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    t.same(await page.locator('.readme a').evaluateAll((as) => as.map((a) => a.getAttribute('href'))), ['https://example.com/'], 'a javascript: link is not a link');
    t.match(await page.inputValue('.cmd input'), `npm install --registry=${r.url}/npm/ nora-hello`);
    await shot(page, 'npm-package');

    // A repository's page is a read of that repository: open with anonymous_read.
    await page.goto(ui('docker/team/app'));
    t.match(await page.textContent('table'), /v1\s*sha256:/, 'the tag with its digest');
    // The repository list is the catalog: a sign-in first.
    await page.goto(ui('docker/'));
    t.match(page.url(), `${ui('login')}?next=${encodeURIComponent('/ui/docker/')}`);
  });

  await t.test('sign in, browse Docker and search with the keyboard', async (t) => {
    await signInWithKeyboard(page, 'alice', 'alice-pw');
    t.equal(page.url(), ui('docker/'), 'back where the sign-in was asked for');
    const cookies = await b!.context.cookies();
    const session = cookies.find((c) => c.name === 'nora_session')!;
    t.match(session, { httpOnly: true, sameSite: 'Strict', path: '/ui', secure: false }, 'the session cookie');
    t.ok(session.expires > Date.now() / 1000 + 3600, 'with an expiry');

    await tabTo(page, 'a[href="/ui/docker/team/app"]');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    t.equal(page.url(), ui('docker/team/app'));
    const pull = await page.inputValue('.cmd input');
    t.equal(pull, `docker pull 127.0.0.1:${r.port}/team/app:v1`, 'a pull command for this registry');
    await shot(page, 'docker-repository');
    await tabTo(page, 'a[href="/ui/docker/team/app?ref=v1"]');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    const main = await page.textContent('main');
    t.match(main, /Config and layers/);
    t.match(main, /linux\/amd64/, 'the platform from the image config');
    t.match(main, /application\/vnd\.oci\.image\.layer\.v1\.tar/, 'its layers');
    await shot(page, 'docker-manifest');

    // Search from the navigation's box.
    await tabTo(page, '#q');
    await page.keyboard.type('hello');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    t.equal(page.url(), ui('search?q=hello'));
    t.match(await page.textContent('main'), /npm[\s\S]*nora-hello[\s\S]*PyPI[\s\S]*No projects match/);
    await page.goto(ui('search?q=app'));
    t.match(await page.textContent('main'), /Docker[\s\S]*team\/app/, 'signed in, Docker repositories are searched too');
    await page.goto(ui(''));
    t.match(await page.textContent('.grid'), /Docker\s*1\s*repositories\s*npm\s*1\s*packages/, 'signed in, every format is counted');
    await shot(page, 'dashboard');
  });

  await t.test('tokens: create with the keyboard, use with curl, revoke', async (t) => {
    await page.goto(ui(''));
    await tabTo(page, 'a[href="/ui/tokens"]');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    t.same(await page.locator('#role option').allTextContents(), ['read', 'write'], 'alice is not an admin user: no admin role offered');
    await tabTo(page, '#description');
    await page.keyboard.type('from the browser');
    await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowDown'); // read → write
    await tabTo(page, '#create-token');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    const token = await page.inputValue('#token');
    t.match(token, /^nra_[0-9a-f]{32}$/, 'the new token, shown once');
    await page.click('button[data-copy="token"]');
    await page.waitForSelector('button[data-copy="token"]:text("Copied")');
    t.match(await page.textContent('table'), /from the browser\s*write/);

    t.equal(await curlStatus(`${r.url}/v2/_catalog`, token), 200, 'curl lists the catalog with the token');
    await page.goto(ui('tokens'));
    t.equal(await page.locator('#token').count(), 0, 'the token is not shown again');
    t.notOk((await page.content()).includes(token.slice(4)), 'nor anywhere on the page');
    await shot(page, 'tokens');
    await Promise.all([page.waitForNavigation(), page.click('button:text("Revoke")')]);
    t.notMatch(await page.textContent('table'), /from the browser/, 'the token is gone from the list');
    t.equal(await curlStatus(`${r.url}/v2/_catalog`, token), 401, 'curl is refused once revoked');
  });

  await t.test('CSRF: a forged field and a form on another site are refused', async (t) => {
    await page.goto(ui('tokens'));
    const csrf = await page.inputValue('input[name=csrf]');
    const count = async () => (await r.registry.ctx.gate.tokens!.list({ user: 'alice', admin: false }, '127.0.0.1')).tokens.length;
    const before = await count();
    const post = (form: Record<string, string>, headers: Record<string, string> = {}) =>
      page.request.post(ui('tokens'), { form, headers, maxRedirects: 0 });
    t.equal((await post({ csrf: 'x'.repeat(43), role: 'read', ttl_days: '1' })).status(), 403, 'a wrong token');
    t.equal((await post({ role: 'read', ttl_days: '1' })).status(), 403, 'no token');
    t.equal((await post({ csrf, role: 'read', ttl_days: '1' }, { 'sec-fetch-site': 'cross-site' })).status(), 403, 'the right token from another site');
    t.equal(await count(), before, 'no token was created');

    // A real page on another site (localhost is not 127.0.0.1) posting the form: SameSite=Strict keeps the cookie home.
    const evil = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form method="post" action="${ui('tokens')}"><input name="role" value="write"><input name="ttl_days" value="9"><input name="csrf" value="${csrf}"></form><script>document.forms[0].submit()</script>`);
    });
    await new Promise<void>((ok) => evil.listen(0, '127.0.0.1', ok));
    t.teardown(() => evil.close());
    const port = (evil.address() as { port: number }).port;
    await page.goto(`http://localhost:${port}/`);
    await page.waitForURL(/\/ui\//);
    t.match(page.url(), ui('login'), 'the cross-site post arrives without the session and is sent to sign in');
    t.equal(await count(), before, 'no token was created');
  });

  await t.test('sign out', async (t) => {
    await page.goto(ui(''));
    await tabTo(page, '#sign-out');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    t.equal(page.url(), ui('login'));
    await page.goto(ui('tokens'));
    t.match(page.url(), ui('login?next='), 'tokens need a sign-in again');
  });

  t.same(b.problems, [], 'no console errors, failed requests or unexpected error answers');
});

t.test('gated: every page waits for a sign-in', { skip: (await haveChromium()) ? false : 'chromium is not installed' }, async (t) => {
  const r = await startAuthRegistry();
  const b = await openBrowser();
  t.teardown(async () => {
    await b.close();
    await r.close();
  });
  const { page } = b;
  for (const p of ['', 'npm/', 'docker/team/app', 'search?q=x']) {
    await page.goto(`${r.url}/ui/${p}`);
    t.match(page.url(), `${r.url}/ui/login?next=`, `/ui/${p} asks for a sign-in`);
  }
  b.expect(401, '/ui/login');
  await page.fill('#password', 'wrong');
  await page.fill('#username', 'bob');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  t.match(await page.textContent('[role=alert]'), /Invalid username or password/);
  await signInWithKeyboard(page, 'bob', 'bob-pw');
  t.equal(page.url(), `${r.url}/ui/search?q=x`, 'back to the page asked for');
  await page.goto(`${r.url}/ui/`);
  t.equal(await page.locator('nav a[href="/ui/docker/"]').count(), 1, 'signed in, every format is listed');
  await shot(page, 'dashboard-gated');
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.emulateMedia({ colorScheme: 'dark' });
  t.equal(await background(), 'rgb(13, 17, 23)', 'dark by the system preference');
  await shot(page, 'dashboard-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  t.equal(await background(), 'rgb(255, 255, 255)', 'light by the system preference');
  t.same(b.problems, [], 'no console errors, failed requests or unexpected error answers');
});
