// The small request/response interface protocol handlers see. Handlers never
// touch uWebSockets.js directly, so a format is testable over any front end.
import type { Readable } from 'node:stream';
import type { Identity } from '../auth/types.js';

/**
 * What an answer held in memory may depend on. The full path's Req satisfies
 * it, and so does the memory path's header reader (http/uws-memory.ts), which
 * copies only the headers in MEMORY_HEADERS: a cached answer must depend on
 * no other header (the others read as absent there).
 */
export interface ReadView {
  /** upper-case method */
  readonly method: string;
  /** raw (still percent-encoded) path, without the query */
  readonly path: string;
  /** raw query string, without '?' */
  readonly rawQuery: string;
  /** lower-case header name → value (repeats joined with ", ") */
  readonly headers: Readonly<Record<string, string>>;
  /** peer address of the socket */
  readonly ip: string;
}

/** The headers the memory path copies: content negotiation, credentials, link base, client address, revalidation. */
export const MEMORY_HEADERS: ReadonlySet<string> = new Set([
  'accept',
  'authorization',
  'host',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-for',
  'x-real-ip',
  'if-none-match',
]);

export interface Req extends ReadView {
  readonly query: URLSearchParams;
  /** client address after trusted-proxy resolution (set by the auth gate; defaults to ip) */
  clientIp: string;
  /** request body; empty stream when there is none */
  readonly body: Readable;
  /** Content-Length, or null when absent or chunked */
  readonly contentLength: number | null;
  readonly signal: AbortSignal;
  identity: Identity | null;
  /** metrics label, set by the router */
  format: string;
  /** Buffers the whole body up to `limit` bytes; throws BodyTooLarge beyond. For small JSON only. */
  readBody(limit: number): Promise<Buffer>;
}

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

/** What sendFile reads from: a storage ObjectReader (a FileHandle fits too). */
export interface PositionalReader {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  /**
   * A source still growing (a pull-through fill) resolves once `position` can
   * be read: sendFile waits here before it takes a pooled buffer, so clients
   * waiting on an upstream hold no buffer other downloads need.
   */
  available?(position: number): Promise<void>;
}

export interface FileSlice {
  handle: PositionalReader;
  /** first byte offset in the file */
  start: number;
  /** number of bytes to send */
  length: number;
}

export interface Reply {
  /** true once a response has been started or the client went away */
  readonly done: boolean;
  readonly aborted: boolean;
  /** `reason` replaces the standard reason phrase (clients such as mvn show only the status line); printable ASCII only. */
  status(code: number, reason?: string): Reply;
  header(name: string, value: string | number): Reply;
  /** Ends with a small body (string/Buffer). HEAD requests send headers only. */
  send(body?: string | Buffer): void;
  json(code: number, value: unknown): void;
  /** Streams part of an open file with backpressure; closes nothing (the caller owns the handle). */
  sendFile(slice: FileSlice): Promise<void>;
}

/** A complete response held in memory; the server adds Content-Length. */
export interface MemoryResponse {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
}

/** Sends an answer held in memory on the full path: the same bytes the memory path writes. */
export function sendMemoryResponse(reply: Reply, out: MemoryResponse): void {
  reply.status(out.status);
  for (const [k, v] of out.headers) reply.header(k, v);
  reply.send(out.body);
}
