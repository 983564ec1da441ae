// Files under `dir` that this process holds open (for fd-leak checks).
import { readdir, readlink, realpath } from 'node:fs/promises';

export async function openFilesUnder(dir: string): Promise<string[]> {
  dir = await realpath(dir);
  const out: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target.startsWith(dir)) out.push(target);
  }
  return out;
}
