// Single-flight pull-through fills: one upstream fetch per content key,
// detached from every client, written through the storage driver and hashed
// as it arrives, published only when the digest matches.
//
// How clients read a fill: join() resolves, as soon as the upstream has sent
// its headers, with a FillReader (an ObjectReader of the announced size), so
// serveObject gives every client (the first included) headers at once, Range
// and HEAD included, and each streams at its own pace. A read waits until the
// bytes it wants are on storage and then reads them back through the writer's
// tail() capability (driver.ts): followers cost a file handle, not memory.
// The last byte is withheld until the digest matched and publish() returned,
// so an upstream that dies or lies cuts every client short of a complete
// response (the adapter closes the connection): never a short 200, never a
// wrong 200. A failed fill publishes nothing, its writer is cancelled (a crash
// leaves only a temp object, which the start-up sweep removes), and it leaves
// the table at once, so the next request starts a new fill.
//
// A driver without tail() (S3) still works: readers then wait for the whole
// fill, and each reads the published object with a reader of its own. Not the
// writer's reader(): an object store's serves one sequential stream at a time
// (ranged-reader.ts), and commit (or a cancel when the bytes were there
// already) deletes the staging object it reads.
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { Algorithm, Digest } from '../digest.js';
import { HashingCounter } from '../storage/blobs.js';
import type { ObjectWriter, ObjectReader, StorageDriver, TailReader } from '../storage/driver.js';
import type { Logger } from '../log.js';
import type { Upstream, UpstreamResponse } from './upstream.js';
import type { IncomingHttpHeaders } from 'node:http';

export interface FillSpec {
  /** Requests with the same key share one fill, e.g. "docker:sha256:…" or "npm:<integrity>". */
  key: string;
  /** Whose metrics count the fill (fills in flight, digest errors). */
  upstream: Upstream;
  /**
   * Opens the upstream body. Resolve only with a response whose body is the
   * content (status 200); throw anything else (UpstreamError, or the format's
   * own not-found HttpError) and every joiner rejects with it.
   */
  open(signal: AbortSignal): Promise<UpstreamResponse>;
  /** The content must hash to this (sha256 or sha512); sha256 is computed as well. */
  expected?: Digest;
  /** Exact size expected; else the response's Content-Length, else unknown. */
  size?: number;
  /** Refuses content larger than this (default: unbounded when the size is announced). */
  maxSize?: number;
  /**
   * Makes the verified bytes visible: commit the writer (BlobStore.adopt) and
   * write whatever links the format keeps; returns the key the bytes are now
   * at (readers of a driver without tail() read them there). A throw fails the fill.
   */
  publish(writer: ObjectWriter, result: FillResult): Promise<string>;
  /** Names the writer for operators ("proxy-blob", …). */
  tag?: string;
}

export interface FillResult {
  size: number;
  /** sha256 of the content (always computed) */
  sha256: Digest;
  /** the upstream's response headers */
  headers: IncomingHttpHeaders;
}

/** What a client reads: positional reads of the fill as it grows. */
export interface FillReader extends ObjectReader {
  /** the upstream's response headers (content type, …) */
  readonly headers: IncomingHttpHeaders;
  /** resolves once `position` can be read (sendFile waits here holding no buffer) */
  available(position: number): Promise<void>;
}

/** The content did not match what it was checked against. */
export class FillCorrupt extends Error {
  constructor(readonly what: string) {
    super(`upstream content rejected: ${what}`);
  }
}

type State = 'opening' | 'streaming' | 'done' | 'failed';

function contentLength(h: IncomingHttpHeaders): number | null {
  const v = h['content-length'];
  return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : null;
}

function digestFrom(alg: Algorithm, value: string): Digest {
  return { algorithm: alg, hex: value.slice(alg.length + 1), value };
}

class Fill {
  state: State = 'opening';
  /** announced size; -1 until known */
  size = -1;
  /** bytes on storage, readable through the tail */
  written = 0;
  error: Error | null = null;
  headers: IncomingHttpHeaders = {};
  private tail: TailReader | null = null;
  /** where publish() put the bytes (read there when the driver has no tail()) */
  private published: string | null = null;
  private refs = 0;
  private pulse: { promise: Promise<void>; resolve: () => void } = pulse();
  readonly ready: Promise<void>;
  private markReady!: () => void;
  private markFailed!: (e: Error) => void;
  private readyDone = false;
  readonly abort = new AbortController();

  constructor(
    private readonly spec: FillSpec,
    private readonly storage: StorageDriver,
    private readonly log: Logger,
    private readonly leave: (f: Fill) => void,
  ) {
    this.ready = new Promise<void>((res, rej) => {
      this.markReady = res;
      this.markFailed = rej;
    });
    this.ready.catch(() => {}); // joiners see it; an unjoined failure is not unhandled
  }

  async run(): Promise<void> {
    const { spec } = this;
    spec.upstream.metrics.fillStarted();
    let writer: ObjectWriter | null = null;
    try {
      const res = await spec.open(this.abort.signal);
      this.headers = res.headers;
      const announced = spec.size ?? contentLength(res.headers);
      writer = await this.storage.writer(spec.tag ?? 'proxy');
      if (writer.tail) this.tail = await writer.tail();
      if (announced !== null && this.tail) this.opened(announced);
      const algorithms: Algorithm[] = spec.expected ? ['sha256', spec.expected.algorithm] : ['sha256'];
      const counter = new HashingCounter(algorithms, announced ?? spec.maxSize ?? Infinity);
      await pipeline(res.body, counter, this.progress(writer));
      if (announced !== null && counter.bytes !== announced) throw new FillCorrupt(`${counter.bytes} bytes, ${announced} announced`);
      const sha256 = digestFrom('sha256', counter.digest('sha256'));
      if (spec.expected) {
        const actual = spec.expected.algorithm === 'sha256' ? sha256.value : counter.digest(spec.expected.algorithm);
        if (actual !== spec.expected.value) throw new FillCorrupt(`digest ${actual}, expected ${spec.expected.value}`);
      }
      const at = await spec.publish(writer, { size: counter.bytes, sha256, headers: res.headers });
      writer = null;
      if (!this.tail) this.published = at;
      if (!this.readyDone) this.opened(counter.bytes);
      this.state = 'done';
      this.wake();
    } catch (e) {
      this.fail(e instanceof Error ? e : new Error(String(e)));
      if (writer) await writer.cancel().catch(() => {});
    } finally {
      spec.upstream.metrics.fillEnded();
      this.leave(this);
      this.release();
    }
  }

