// A cross-repository mount reads its `from` repository, so it needs read access
// to it, not only write access to the target: a caller who may not read `from`
// gets a plain upload session (202), as from distribution, never the blob.
//
// Under today's policy access is global (roles, no per-repository rules), so
// every caller who may push may also read every repository: the first test
// shows that with real credentials. The others put a per-repository rule in
// front of the real gate (alice may not read team/src) and check that the mount
// asks for exactly that requirement and honours the answer, over real HTTP and
// with skopeo copying between two users' repositories.
import t, { type Test } from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startAuthRegistry, basic, mint, type AuthRegistry } from './helpers/auth.js';
import { tempDir } from './helpers/registry.js';
import { buildOciImage } from './helpers/oci-image.js';
import { HttpError } from '../src/main/errors.js';
import type { Identity, Requirement } from '../src/main/auth/types.js';

const exec = promisify(execFile);
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const ALICE = basic('alice', 'alice-pw');
const BOB = basic('bob', 'bob-pw');

async function post(r: AuthRegistry, path: string, auth?: string, body?: Buffer): Promise<Response> {
  const res = await fetch(`${r.url}${path}`, { method: 'POST', body, headers: auth ? { authorization: auth } : {} });
  await res.arrayBuffer();
  return res;
}

async function hasBlob(r: AuthRegistry, name: string, d: string, auth = BOB): Promise<boolean> {
  const res = await fetch(`${r.url}/v2/${name}/blobs/${d}`, { method: 'HEAD', headers: { authorization: auth } });
  return res.status === 200;
}

/** Stores a blob in `name` as bob, through the upload API. */
async function pushBlob(t: Test, r: AuthRegistry, name: string): Promise<{ d: string; data: Buffer }> {
  const data = randomBytes(4096);
  const d = sha256(data);
  t.equal((await post(r, `/v2/${name}/blobs/uploads/?digest=${d}`, BOB, data)).status, 201, `blob pushed to ${name}`);
  return { d, data };
}

/**
 * A per-repository rule in front of the registry's own gate: `user` may not
 * read `repository` (when `mountOnly`, only the mount step is refused).
 * Everything else is the real gate's answer. Returns the requirements the
 * mount step asked for.
 */
function denyRead(r: AuthRegistry, user: string, repository: string, mountOnly = false): { asked: { user: string; need: Requirement; format: string }[] } {
  const gate = r.registry.ctx.gate;
  const denied = (identity: Identity | null, need: Requirement) =>
    identity?.user === user && need.access === 'read' && need.resource?.kind === 'repository' && need.resource.name === repository;
  const check = gate.check.bind(gate);
  if (!mountOnly) {
    gate.check = async (req, need, format) => {
      const refused = await check(req, need, format);
      return refused ?? (denied(req.identity, need) ? new HttpError('DENIED', `${user} may not read ${repository}`) : null);
    };
  }
  const permits = gate.permits.bind(gate);
  const asked: { user: string; need: Requirement; format: string }[] = [];
  gate.permits = (identity, need, format) => {
    asked.push({ user: identity.user, need, format });
    return !denied(identity, need) && permits(identity, need, format);
  };
  return { asked };
}

t.test('with global access, everyone allowed to push may read the mount source', async (t) => {
  const r = await startAuthRegistry({ docker_anon_pull: true, anonymous_read: true });
  t.teardown(() => r.close());
  const { d } = await pushBlob(t, r, 'team/src');
  const readToken = await mint(r.url, 'alice', 'alice-pw', 'read');

  const anon = await post(r, `/v2/team/dst/blobs/uploads/?mount=${d}&from=team/src`);
  t.equal(anon.status, 401, 'anonymous callers cannot push, whatever anonymous reads allow');
  const reader = await post(r, `/v2/team/dst/blobs/uploads/?mount=${d}&from=team/src`, `Bearer ${readToken}`);
  t.equal(reader.status, 403, 'a read token may read team/src but not push to team/dst');
  t.notOk(await hasBlob(r, 'team/dst', d));

  const mount = await post(r, `/v2/team/dst/blobs/uploads/?mount=${d}&from=team/src`, ALICE);
  t.equal(mount.status, 201, 'a writer may read every repository, so the blob is mounted');
  t.equal(mount.headers.get('location'), `/v2/team/dst/blobs/${d}`);
  t.ok(await hasBlob(r, 'team/dst', d));
});

