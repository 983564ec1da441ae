// Local disk driver. Every write goes to a temp file (in <root>/tmp, or beside
// its target in a private store), is fsynced, renamed into place, and the
// directory is fsynced, so a crash at any instant leaves the old or the new
// object, never a torn one; temp files a crash left are swept at start-up.
// Scratch writes (driver.ts Durability) skip both fsyncs; a copy fsyncs its
// source first, so a blob linked from a scratch part is as durable as any.
// With its helpers (file-appender.ts, make-dirs.ts) the only code that reaches
// stored data through node:fs (test/fs-imports.test.ts keeps it so).
import { constants } from 'node:fs';
import { chmod, link, lstat, mkdir, open, readdir, rename, rm, stat, truncate, unlink, utimes, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KeyedLock } from '../../keyed-lock.js';
import { checkKey, checkPrefix } from '../keys.js';
import { WriterGone, isStale, type AppendOptions, type Condition, type Durability, type ListOptions, type ListPage, type ObjectEntry, type ObjectInfo, type ObjectReader, type ObjectWriter, type StorageDriver, type TailReader } from '../driver.js';
import { FileAppender } from './file-appender.js';
import { makeDirs } from './make-dirs.js';

const TMP = 'tmp';
/** Prefix of objects moved aside by a conditional delete (the key follows, base64url). */
const ASIDE = 'del-';
/** A conditional delete takes milliseconds: an aside file older than this is a crash's leftover. */
const ASIDE_STALE_MS = 60_000;
const DEFAULT_HIGH_WATER = 1 << 20;

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** fsync of a file or directory by path (fsync needs no write access on Linux). */
async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The FileHandle reads positionally into the caller's buffer: downloads keep their shared pool. */
function fileReader(fh: FileHandle, size: number, version: string): ObjectReader {
  return {
    size,
    version,
    read: (buffer, offset, length, position) => fh.read(buffer, offset, length, position),
    close: () => fh.close(),
  };
}

const versionOf = (s: Stats) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
const rand = () => `${Date.now()}-${randomBytes(8).toString('hex')}`;

export interface LocalOptions {
  /**
   * A private store (API tokens): files 0600 in 0700 directories, and temp
   * files beside their target as hidden `.<name>.<random>.tmp` (NORA's token
   * directory holds nothing but token files).
   */
  private?: boolean;
}

/**
 * Replace-if-unchanged is check-then-rename: serialised per file, for every
 * driver of this process (two registries on one directory, as in tests), but
 * not across processes: replicas need an object store's conditional writes.
 */
const casLock = new KeyedLock();

export class LocalDriver implements StorageDriver {
  readonly name = 'local';
  readonly root: string;
  private readonly tmpDir: string;
  private readonly fileMode: number;
  private readonly knownDirs = new Set<string>();

  constructor(root: string, private readonly opts: LocalOptions = {}) {
    this.root = resolve(root);
    this.tmpDir = opts.private ? this.root : join(this.root, TMP);
    this.fileMode = opts.private ? 0o600 : 0o644;
  }

  /** Creates the directories and proves a file can be written there; throws the first fs error. */
  async init(): Promise<void> {
    if (this.opts.private) {
      await makeDirs(this.root, 0o700);
      await chmod(this.root, 0o700);
    } else {
      await makeDirs(this.tmpDir);
    }
    await this.writeProbe();
  }

  /** Absolute path of a validated key (tests and diagnostics only). Keys under tmp/ are reserved. */
  path(key: string): string {
    checkKey(key);
    if (!this.opts.private && (key === TMP || key.startsWith(TMP + '/'))) throw new Error('reserved key');
    if (this.opts.private && this.isTemp(basename(key))) throw new Error('reserved key');
    return join(this.root, key);
  }

  private prefixPath(prefix: string): string {
    return checkPrefix(prefix) === '' ? this.root : this.path(prefix);
  }

  private isTemp(name: string): boolean {
    return this.opts.private ? name.startsWith('.') && name.endsWith('.tmp') : false;
  }

