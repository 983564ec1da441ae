// In-memory driver, for tests and throw-away registries (storage.mode =
// "memory"; nothing survives the process). It behaves as an object store
// does: objects are immutable once committed (a write replaces the whole
// object), readers see one version, and reads go through ranged streams
// (RangedReader), so the conformance suite covers that path too.
import { Readable, Writable } from 'node:stream';
import { checkKey, checkPrefix } from '../keys.js';
import { RangedReader } from '../ranged-reader.js';
import { WriterGone, isStale, type AppendOptions, type Condition, type ListOptions, type ListPage, type ObjectEntry, type ObjectInfo, type ObjectReader, type ObjectWriter, type StorageDriver, type TailReader } from '../driver.js';

/** Bytes are kept in fixed slabs, so a large object never needs one contiguous copy. */
const SLAB = 1 << 20;
/** Size of the chunks a ranged stream yields (a network read's order of size). */
const STREAM_CHUNK = 64 * 1024;

interface Stored {
  slabs: Buffer[];
  size: number;
  modifiedMs: number;
  version: string;
}

/** Appends bytes to a slab list, filling the last slab before starting another. */
function appendTo(slabs: Buffer[], size: number, chunk: Buffer): number {
  let off = 0;
  while (off < chunk.length) {
    const inSlab = size % SLAB;
    if (inSlab === 0) slabs.push(Buffer.allocUnsafeSlow(SLAB));
    const n = Math.min(SLAB - inSlab, chunk.length - off);
    chunk.copy(slabs[slabs.length - 1]!, inSlab, off, off + n);
    off += n;
    size += n;
  }
  return size;
}

function* chunksFrom(o: Stored, start: number): Generator<Buffer> {
  for (let pos = start; pos < o.size; ) {
    const slab = o.slabs[Math.floor(pos / SLAB)]!;
    const from = pos % SLAB;
    const n = Math.min(STREAM_CHUNK, SLAB - from, o.size - pos);
    yield slab.subarray(from, from + n);
    pos += n;
  }
}

export class MemoryDriver implements StorageDriver {
  readonly name = 'memory';
  private readonly objects = new Map<string, Stored>();
  private readonly writers = new Set<MemoryWriter>();
  private seq = 0;

  private key(k: string): string {
    return checkKey(k);
  }

  /** '' (the whole store) or 'a/b/' */
  private prefix(p: string): string {
    return checkPrefix(p) === '' ? '' : p + '/';
  }

  private store(key: string, slabs: Buffer[], size: number): string {
    const version = String(++this.seq);
    this.objects.set(key, { slabs, size, modifiedMs: Date.now(), version });
    return version;
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const o = this.objects.get(this.key(key));
    return o ? { size: o.size, modifiedMs: o.modifiedMs, version: o.version } : null;
  }

  async reader(key: string): Promise<ObjectReader | null> {
    const o = this.objects.get(this.key(key));
    if (!o) return null;
    // Slabs are never written after commit: the reader keeps reading this version.
    return new RangedReader(o.size, o.version, (start) => Readable.from(chunksFrom(o, start), { objectMode: false }));
  }

  async get(key: string): Promise<{ data: Buffer; version: string } | null> {
    const o = this.objects.get(this.key(key));
    if (!o) return null;
    return { data: Buffer.concat([...chunksFrom(o, 0)], o.size), version: o.version };
  }

  async put(key: string, data: string | Buffer, condition?: Condition): Promise<string | null> {
    const k = this.key(key);
    const cur = this.objects.get(k);
    if (condition && 'ifAbsent' in condition && cur) return null;
    if (condition && 'ifMatch' in condition && cur?.version !== condition.ifMatch) return null;
    const slabs: Buffer[] = [];
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    return this.store(k, slabs, appendTo(slabs, 0, buf));
  }

  async writer(_tag: string): Promise<ObjectWriter> {
    const w = new MemoryWriter(this);
    this.writers.add(w);
    return w;
  }

  /** Called by MemoryWriter.commit. */
  commitWriter(w: MemoryWriter, key: string): void {
    const k = this.key(key);
    if (!this.writers.delete(w)) throw new WriterGone();
    this.store(k, w.slabs, w.size);
  }

  dropWriter(w: MemoryWriter): void {
    this.writers.delete(w);
  }

  hasWriter(w: MemoryWriter): boolean {
    return this.writers.has(w);
  }

  async copy(src: string, dst: string): Promise<boolean> {
    const to = this.key(dst);
    const o = this.objects.get(this.key(src));
    if (!o) return false;
    this.store(to, o.slabs, o.size);
    return true;
  }

