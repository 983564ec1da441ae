import t from 'tap';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildConfig, ConfigError, loadConfig, publicUrl, describeConfig } from '../src/main/config.js';
import { tempDir } from './helpers/registry.js';

const fails = (t: Tap.Test, toml: string | null, env: Record<string, string>, key: string, re: RegExp) =>
  t.test(`rejects: ${key}`, async (t) => {
    try {
      buildConfig(toml, env);
      t.fail('should have thrown');
    } catch (e) {
      t.ok(e instanceof ConfigError, 'ConfigError');
      t.equal((e as ConfigError).key, key);
      t.match((e as Error).message, re);
    }
  });
declare namespace Tap {
  type Test = Parameters<Parameters<typeof t.test>[1]>[0];
}

t.test('defaults match NORA', async (t) => {
  const c = buildConfig(null, {});
  t.equal(c.server.host, '127.0.0.1');
  t.equal(c.server.port, 4000);
  t.equal(c.server.body_limit_mb, 2048);
  t.equal(c.storage.mode, 'local');
  t.equal(c.storage.path, 'data/storage');
  t.equal(c.auth.enabled, false);
  t.equal(c.auth.token_storage, 'data/tokens');
  t.equal(c.auth.htpasswd_file, 'users.htpasswd');
  t.same(c.auth.trusted_proxies, ['127.0.0.1', '::1']);
  t.equal(publicUrl(c), 'http://127.0.0.1:4000');
});

t.test('env over file over defaults', async (t) => {
  const toml = '[server]\nport = 5000\nhost = "127.0.0.2"\n[auth]\nenabled = true\nadmin_users = ["root"]\n';
  const c = buildConfig(toml, { NORA_PORT: '6000', NORA_AUTH_ADMIN_USERS: 'a, b' });
  t.equal(c.server.port, 6000, 'env wins');
  t.equal(c.server.host, '127.0.0.2', 'file over default');
  t.equal(c.auth.enabled, true);
  t.same(c.auth.admin_users, ['a', 'b']);
  t.equal(buildConfig(null, { NORA_AUTH_ENABLED: 'TRUE' }).auth.enabled, true);
  t.equal(buildConfig(null, { NORA_AUTH_ENABLED: '0' }).auth.enabled, false);
  t.equal(buildConfig(null, { NORA_PUBLIC_URL: 'https://r.example.com/' }).server.public_url, 'https://r.example.com');
});

fails(t, '[server\nport = 1', {}, 'config.toml:1:8', /invalid TOML/);
fails(t, null, { NORA_AUTH_ENABLE: 'true' }, 'NORA_AUTH_ENABLE', /unknown environment variable \(did you mean NORA_AUTH_ENABLED\?\)/);
fails(t, null, { NORA_STORAGE_PATHS: '/x' }, 'NORA_STORAGE_PATHS', /did you mean NORA_STORAGE_PATH\?/);
// a configuration error (exit 2), also with auth off: links read trusted_proxies too
fails(t, null, { NORA_AUTH_TRUSTED_PROXIES: '127.0.0.1,proxy.lan' }, 'NORA_AUTH_TRUSTED_PROXIES', /"proxy.lan" is not an IP address or CIDR/);
fails(t, '[auth]\ntrusted_proxies = ["10.0.0.0/33"]', {}, 'auth.trusted_proxies', /invalid prefix length/);
fails(t, '[server]\nprot = 1\n', {}, 'server.prot', /unknown key/);
fails(t, '[srever]\nport = 1\n', {}, 'srever', /unknown section \(did you mean \[server\]\?\)/);
fails(t, null, { NORA_TLS_CERT: '/tls/tls.crt' }, 'server.tls_key', /required when server.tls_cert is set \(NORA_TLS_KEY\)/);
fails(t, '[server]\ntls_key = "/tls/tls.key"\n', {}, 'server.tls_cert', /required when server.tls_key is set/);
fails(t, null, { NORA_HTTP_REDIRECT_PORT: '8080' }, 'server.http_redirect_port', /needs server.tls_cert and server.tls_key/);
fails(t, null, { NORA_TLS_CERT: '/c', NORA_TLS_KEY: '/k', NORA_HTTP_REDIRECT_PORT: '4000' }, 'server.http_redirect_port', /must differ from server.port \(4000\)/);
fails(t, null, { NORA_TLS_RELOAD_SECS: '-1' }, 'NORA_TLS_RELOAD_SECS', /at least 0/);

