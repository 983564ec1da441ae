// skopeo, a real registry client, pushes to and pulls from nora-ts.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry, tempDir } from './helpers/registry.js';
import { buildOciImage } from './helpers/oci-image.js';
import { setLogSink } from '../src/main/log.js';

const exec = promisify(execFile);
const skopeo = async (...args: string[]) => (await exec('skopeo', args, { maxBuffer: 16 << 20 })).stdout;

t.test('skopeo copy in and out, inspect, list-tags, mount, delete', async (t) => {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  const r = await startRegistry({ log: { level: 'info' } });
  t.teardown(() => r.close());
  const host = `127.0.0.1:${r.port}`;
  const work = await tempDir();
  const img = await buildOciImage(work, 'v1');
  const ref = `docker://${host}/team/app/img:v1`; // three levels deep: NORA stops at two

  await skopeo('copy', '--dest-tls-verify=false', `oci:${img.dir}:v1`, ref);
  // Every skopeo run first probes https, which uWS leaves unanswered for ~10 s,
  // so runs that do not depend on each other go in parallel.
  const [inspectOut, rawOut] = await Promise.all([
    skopeo('inspect', '--tls-verify=false', ref),
    skopeo('inspect', '--raw', '--tls-verify=false', ref),
    // Docker schema2 conversion on push
    skopeo('copy', '--format', 'v2s2', '--dest-tls-verify=false', `oci:${img.dir}:v1`, `docker://${host}/team/app/img:v2s2`),
  ]);
  const inspect = JSON.parse(inspectOut) as { Digest: string };
  t.equal(inspect.Digest, img.manifestDigest, 'OCI manifest digest preserved through the push');
  const raw = JSON.parse(rawOut) as { mediaType?: string };
  t.equal(raw.mediaType ?? 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.manifest.v1+json');

  // Pull back out, list tags, and copy registry-to-registry (which uses cross-repository mount)
  const back = join(work, 'back');
  lines.length = 0;
  const [v2Out, tagsOut] = await Promise.all([
    skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/team/app/img:v2s2`),
    skopeo('list-tags', '--tls-verify=false', `docker://${host}/team/app/img`),
    skopeo('copy', '--src-tls-verify=false', ref, `oci:${back}:v1`),
    skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', ref, `docker://${host}/other/img:v1`),
  ]);
  t.equal((JSON.parse(v2Out) as { mediaType: string }).mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  t.same((JSON.parse(tagsOut) as { Tags: string[] }).Tags.sort(), ['v1', 'v2s2']);
  const srcBlobs = (await readdir(join(img.dir, 'blobs', 'sha256'))).sort();
  const backBlobs = (await readdir(join(back, 'blobs', 'sha256'))).sort();
  t.same(backBlobs, srcBlobs, 'same blobs after a round trip');
  const backIndex = JSON.parse(await readFile(join(back, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  t.equal(backIndex.manifests[0]!.digest, img.manifestDigest);
  const mounts = lines
    .map((l) => JSON.parse(l) as { msg: string; method?: string; path?: string; status?: number })
    .filter((l) => l.msg === 'request' && l.method === 'POST' && l.path === '/v2/other/img/blobs/uploads/' && l.status === 201);
  t.ok(mounts.length >= 1, `blobs mounted instead of re-uploaded (${mounts.length} mounts)`);

  const copied = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${host}/other/img:v1`)) as { Digest: string };
  t.equal(copied.Digest, img.manifestDigest);
  await skopeo('delete', '--tls-verify=false', `docker://${host}/other/img:v1`);
  const [gone, kept] = await Promise.allSettled([
    skopeo('inspect', '--tls-verify=false', `docker://${host}/other/img:v1`),
    skopeo('inspect', '--tls-verify=false', ref),
  ]);
  t.equal(gone.status, 'rejected', 'deleted image is gone');
  t.equal(kept.status, 'fulfilled', 'the source repository is untouched');
});