  async touch(key: string): Promise<boolean> {
    const o = this.objects.get(this.key(key));
    if (!o) return false;
    this.store(key, o.slabs, o.size);
    return true;
  }

  async delete(key: string, opts: { ifMatch?: string } = {}): Promise<boolean> {
    const k = this.key(key);
    const o = this.objects.get(k);
    if (!o || (opts.ifMatch !== undefined && o.version !== opts.ifMatch)) return false;
    return this.objects.delete(k);
  }

  async deletePrefix(prefix: string): Promise<void> {
    const p = this.key(prefix);
    for (const k of [...this.objects.keys()]) if (k === p || k.startsWith(p + '/')) this.objects.delete(k);
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListPage> {
    const p = this.prefix(prefix);
    const seen = new Map<string, boolean>();
    for (const k of this.objects.keys()) {
      if (!k.startsWith(p)) continue;
      const rest = k.slice(p.length);
      const slash = rest.indexOf('/');
      const name = slash < 0 ? rest : rest.slice(0, slash);
      if (slash >= 0) seen.set(name, true);
      else if (!seen.has(name)) seen.set(name, false);
    }
    let names = [...seen].filter(([, isPrefix]) => isPrefix || !opts.prefixesOnly).map(([n]) => n);
    names.sort();
    if (opts.after !== undefined) names = names.filter((n) => n > opts.after!);
    const limit = opts.limit ?? Infinity;
    return { names: names.slice(0, limit), more: names.length > limit };
  }

  async *walk(prefix: string): AsyncIterable<ObjectEntry> {
    const p = this.prefix(prefix);
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(p)).sort();
    for (const key of keys) {
      const o = this.objects.get(key);
      if (o) yield { key, size: o.size, modifiedMs: o.modifiedMs, version: o.version };
    }
  }

  async sweep(maxAgeMs: number, opts: { dryRun?: boolean } = {}): Promise<number> {
    const now = Date.now();
    let n = 0;
    for (const w of [...this.writers]) {
      if (!isStale(w.touchedMs, maxAgeMs, now)) continue;
      n++;
      if (!opts.dryRun) this.writers.delete(w);
    }
    return n;
  }

  /** Bytes on this driver only flow through the registry. */
  async presignGet(): Promise<null> {
    return null;
  }

  async probe(): Promise<boolean> {
    return true;
  }
}

class MemoryWriter implements ObjectWriter {
  slabs: Buffer[] = [];
  size = 0;
  touchedMs = Date.now();

  constructor(private readonly driver: MemoryDriver) {}

  append(opts: AppendOptions = {}): Writable {
    return new Writable({
      highWaterMark: opts.highWaterMark,
      construct: (cb) => cb(this.driver.hasWriter(this) ? null : new WriterGone()),
      write: (chunk: Buffer, _enc, cb) => {
        if (!this.driver.hasWriter(this)) return cb(new WriterGone());
        this.size = appendTo(this.slabs, this.size, chunk);
        this.touchedMs = Date.now();
        opts.release?.(chunk);
        cb();
      },
    });
  }

  async truncate(size: number): Promise<void> {
    if (size >= this.size) return;
    this.slabs.length = Math.ceil(size / SLAB);
    this.size = size;
  }

  async reader(): Promise<ObjectReader> {
    if (!this.driver.hasWriter(this)) throw new WriterGone();
    const o: Stored = { slabs: [...this.slabs], size: this.size, modifiedMs: this.touchedMs, version: 'uncommitted' };
    return new RangedReader(o.size, o.version, (start) => Readable.from(chunksFrom(o, start), { objectMode: false }));
  }

  async tail(): Promise<TailReader> {
    if (!this.driver.hasWriter(this)) throw new WriterGone();
    // Reads the live slab list: bytes below size are never rewritten (the fill never truncates).
    return {
      read: async (buffer, offset, length, position) => {
        let copied = 0;
        while (copied < length && position + copied < this.size) {
          const pos = position + copied;
          const slab = this.slabs[Math.floor(pos / SLAB)]!;
          const from = pos % SLAB;
          const n = Math.min(length - copied, SLAB - from, this.size - pos);
          slab.copy(buffer, offset + copied, from, from + n);
          copied += n;
        }
        return { bytesRead: copied };
      },
      close: async () => {},
    };
  }

  async touch(): Promise<void> {
    this.touchedMs = Date.now();
  }

  async commit(key: string): Promise<void> {
    this.driver.commitWriter(this, key);
  }

  async cancel(): Promise<void> {
    this.driver.dropWriter(this);
  }
}