t.test('TLS keys: links default to https, the passphrase is masked', async (t) => {
  const c = buildConfig('[server]\ntls_cert = "/tls/tls.crt"\ntls_key = "/tls/tls.key"\n', { NORA_TLS_KEY_PASSPHRASE: 'hunter2', NORA_HTTP_REDIRECT_PORT: '8080' });
  t.equal(publicUrl(c), 'https://127.0.0.1:4000');
  t.equal(c.server.http_redirect_port, 8080);
  t.equal(c.server.tls_reload_secs, 60);
  const shown = describeConfig(c);
  t.match(shown, /tls_key_passphrase = "\*\*\*\*\*\*\*\*"/);
  t.notMatch(shown, /hunter2/);
});
fails(t, '[server]\nport = "4000"\n', {}, 'server.port', /expected an integer/);
fails(t, '[server]\nport = 0\n', {}, 'server.port', /at least 1/);
fails(t, '[server]\nport = 70000\n', {}, 'server.port', /at most 65535/);
fails(t, '[auth]\nenabled = "yes"\n', {}, 'auth.enabled', /expected true or false/);
fails(t, '[storage]\nmode = "ftp"\n', {}, 'storage.mode', /expected one of local/);
fails(t, '[auth]\nadmin_users = "root"\n', {}, 'auth.admin_users', /list of strings/);
fails(t, 'server = 1\n', {}, 'server', /expected a table/);
fails(t, null, { NORA_PORT: 'abc' }, 'NORA_PORT', /expected an integer/);
fails(t, null, { NORA_AUTH_ENABLED: 'yes' }, 'NORA_AUTH_ENABLED', /expected true or false/);
fails(t, null, { NORA_PUBLIC_URL: 'ftp://x' }, 'NORA_PUBLIC_URL', /http\(s\) URL/);
// A wildcard bind needs no public_url: links name the host each client asked for.
t.equal(buildConfig(null, { NORA_HOST: '0.0.0.0' }).server.public_url, '');
fails(t, '[log]\nlevel = "loud"\n', {}, 'log.level', /expected one of/);

