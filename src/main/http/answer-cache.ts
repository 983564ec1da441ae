// Rendered answers to reads of documents that change (npm packuments, PyPI
// project pages), held as bytes so the memory path can send them without
// parsing or rendering anything. An answer is kept under its document, its
// variant (what the answer depends on besides the document: representation,
// link base) and the revision of the document it was rendered from.
//
// Freshness, as the docker tag cache: a local write invalidates the document
// at once; a write by another process sharing the storage is seen within
// FRESH_MS, after which the next read takes the full path, which re-reads
// the document (one read per document however many requests wait) and
// re-renders only when its revision changed.
import { LRUCache } from 'lru-cache';
import { etagMatches } from './serve-object.js';
import type { MemoryResponse, ReadView } from './types.js';
import { SingleFlight } from '../single-flight.js';

/** How long a document read from storage answers without being read again. */
export const FRESH_MS = 1000;

/** A rendered answer: the 200 and the 304 a matching If-None-Match gets. */
export interface Answer {
  readonly etag: string;
  readonly ok: MemoryResponse;
  readonly notModified: MemoryResponse;
}

/** The response to `req` of a rendered answer (304 when If-None-Match names its ETag). */
export function respond(answer: Answer, req: ReadView): MemoryResponse {
  return etagMatches(req.headers['if-none-match'], answer.etag) ? answer.notModified : answer.ok;
}

/** A document as read from storage, with a string naming its revision. */
export interface Loaded<S> {
  readonly rev: string;
  readonly state: S;
}

export interface AnswerCacheOptions {
  /** bound on the bytes of rendered bodies kept */
  maxBytes: number;
  /** bound on the documents whose revision is remembered */
  maxDocs?: number;
  freshMs?: number;
}

const EMPTY = Buffer.alloc(0);

/** An answer whose headers are `headers` and whose 304 keeps those `notModifiedKeeps` says to (by name). */
export function answerOf(etag: string, headers: readonly (readonly [string, string])[], body: Buffer | string, notModifiedKeeps: (name: string) => boolean): Answer {
  return {
    etag,
    ok: { status: 200, headers, body: typeof body === 'string' ? Buffer.from(body) : body },
    notModified: { status: 304, headers: headers.filter(([k]) => notModifiedKeeps(k)), body: EMPTY },
  };
}

export class AnswerCache<S> {
  /** per document: the revision last read from storage and when */
  private readonly docs: LRUCache<string, { rev: string; at: number }>;
  /** per document and variant: the answer and the revision it was rendered from */
  private readonly answers: LRUCache<string, { rev: string; answer: Answer }>;
  /** document reads in progress, shared by the requests waiting on them */
  private readonly reads = new SingleFlight<Loaded<S>>();
  /** bumped by every invalidation; a read begun before one must not be remembered */
  private generation = 0;
  private readonly freshMs: number;

  constructor(opts: AnswerCacheOptions) {
    this.freshMs = opts.freshMs ?? FRESH_MS;
    this.docs = new LRUCache({ max: opts.maxDocs ?? 10_000 });
    this.answers = new LRUCache({ maxSize: opts.maxBytes, sizeCalculation: (e) => e.answer.ok.body.length + 256 });
  }

  /** The answer for (doc, variant) when the document was read within the freshness bound and the answer rendered since. */
  peek(doc: string, variant: string): Answer | undefined {
    const d = this.docs.get(doc);
    if (d === undefined || performance.now() - d.at > this.freshMs) return undefined;
    const e = this.answers.get(`${doc}\n${variant}`);
    return e !== undefined && e.rev === d.rev ? e.answer : undefined;
  }

  /**
   * The full path's answer: reads the document (load throws the error to
   * render when there is nothing to answer), then reuses the answer rendered
   * from this revision or renders and keeps it.
   */
  async answer(doc: string, variant: string, load: () => Promise<Loaded<S>>, render: (state: S) => Answer): Promise<Answer> {
    const g = this.generation;
    const loaded = await this.read(doc, load);
    const current = g === this.generation;
    if (current) this.docs.set(doc, { rev: loaded.rev, at: performance.now() });
    const key = `${doc}\n${variant}`;
    const e = this.answers.get(key);
    if (e !== undefined && e.rev === loaded.rev) return e.answer;
    const answer = render(loaded.state);
    if (current) this.answers.set(key, { rev: loaded.rev, answer });
    return answer;
  }

  /** A local write changed `doc`: the next read of it takes the full path and reads it again. */
  invalidate(doc: string): void {
    this.generation++;
    this.docs.delete(doc);
    this.reads.forget(doc);
  }

  private read(doc: string, load: () => Promise<Loaded<S>>): Promise<Loaded<S>> {
    return this.reads.run(doc, load);
  }
}
