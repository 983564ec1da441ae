// Builds a small OCI image layout on disk without a daemon, with umoci.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export interface OciLayout {
  /** directory holding oci-layout, index.json, blobs/ */
  dir: string;
  tag: string;
  /** digest of the tagged manifest */
  manifestDigest: string;
}

/** Makes an image with a text file and `randomKiB` of random bytes, tagged `tag`. */
export async function buildOciImage(workDir: string, tag = 'v1', randomKiB = 256): Promise<OciLayout> {
  const dir = join(workDir, 'oci');
  const payload = join(workDir, 'payload', 'app');
  await mkdir(payload, { recursive: true });
  await writeFile(join(payload, 'hello.txt'), `hello from ${tag}\n`);
  await writeFile(join(payload, 'blob.bin'), randomBytes(randomKiB * 1024));
  const umoci = (...args: string[]) => execFileSync('umoci', args, { cwd: workDir, stdio: 'pipe' });
  umoci('init', '--layout', dir);
  umoci('new', '--image', `${dir}:${tag}`);
  umoci('insert', '--image', `${dir}:${tag}`, payload, '/app');
  umoci('config', '--image', `${dir}:${tag}`, '--config.cmd', '/app/hello.txt');
  umoci('gc', '--layout', dir);
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const m = index.manifests.find((x) => x.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!m) throw new Error('tag not found in index.json');
  return { dir, tag, manifestDigest: m.digest };
}