t.test('a caller who may not read `from` gets an upload session, not the blob', async (t) => {
  const r = await startAuthRegistry();
  t.teardown(() => r.close());
  const { d, data } = await pushBlob(t, r, 'team/src');
  const { asked } = denyRead(r, 'alice', 'team/src');
  t.equal((await fetch(`${r.url}/v2/team/src/blobs/${d}`, { headers: { authorization: ALICE } })).status, 403, 'the rule refuses alice a plain read');

  const res = await post(r, `/v2/team/dst/blobs/uploads/?mount=${d}&from=team%2Fsrc`, ALICE);
  t.equal(res.status, 202, 'refused mount: a new upload session');
  t.match(res.headers.get('location'), /^\/v2\/team\/dst\/blobs\/uploads\/[0-9a-f-]{36}$/);
  t.ok(res.headers.get('docker-upload-uuid'));
  t.equal(res.headers.get('docker-content-digest'), null);
  t.same(asked, [{ user: 'alice', need: { access: 'read', resource: { kind: 'repository', name: 'team/src' } }, format: 'docker' }], 'the mount asked for read access to the from repository');
  t.notOk(await hasBlob(r, 'team/dst', d), 'nothing linked into the target');

  // The client then uploads the bytes it has, as for any session.
  const put = await fetch(`${r.url}${res.headers.get('location')}?digest=${d}`, { method: 'PUT', body: data, headers: { authorization: ALICE } });
  t.equal(put.status, 201, 'the session completes with the uploaded bytes');
  t.ok(await hasBlob(r, 'team/dst', d));

  // bob may read team/src: his mount is a mount.
  asked.length = 0;
  const bob = await post(r, `/v2/team/other/blobs/uploads/?mount=${d}&from=team/src`, BOB);
  t.equal(bob.status, 201);
  t.same(asked.map((a) => a.user), ['bob']);
  // A target that already has the blob answers 201 without reading `from`.
  asked.length = 0;
  t.equal((await post(r, `/v2/team/dst/blobs/uploads/?mount=${d}&from=team/src`, ALICE)).status, 201);
  t.same(asked, [], 'no read of from needed');
});

// skopeo checks a mount source with a HEAD before it asks for the mount, so
// under a rule that refuses alice every read of team/src it never asks; the
// rule here refuses only the mount step, to see a real client take the 202.
t.test('skopeo copying between users: the refused mount becomes an upload and the copy succeeds', async (t) => {
  const r = await startAuthRegistry({}, { alice: 'alice-pw', bob: 'bob-pw' });
  t.teardown(() => r.close());
  const host = `127.0.0.1:${r.port}`;
  const work = await tempDir();
  const img = await buildOciImage(work, 'v1');
  const skopeo = (...args: string[]) => exec('skopeo', ['--insecure-policy', ...args], { maxBuffer: 16 << 20 });
  await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', 'bob:bob-pw', `oci:${img.dir}:v1`, `docker://${host}/team/src:v1`);
  const { asked } = denyRead(r, 'alice', 'team/src', true);

  r.logs.length = 0;
  await skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', 'bob:bob-pw', '--dest-creds', 'alice:alice-pw',
    `docker://${host}/team/src:v1`, `docker://${host}/alice/img:v1`);
  const requests = r.logs
    .map((l) => JSON.parse(l) as { msg: string; method?: string; path?: string; status?: number })
    .filter((l) => l.msg === 'request' && l.method === 'POST' && l.path === '/v2/alice/img/blobs/uploads/');
  t.ok(asked.length >= 1 && asked.every((a) => a.user === 'alice' && a.need.resource?.name === 'team/src'), `skopeo asked to mount from team/src (${asked.length} times)`);
  t.same(requests.filter((l) => l.status === 201), [], 'no blob mounted for alice');
  t.ok(requests.some((l) => l.status === 202), 'upload sessions instead');
  const copied = JSON.parse((await skopeo('inspect', '--tls-verify=false', '--creds', 'alice:alice-pw', `docker://${host}/alice/img:v1`)).stdout) as { Digest: string };
  t.equal(copied.Digest, img.manifestDigest, 'the copy is complete');
});
