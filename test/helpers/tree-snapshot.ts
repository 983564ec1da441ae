// Content snapshot of a directory tree (path → type, size, sha256), to prove
// that a refused request changed nothing on disk.
import { createHash } from 'node:crypto';
import { readdir, readFile, lstat } from 'node:fs/promises';
import { join, relative } from 'node:path';

export type Snapshot = Map<string, string>;

const hashCache = new Map<string, { stamp: string; value: string }>();

export async function snapshotTree(root: string, skip: (rel: string) => boolean = () => false): Promise<Snapshot> {
  const out: Snapshot = new Map();
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      const rel = relative(root, p);
      if (skip(rel)) continue;
      if (e.isDirectory()) {
        out.set(rel, 'dir');
        await walk(p);
      } else if (e.isFile()) {
        const st = await lstat(p).catch(() => null);
        if (!st) continue;
        // Re-hash only what may have changed: any write or rename moves ctime or the inode.
        const stamp = `${st.ino} ${st.size} ${st.mtimeMs} ${st.ctimeMs}`;
        const cached = hashCache.get(p);
        if (cached && cached.stamp === stamp) {
          out.set(rel, cached.value);
          continue;
        }
        const data = await readFile(p).catch(() => null);
        if (!data) continue;
        const value = `file ${data.length} ${createHash('sha256').update(data).digest('hex')}`;
        hashCache.set(p, { stamp, value });
        out.set(rel, value);
      } else {
        out.set(rel, `other ${(await lstat(p)).mode}`);
      }
    }
  };
  await walk(root);
  return out;
}

/** Human-readable differences (empty when identical). */
export function diffSnapshots(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const [k, v] of before) {
    const w = after.get(k);
    if (w === undefined) out.push(`removed ${k}`);
    else if (w !== v) out.push(`changed ${k}: ${v} -> ${w}`);
  }
  for (const k of after.keys()) if (!before.has(k)) out.push(`added ${k}`);
  return out;
}