t.test('npm and PyPI upstreams: none by default; NORA spellings; credentials masked', async (t) => {
  const d = buildConfig(null, {});
  t.equal(d.npm.proxy, '', 'no npm upstream unless configured');
  t.same(d.pypi.proxies, []);
  t.equal(d.pypi.proxy, '');
  const env = buildConfig(null, {
    NORA_NPM_PROXY: 'https://registry.npmjs.org',
    NORA_NPM_PROXY_AUTH: 'ci:npm-secret',
    NORA_NPM_METADATA_TTL: '-1',
    NORA_NPM_SERVE_STALE: 'false',
    NORA_PYPI_PROXIES: 'https://pypi.org/simple/,https://mirror.internal/simple/|u:pypi-secret',
  });
  t.equal(env.npm.metadata_ttl, -1);
  t.equal(env.npm.serve_stale, false);
  t.same(env.pypi.proxies, [{ url: 'https://pypi.org/simple/', auth: '' }, { url: 'https://mirror.internal/simple/', auth: 'u:pypi-secret' }]);
  const file = buildConfig('[pypi]\nproxies = ["https://pypi.org/simple/", { url = "https://m.example/simple/", auth = "u:p" }]\n', {});
  t.same(file.pypi.proxies[1], { url: 'https://m.example/simple/', auth: 'u:p' });
  const shown = describeConfig(env);
  t.notMatch(shown, /npm-secret|pypi-secret/, 'nora config masks upstream credentials');
  t.match(shown, /https:\/\/mirror\.internal\/simple\//);
});
fails(t, null, { NORA_NPM_PROXY: 'https://u:p@registry.example' }, 'NORA_NPM_PROXY', /credentials in the proxy_auth/);
fails(t, null, { NORA_NPM_PROXY_AUTH: 'no-colon' }, 'NORA_NPM_PROXY_AUTH', /user:pass/);
fails(t, null, { NORA_PYPI_PROXIES: 'ftp://x' }, 'NORA_PYPI_PROXIES', /entry 1: must be an http\(s\) URL/);
fails(t, '[pypi]\nproxies = [{ url = "https://x", user = "y" }]\n', {}, 'pypi.proxies', /unknown key user/);
fails(t, '[npm]\nmetadata_ttl = -2\n', {}, 'npm.metadata_ttl', /at least -1/);

t.test('file location: NORA_CONFIG_PATH, else ./config.toml', async (t) => {
  const d = await tempDir();
  t.equal((await loadConfig({ env: {}, cwd: d })).file, null);
  await writeFile(join(d, 'config.toml'), '[server]\nport = 4100\n');
  const a = await loadConfig({ env: {}, cwd: d });
  t.equal(a.config.server.port, 4100);
  await writeFile(join(d, 'other.toml'), '[server]\nport = 4200\n');
  const b = await loadConfig({ env: { NORA_CONFIG_PATH: join(d, 'other.toml') }, cwd: d });
  t.equal(b.config.server.port, 4200);
  await t.rejects(loadConfig({ env: { NORA_CONFIG_PATH: join(d, 'missing.toml') }, cwd: d }), { key: 'NORA_CONFIG_PATH', message: /cannot read/ });
});

t.test('describeConfig lists every key with its env var', async (t) => {
  const text = describeConfig(buildConfig(null, {}));
  t.match(text, /\[server\]\nhost = "127.0.0.1"  # NORA_HOST/);
  t.match(text, /token_cache_ttl = 60  # NORA_AUTH_TOKEN_CACHE_TTL/);
});

t.test('every NORA_* variable the code base reads or sets is a known name', async (t) => {
  const root = join(import.meta.dirname, '..');
  const names = new Set<string>();
  for (const dir of ['src', 'test', 'bench']) {
    for (const f of await readdir(join(root, dir), { recursive: true })) {
      if (!f.endsWith('.ts')) continue;
      const text = await readFile(join(root, dir, f), 'utf8');
      for (const m of text.matchAll(/process\.env\.(NORA_[A-Z0-9_]+)/g)) names.add(m[1]!);
      // Environments the bench hands its servers (test files set misspelled ones on purpose).
      if (dir === 'bench') for (const m of text.matchAll(/\b(NORA_[A-Z0-9_]+):/g)) names.add(m[1]!);
    }
  }
  t.ok(names.has('NORA_SOAK') && names.has('NORA_RATE_LIMIT_ENABLED'), 'the scan finds test switches and bench settings');
  for (const name of names) {
    try {
      buildConfig(null, { [name]: 'x' });
    } catch (e) {
      t.notMatch((e as Error).message, /unknown environment variable/, name);
    }
  }
});

t.test('docker upstreams: none by default; TOML tables and NORA_DOCKER_PROXIES; bad entries refused', async (t) => {
  t.same(buildConfig(null, {}).docker.upstreams, [], 'no upstream unless configured');
  const toml = '[[docker.upstreams]]\nurl = "https://registry-1.docker.io/"\n\n[[docker.upstreams]]\nurl = "http://127.0.0.1:5000"\nauth = "u:p"\nprefix = "local"\n';
  t.same(buildConfig(toml, {}).docker.upstreams, [
    { url: 'https://registry-1.docker.io', auth: '', prefix: '', namespace: 'registry-1.docker.io' },
    { url: 'http://127.0.0.1:5000', auth: 'u:p', prefix: 'local', namespace: '127.0.0.1-5000' },
  ]);
  const env = buildConfig(toml, { NORA_DOCKER_PROXIES: 'http://a.example|me:pw|hub, http://b.example' });
  t.same(env.docker.upstreams.map((u) => [u.url, u.auth, u.prefix]), [['http://a.example', 'me:pw', 'hub'], ['http://b.example', '', '']], 'env wins');
  t.same(buildConfig(toml, { NORA_DOCKER_PROXIES: '' }).docker.upstreams, [], 'empty env: none');
  const c = buildConfig('[circuit_breaker]\nenabled = true\n', { NORA_CB_THRESHOLD: '3', NORA_DOCKER_METADATA_TTL: '60' });
  t.same(c.circuit_breaker, { enabled: true, failure_threshold: 3, reset_timeout: 30 });
  t.equal(c.docker.metadata_ttl, 60);
  t.match(describeConfig(env), /auth = "me:\*\*\*\*\*\*\*\*"/);
  t.notMatch(describeConfig(env), /pw/);
});
fails(t, null, { NORA_DOCKER_PROXIES: 'ftp://x' }, 'NORA_DOCKER_PROXIES', /http\(s\) URL/);
fails(t, null, { NORA_DOCKER_PROXIES: 'http://u:p@x' }, 'NORA_DOCKER_PROXIES', /credentials in auth/);
fails(t, null, { NORA_DOCKER_PROXIES: 'http://x||v2' }, 'NORA_DOCKER_PROXIES', /prefix must be/);
fails(t, null, { NORA_DOCKER_PROXIES: 'http://x||a,http://y||a' }, 'NORA_DOCKER_PROXIES', /prefix a is used twice/);
fails(t, '[[docker.upstreams]]\nurl = "http://x"\nprefix = "Up"\n', {}, 'docker.upstreams', /prefix must be/);
fails(t, '[[docker.upstreams]]\nurl = "http://x"\nbogus = 1\n', {}, 'docker.upstreams', /unknown key bogus/);
fails(t, '[docker]\nupstreams = "x"\n', {}, 'docker.upstreams', /expected \[\[docker.upstreams\]\]/);
