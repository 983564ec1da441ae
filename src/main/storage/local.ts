// Local filesystem backend. Every write goes to a temp file in <root>/tmp,
// is fsynced, renamed into place, and the directory is fsynced, so a crash at
// any instant leaves the old or the new object, never a torn one.
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, link as fsLink, utimes, lstat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { checkKey } from './keys.js';
import { makeDirs } from './make-dirs.js';
import type { ListPage, ObjectReader, ObjectStat, Storage } from './types.js';

const TMP = 'tmp';

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class LocalStorage implements Storage {
  readonly root: string;
  private readonly tmpDir: string;
  private knownDirs = new Set<string>();

  constructor(root: string) {
    this.root = resolve(root);
    this.tmpDir = join(this.root, TMP);
  }

  /** Creates the directories and proves a file can be written there; throws the first fs error. */
  async init(): Promise<void> {
    await makeDirs(this.tmpDir);
    await this.writeProbe();
  }

  /** Absolute path of a validated key. Keys under tmp/ are reserved. */
  path(key: string): string {
    checkKey(key);
    if (key === TMP || key.startsWith(TMP + '/')) throw new Error('reserved key');
    return join(this.root, key);
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    if (this.knownDirs.size > 100_000) this.knownDirs.clear();
    this.knownDirs.add(dir);
  }

  async stat(key: string): Promise<ObjectStat | null> {
    try {
      const s = await stat(this.path(key));
      if (!s.isFile()) return null;
      return { size: s.size, mtimeMs: s.mtimeMs };
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  async openRead(key: string): Promise<ObjectReader | null> {
    try {
      const fh = await open(this.path(key), constants.O_RDONLY);
      const s = await fh.stat();
      if (!s.isFile()) {
        await fh.close();
        return null;
      }
      return {
        size: s.size,
        identity: `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`,
        read: (buffer, offset, length, position) => fh.read(buffer, offset, length, position),
        close: () => fh.close(),
      };
    } catch (e) {
      if (isMissing(e) || (e as NodeJS.ErrnoException).code === 'EISDIR') return null;
      throw e;
    }
  }

  async readSmall(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.path(key));
    } catch (e) {
      if (isMissing(e) || (e as NodeJS.ErrnoException).code === 'EISDIR') return null;
      throw e;
    }
  }

  async readStream(key: string): Promise<Readable | null> {
    const reader = await this.openRead(key);
    if (!reader) return null;
    await reader.close();
    return createReadStream(this.path(key), { highWaterMark: 256 * 1024 });
  }

  tempPath(tag: string): string {
    return join(this.tmpDir, `${tag.replace(/[^a-zA-Z0-9_-]/g, '_')}-${Date.now()}-${randomBytes(8).toString('hex')}`);
  }

  private async writeTemp(data: string | Buffer): Promise<string> {
    const tmp = this.tempPath('w');
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } catch (e) {
      await fh.close();
      await unlink(tmp).catch(() => {});
      throw e;
    }
    await fh.close();
    return tmp;
  }

  async writeAtomic(key: string, data: string | Buffer): Promise<void> {
    const dest = this.path(key);
    const tmp = await this.writeTemp(data);
    await this.commitTemp(tmp, key, dest);
  }

  async createExclusive(key: string, data: string | Buffer): Promise<boolean> {
    const dest = this.path(key);
    const tmp = await this.writeTemp(data);
    await this.ensureDir(dirname(dest));
    try {
      // link() fails with EEXIST instead of replacing, which makes creation atomic and exclusive.
      await fsLink(tmp, dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    } finally {
      await unlink(tmp).catch(() => {});
    }
    await fsyncDir(dirname(dest));
    return true;
  }

  async commitTemp(tempFile: string, key: string, dest = this.path(key)): Promise<void> {
    if (dirname(tempFile) !== this.tmpDir) throw new Error('not a temp file of this store');
    const dir = dirname(dest);
    await this.ensureDir(dir);
    try {
      await rename(tempFile, dest);
    } catch (e) {
      if (!isMissing(e)) throw e;
      // The directory was removed under us (a concurrent delete); recreate once.
      this.knownDirs.delete(dir);
      await this.ensureDir(dir);
      await rename(tempFile, dest);
    }
    await fsyncDir(dir);
  }

  async link(srcKey: string, dstKey: string): Promise<boolean> {
    const src = this.path(srcKey);
    const dst = this.path(dstKey);
    await this.ensureDir(dirname(dst));
    try {
      await fsLink(src, dst);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return true;
      if (code === 'ENOENT') return false;
      throw e;
    }
    await fsyncDir(dirname(dst));
    return true;
  }

  async delete(key: string): Promise<boolean> {
    try {
      await unlink(this.path(key));
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  async deleteTree(prefix: string): Promise<void> {
    const p = this.path(prefix);
    this.knownDirs.clear();
    await rm(p, { recursive: true, force: true });
  }

  async list(prefix: string, opts: { after?: string; limit?: number; dirsOnly?: boolean } = {}): Promise<ListPage> {
    let entries;
    try {
      entries = await readdir(this.path(prefix), { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return { names: [], more: false };
      throw e;
    }
    let names = entries.filter((d) => (opts.dirsOnly ? d.isDirectory() : true)).map((d) => d.name);
    names.sort();
    if (opts.after !== undefined) {
      const after = opts.after;
      names = names.filter((n) => n > after);
    }
    const limit = opts.limit ?? Infinity;
    return { names: names.slice(0, limit), more: names.length > limit };
  }

  async sweepTemp(maxAgeMs: number, keep: (name: string) => boolean = () => false): Promise<number> {
    const now = Date.now();
    let removed = 0;
    for (const name of await readdir(this.tmpDir).catch(() => [] as string[])) {
      if (keep(name)) continue;
      const p = join(this.tmpDir, name);
      try {
        const s = await lstat(p);
        if (now - s.mtimeMs >= maxAgeMs) {
          await rm(p, { recursive: true, force: true });
          removed++;
        }
      } catch {
        // raced with a commit or another sweep
      }
    }
    return removed;
  }

  /**
   * Sets an object's mtime to now; false when it does not exist. Writers that
   * find their content already stored call this, so `nora gc` (which only
   * deletes unreferenced objects older than its grace period, and re-checks
   * the mtime after moving one aside) never removes what a push just relied on.
   */
  async refresh(key: string): Promise<boolean> {
    const t = new Date();
    try {
      await utimes(this.path(key), t, t);
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  /** Marks a temp file as in use so sweeps leave it alone. */
  async touch(path: string): Promise<void> {
    const t = new Date();
    await utimes(path, t, t).catch(() => {});
  }

  async probe(): Promise<boolean> {
    return this.writeProbe().then(
      () => true,
      () => false,
    );
  }

  private async writeProbe(): Promise<void> {
    const tmp = this.tempPath('probe');
    const fh = await open(tmp, 'wx');
    await fh.close();
    await unlink(tmp);
  }
}