  private tempPath(tag: string, dest?: string): string {
    if (this.opts.private) return join(dest ? dirname(dest) : this.root, `.${dest ? basename(dest) : tag}.${randomBytes(6).toString('hex')}.tmp`);
    return join(this.tmpDir, `${tag.replace(/[^a-zA-Z0-9_-]/g, '_')}-${rand()}`);
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    await mkdir(dir, { recursive: true, ...(this.opts.private ? { mode: 0o700 } : {}) });
    if (this.knownDirs.size > 100_000) this.knownDirs.clear();
    this.knownDirs.add(dir);
  }

  /**
   * Renames a temp file into place, recreating the directory once if a
   * concurrent delete removed it; on failure the temp file is removed.
   */
  private async renameInto(from: string, dest: string, durable = true): Promise<void> {
    const dir = dirname(dest);
    try {
      await this.ensureDir(dir);
      try {
        await rename(from, dest);
      } catch (e) {
        if (!isMissing(e)) throw e;
        this.knownDirs.delete(dir);
        await this.ensureDir(dir);
        await rename(from, dest);
      }
    } catch (e) {
      await unlink(from).catch(() => {});
      throw e;
    }
    if (durable) await fsyncPath(dir);
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const s = await stat(this.path(key));
      if (!s.isFile()) return null;
      return { size: s.size, modifiedMs: s.mtimeMs, version: versionOf(s) };
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  async reader(key: string): Promise<ObjectReader | null> {
    let fh;
    try {
      fh = await open(this.path(key), constants.O_RDONLY);
    } catch (e) {
      if (isMissing(e) || (e as NodeJS.ErrnoException).code === 'EISDIR') return null;
      throw e;
    }
    const s = await fh.stat();
    if (!s.isFile()) {
      await fh.close();
      return null;
    }
    return fileReader(fh, s.size, versionOf(s));
  }

  async get(key: string): Promise<{ data: Buffer; version: string } | null> {
    const r = await this.reader(key);
    if (!r) return null;
    try {
      // Read to the size just stat'ed (a stored object never changes in place):
      // the same calls as readFile, which would stat again.
      const data = Buffer.allocUnsafeSlow(r.size);
      let got = 0;
      while (got < r.size) {
        const { bytesRead } = await r.read(data, got, r.size - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return { data: got === r.size ? data : data.subarray(0, got), version: r.version };
    } finally {
      await r.close();
    }
  }

  /** A complete temp file holding `data` (fsynced if durable), and its version-to-be. */
  private async writeTemp(data: string | Buffer, dest: string, durable: boolean): Promise<{ tmp: string; version: string }> {
    if (this.opts.private) await this.ensureDir(dirname(dest));
    const tmp = this.tempPath('w', dest);
    const fh = await open(tmp, 'wx', this.fileMode);
    try {
      await fh.writeFile(data);
      if (durable) await fh.sync();
      // rename keeps inode and mtime: this is the version the object will have
      const version = versionOf(await fh.stat());
      await fh.close();
      return { tmp, version };
    } catch (e) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw e;
    }
  }

  async put(key: string, data: string | Buffer, condition?: Condition, opts: Durability = {}): Promise<string | null> {
    const dest = this.path(key);
    const durable = !opts.scratch;
    if (condition && 'ifAbsent' in condition) return this.create(dest, data, durable);
    const write = async () => {
      const { tmp, version } = await this.writeTemp(data, dest, durable);
      await this.renameInto(tmp, dest, durable);
      return version;
    };
    if (!condition) return write();
    return casLock.run(dest, async () => {
      const cur = await this.stat(key);
      if (!cur || cur.version !== condition.ifMatch) return null;
      return write();
    });
  }

  /** link() fails with EEXIST instead of replacing, which makes creation atomic and exclusive. */
  private async create(dest: string, data: string | Buffer, durable: boolean): Promise<string | null> {
    const { tmp, version } = await this.writeTemp(data, dest, durable);
    try {
      await this.ensureDir(dirname(dest));
      await link(tmp, dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return null;
      throw e;
    } finally {
      await unlink(tmp).catch(() => {});
    }
    if (durable) await fsyncPath(dirname(dest));
    // the link count changed the ctime, not the mtime or inode: the version stands
    return version;
  }

  async writer(tag: string): Promise<ObjectWriter> {
    const path = this.tempPath(tag);
    const fh = await open(path, 'wx', this.fileMode);
    await fh.close();
    return new LocalWriter(this, path);
  }

  /** Commits a writer's file (called by LocalWriter). */
  async commitFile(path: string, key: string, durable: boolean): Promise<void> {
    const dest = this.path(key);
    try {
      if (durable) await fsyncPath(path);
      await this.renameInto(path, dest, durable);
    } catch (e) {
      // renameInto recreated a missing directory: still missing, it is the writer's file
      if (isMissing(e)) throw new WriterGone();
      throw e;
    }
  }

  async copy(src: string, dst: string): Promise<boolean> {
    const from = this.path(src);
    const to = this.path(dst);
    // Linked under a temp name, then renamed over dst: an existing dst is replaced atomically.
    const tmp = this.tempPath('copy', to);
    try {
      // The source may be scratch (an upload's part): its bytes must be on disk before a name that lasts points at them.
      await fsyncPath(from);
      await link(from, tmp);
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
    await this.renameInto(tmp, to);
    return true;
  }

  async touch(key: string): Promise<boolean> {
    const t = new Date();
    try {
      await utimes(this.path(key), t, t);
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  async delete(key: string, opts: { ifMatch?: string } & Durability = {}): Promise<boolean> {
    const path = this.path(key);
    const durable = !opts.scratch;
    if (opts.ifMatch === undefined) {
      try {
        await unlink(path);
      } catch (e) {
        if (isMissing(e)) return false;
        throw e;
      }
      if (durable) await fsyncPath(dirname(path));
      return true;
    }
    const encoded = Buffer.from(key).toString('base64url');
    if (this.opts.private || encoded.length > 200) {
      // No room to name the key in an aside file: check and unlink under this process's lock.
      return casLock.run(path, async () => {
        const cur = await this.stat(key);
        if (!cur || cur.version !== opts.ifMatch) return false;
        return this.delete(key, { scratch: opts.scratch });
      });
    }
    // Moved aside first, then compared: whoever touched or replaced the object
    // before the rename is seen; whoever comes after finds nothing and writes anew.
    const aside = join(this.tmpDir, `${ASIDE}${randomBytes(6).toString('hex')}-${encoded}`);
    try {
      await rename(path, aside);
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
    const moved = await lstat(aside);
    if (versionOf(moved) !== opts.ifMatch) {
      await this.restore(aside, path);
      return false;
    }
    await unlink(aside);
    if (durable) await fsyncPath(dirname(path));
    return true;
  }

  /** Puts an aside file back (a newer copy written meanwhile wins). */
  private async restore(aside: string, path: string): Promise<void> {
    await this.ensureDir(dirname(path));
    await link(aside, path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    await unlink(aside);
    await fsyncPath(dirname(path));
  }

  async deletePrefix(prefix: string): Promise<void> {
    const p = this.path(prefix);
    this.knownDirs.clear();
    await rm(p, { recursive: true, force: true });
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListPage> {
    let entries;
    try {
      entries = await readdir(this.prefixPath(prefix), { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return { names: [], more: false };
      throw e;
    }
    const atRoot = prefix === '' && !this.opts.private;
    let names = entries
      .filter((d) => (opts.prefixesOnly ? d.isDirectory() : d.isDirectory() || d.isFile()) && !this.isTemp(d.name) && !(atRoot && d.name === TMP))
      .map((d) => d.name);
    names.sort();
    if (opts.after !== undefined) {
      const after = opts.after;
      names = names.filter((n) => n > after);
    }
    const limit = opts.limit ?? Infinity;
    return { names: names.slice(0, limit), more: names.length > limit };
  }

  async *walk(prefix: string): AsyncIterable<ObjectEntry> {
    yield* this.walkDir(this.prefixPath(prefix), prefix);
  }

  /** Depth first, a directory sorted as its name plus '/', which is key order. */
  private async *walkDir(dir: string, key: string): AsyncGenerator<ObjectEntry> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // not a directory, or gone meanwhile
    }
    const sortName = (d: { name: string; isDirectory(): boolean }) => (d.isDirectory() ? d.name + '/' : d.name);
    entries.sort((a, b) => (sortName(a) < sortName(b) ? -1 : 1));
    for (const e of entries) {
      if (this.isTemp(e.name) || (!this.opts.private && dir === this.root && e.name === TMP)) continue;
      const p = join(dir, e.name);
      const k = key === '' ? e.name : `${key}/${e.name}`;
      if (e.isDirectory()) yield* this.walkDir(p, k);
      else if (e.isFile()) {
        const s = await lstat(p).catch(() => null);
        if (s?.isFile()) yield { key: k, size: s.size, modifiedMs: s.mtimeMs, version: versionOf(s) };
      }
    }
  }

  async sweep(maxAgeMs: number, opts: { dryRun?: boolean } = {}): Promise<number> {
    const now = Date.now();
    let removed = 0;
    for (const p of await this.tempFiles()) {
      const name = basename(p);
      try {
        const s = await lstat(p);
        if (name.startsWith(ASIDE) && !this.opts.private) {
          // An interrupted conditional delete: putting it back is always safe (gc deletes it next time).
          if (!opts.dryRun && (maxAgeMs === 0 || now - s.ctimeMs >= ASIDE_STALE_MS)) {
            const key = Buffer.from(name.slice(name.indexOf('-', ASIDE.length) + 1), 'base64url').toString();
            await this.restore(p, this.path(key));
          }
          continue;
        }
        if (isStale(s.mtimeMs, maxAgeMs, now)) {
          if (!opts.dryRun) await rm(p, { recursive: true, force: true });
          removed++;
        }
      } catch {
        // raced with a commit or another sweep
      }
    }
    return removed;
  }

  private async tempFiles(): Promise<string[]> {
    if (!this.opts.private) return (await readdir(this.tmpDir).catch(() => [] as string[])).map((n) => join(this.tmpDir, n));
    const out: string[] = [];
    const visit = async (dir: string) => {
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        if (e.isDirectory()) await visit(join(dir, e.name));
        else if (this.isTemp(e.name)) out.push(join(dir, e.name));
      }
    };
    await visit(this.root);
    return out;
  }

  /** Bytes on this driver only flow through the registry. */
  async presignGet(): Promise<null> {
    return null;
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

/** A temp file appended to in place (writev at an offset), renamed into the store on commit. */
class LocalWriter implements ObjectWriter {
  size = 0;
  constructor(
    private readonly driver: LocalDriver,
    private readonly path: string,
  ) {}

  /** closes once the last appender's file handle is closed (its writes have landed) */
  private appended: Promise<void> = Promise.resolve();

  append(opts: AppendOptions = {}) {
    const a = new FileAppender(this.path, this.size, opts.highWaterMark ?? DEFAULT_HIGH_WATER, opts.release, (end) => (this.size = end));
    this.appended = new Promise((resolve) => a.once('close', resolve));
    return a;
  }

  async truncate(size: number): Promise<void> {
    // A failed pipeline rejects before a write still in flight lands: wait for it, so it
    // can neither extend the file past the cut nor move `size` afterwards.
    await this.appended;
    this.size = size;
    await truncate(this.path, size).catch((e) => {
      if (!isMissing(e)) throw e;
    });
  }

  async reader(): Promise<ObjectReader> {
    let fh;
    try {
      fh = await open(this.path, constants.O_RDONLY);
    } catch (e) {
      if (isMissing(e)) throw new WriterGone();
      throw e;
    }
    return fileReader(fh, this.size, 'uncommitted');
  }

  /** The temp file read while it grows; the handle follows the inode through commit's rename. */
  async tail(): Promise<TailReader> {
    return this.reader();
  }

  async touch(): Promise<void> {
    const t = new Date();
    await utimes(this.path, t, t).catch(() => {});
  }

  commit(key: string, opts: Durability = {}): Promise<void> {
    return this.driver.commitFile(this.path, key, !opts.scratch);
  }

  async cancel(): Promise<void> {
    await unlink(this.path).catch(() => {});
  }
}
