// The real cargo against nora-ts with auth on (auth-required in config.json,
// cargo's token credential provider, the raw token in Authorization): publish
// of a crate and of one depending on it under a renamed dependency, a third
// crate using both builds and runs with everything fetched from nora-ts, then
// yank / unyank, search and the owners list. Skips when cargo is absent.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mint, startAuthRegistry, USERS } from './helpers/auth.js';
import { tempDir } from './helpers/registry.js';
import { CargoWorkspace, findCargo, makeCrate } from './helpers/cargo-cli.js';

const found = findCargo();
const cargo = 'cargo' in found ? found.cargo : null;
const exec = promisify(execFile);

t.test('cargo end to end against nora-ts (auth on)', { skip: 'missing' in found ? found.missing : false }, async (t) => {
  const r = await startAuthRegistry();
  const dir = await tempDir('nora-cargo-cli-');
  t.teardown(async () => {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });
  const token = await mint(r.url, 'alice', USERS.alice, 'write');
  const ws = new CargoWorkspace(cargo!, dir, `sparse+${r.url}/cargo/index/`, token);
  const ok = (res: { code: number; stderr: string }, what: string) => t.equal(res.code, 0, `${what}${res.code ? `: ${res.stderr.slice(-800)}` : ''}`);

  const base = await makeCrate(dir, { name: 'tiny-base', version: '0.1.0', lib: 'pub fn base() -> u32 { 41 }\n' });
  const mid = await makeCrate(dir, {
    name: 'tiny_mid',
    version: '0.2.0',
    // The dependency renamed: code says `based`, the crate is tiny-base.
    deps: ['based = { package = "tiny-base", version = "0.1", registry = "nora" }'],
    lib: 'pub fn mid() -> u32 { based::base() + 1 }\n',
  });
  ok(await ws.run(['publish', '--registry', 'nora'], base), 'cargo publish tiny-base');
  // Verifying tiny_mid builds it with tiny-base downloaded from nora-ts.
  ok(await ws.run(['publish', '--registry', 'nora'], mid), 'cargo publish tiny_mid (renamed dependency)');

  const index = await fetch(`${r.url}/cargo/index/ti/ny/tiny_mid`, { headers: { authorization: token } });
  t.equal(index.status, 200);
  const entry = JSON.parse((await index.text()).trim());
  t.match(entry.deps[0], { name: 'based', package: 'tiny-base', req: '^0.1', registry: null }, 'index: name is the rename, package the crate');
  t.equal(entry.v, 1);
  t.match(entry.cksum, /^[0-9a-f]{64}$/);

  const republish = await ws.run(['publish', '--registry', 'nora'], base);
  t.not(republish.code, 0, 'a version cannot be published twice');
  t.match(republish.stderr, /tiny-base@0\.1\.0 already exists/, 'cargo says so (it reads the index before uploading)');

  const app = await makeCrate(dir, {
    name: 'tiny-app',
    version: '0.0.1',
    deps: ['tiny-base = { version = "0.1", registry = "nora" }', 'tiny_mid = { version = "0.2", registry = "nora" }'],
    main: 'fn main() { println!("{} {}", tiny_mid::mid(), tiny_base::base()); }\n',
  });
  const before = r.logs.length;
  ok(await ws.run(['build'], app), 'cargo build of a crate depending on both');
  const { stdout } = await exec(join(dir, 'target', 'debug', 'tiny-app'));
  t.equal(stdout.trim(), '42 41', 'the built program runs with both crates');
  const fetched = r.logs.slice(before).filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l).path as string);
  t.ok(fetched.some((p) => p === '/cargo/api/v1/crates/tiny_mid/0.2.0/download'), 'tiny_mid came from nora-ts');
  t.ok(fetched.some((p) => p.endsWith('/ti/ny/tiny-base')), 'the index came from nora-ts');

  ok(await ws.run(['yank', '--registry', 'nora', '--version', '0.1.0', 'tiny-base']), 'cargo yank');
  const yanked = await (await fetch(`${r.url}/cargo/index/ti/ny/tiny-base`, { headers: { authorization: token } })).json();
  t.equal(yanked.yanked, true, 'the index says yanked');
  // The lock file pins the yanked version: the app still builds from a clean target.
  await rm(join(dir, 'target'), { recursive: true, force: true });
  ok(await ws.run(['build', '--locked'], app), 'a locked build still fetches a yanked version');
  ok(await ws.run(['yank', '--registry', 'nora', '--undo', '--version', '0.1.0', 'tiny-base']), 'cargo yank --undo');

  const search = await ws.run(['search', '--registry', 'nora', 'tiny']);
  ok(search, 'cargo search');
  t.match(search.stdout, /tiny-base = "0\.1\.0"/);
  t.match(search.stdout, /tiny_mid = "0\.2\.0"/);
  const owners = await ws.run(['owner', '--registry', 'nora', '--list', 'tiny-base']);
  ok(owners, 'cargo owner --list');
  t.match(owners.stdout, /alice/);

  // Without a token cargo cannot even read the index of an auth-required registry.
  ws.token = undefined;
  const anon = await ws.run(['search', '--registry', 'nora', 'tiny']);
  t.not(anon.code, 0);
  t.match(anon.stderr, /no token found/);
  ws.token = 'nra_' + 'f'.repeat(32);
  const bad = await ws.run(['search', '--registry', 'nora', 'tiny']);
  t.not(bad.code, 0, 'a wrong token is refused');
  t.match(bad.stderr, /401/);
});
