// `mkdir -p` that always ends. Node's `mkdir(p, { recursive: true })` never
// settles (and holds a libuv thread) when a parent exists but answers ENOENT
// for any child, as procfs does (`/proc/nora`) and a dangling symlink does: it
// makes the parent (EEXIST), retries the child (ENOENT), forever. Here a
// child that is still missing once its parent exists is an error.
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function makeDirs(path: string, mode?: number): Promise<void> {
  try {
    await mkdir(path, mode);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if ((await stat(path)).isDirectory()) return;
      throw Object.assign(new Error(`ENOTDIR: exists and is not a directory, mkdir '${path}'`), { code: 'ENOTDIR', path });
    }
    if (code !== 'ENOENT' || dirname(path) === path) throw e;
  }
  const parent = dirname(path);
  await makeDirs(parent, mode);
  await mkdir(path, mode).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EEXIST') return; // made meanwhile by someone else
    if (e.code === 'ENOENT') e.message = `ENOENT: ${parent} exists but cannot hold new directories, mkdir '${path}'`;
    throw e;
  });
}