  private opened(size: number): void {
    this.size = size;
    this.state = 'streaming';
    this.readyDone = true;
    this.markReady();
  }

  private fail(e: Error): void {
    if (e instanceof FillCorrupt) this.spec.upstream.metrics.error('digest');
    // Before the upstream answered, the error is open()'s answer (a 404, an outage): its caller reports it.
    if (this.state !== 'opening') this.log.warn('pull-through fill failed', { key: this.spec.key, error: e.message });
    this.error = e;
    this.state = 'failed';
    this.leave(this); // before anyone wakes, so a retry starts a new fill
    if (!this.readyDone) {
      this.readyDone = true;
      this.markFailed(e);
    }
    this.wake();
  }

  /** A sink that appends to the writer and counts a chunk as readable once the driver has it. */
  private progress(writer: ObjectWriter): Writable {
    const out = writer.append();
    out.on('error', () => {}); // reported through the write and end callbacks
    return new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        out.write(chunk, (e) => {
          if (e) return cb(e);
          this.written += chunk.length;
          this.wake();
          cb();
        });
      },
      final: (cb) => out.end(cb),
      destroy: (e, cb) => {
        if (e) out.destroy();
        cb(e);
      },
    });
  }

  private wake(): void {
    const p = this.pulse;
    this.pulse = pulse();
    p.resolve();
  }

  /**
   * A reader for one client, once the fill is ready. Counted from the start of
   * the wait, so the tail stays open for a client that joined just before the
   * end; it closes once the fill is over and every reader closed.
   */
  async attach(): Promise<FillReader> {
    this.refs++;
    try {
      await this.ready;
    } catch (e) {
      this.refs--;
      this.release();
      throw e;
    }
    if (!this.tail && this.published !== null) {
      this.refs--;
      return this.publishedReader(this.published);
    }
    let closed = false;
    const fill = this;
    return {
      get size() {
        return fill.size;
      },
      version: 'filling',
      headers: this.headers,
      read: (buffer, offset, length, position) => this.read(buffer, offset, length, position),
      available: (position) => this.available(position),
      close: async () => {
        if (closed) return;
        closed = true;
        this.refs--;
        this.release();
      },
    };
  }

  /** A client's own reader of the published bytes (drivers without tail()). */
  private async publishedReader(key: string): Promise<FillReader> {
    const r = await this.storage.reader(key);
    if (!r) throw new Error(`pull-through content at ${key} vanished once published`);
    return {
      size: r.size,
      version: r.version,
      headers: this.headers,
      read: (buffer, offset, length, position) => r.read(buffer, offset, length, position),
      available: async (position) => r.available?.(position),
      close: () => r.close(),
    };
  }

  /** Bytes below this may be read now; the last byte waits for the digest check and publish. */
  private get readable(): number {
    return this.state === 'done' ? this.size : Math.min(this.written, this.size - 1);
  }

  /** Resolves once `position` is readable, the fill failed (read throws then), or it lies past the end. */
  private async available(position: number): Promise<void> {
    while (this.state !== 'failed' && position < this.size && position >= this.readable) await this.pulse.promise;
  }

  private async read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    if (length === 0 || position >= this.size) return { bytesRead: 0 };
    await this.available(position);
    if (this.state === 'failed') throw this.error!;
    if (!this.tail) throw new Error('fill reader used after close');
    return this.tail.read(buffer, offset, Math.min(length, this.readable - position), position);
  }

  private release(): void {
    if (this.refs > 0 || this.state === 'streaming' || this.state === 'opening' || !this.tail) return;
    const t = this.tail;
    this.tail = null;
    void t.close().catch(() => {});
  }
}

function pulse(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The table of fills in flight, one per key. One per registry. */
export class Fills {
  private readonly active = new Map<string, Fill>();

  constructor(
    private readonly storage: StorageDriver,
    private readonly log: Logger,
  ) {}

  /**
   * Joins the fill of spec.key, starting it when none runs. Resolves with a
   * reader once the upstream answered (or, with no size announced or no
   * tail() in the driver, once the fill is complete); rejects with what
   * open() threw, or the fill's failure before that point.
   */
  async join(spec: FillSpec): Promise<FillReader> {
    let fill = this.active.get(spec.key);
    if (!fill) {
      fill = new Fill(spec, this.storage, this.log, (f) => {
        if (this.active.get(spec.key) === f) this.active.delete(spec.key);
      });
      this.active.set(spec.key, fill);
      void fill.run();
    }
    return fill.attach();
  }

  /** Whether a fill of this key is running (tests, gc). */
  running(key: string): boolean {
    return this.active.has(key);
  }

  get size(): number {
    return this.active.size;
  }

  /** Aborts every fill (shutdown): their clients are cut, nothing is published. */
  close(): void {
    for (const f of this.active.values()) f.abort.abort();
  }
}
