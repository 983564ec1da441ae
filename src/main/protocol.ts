// What every format module provides to the server: which paths it owns, what
// access a request needs, the handler, and its own error shape.
import type { Config } from './config.js';
import type { MemoryResponse, ReadView, Reply, Req } from './http/types.js';
import type { StorageDriver } from './storage/driver.js';
import type { BlobStore } from './storage/blobs.js';
import type { AuthGate } from './auth/gate.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Requirement } from './auth/types.js';
import type { HttpError } from './errors.js';
import type { Browse } from './browse.js';

export interface Protocol {
  /** metrics/log label, e.g. "docker" */
  readonly name: string;
  matches(path: string): boolean;
  /**
   * Claims a request whose path no protocol owns, by what the client sent
   * (npm clients get the npm registry at the root). Consulted only after every
   * protocol's matches() said no, so paths owned by a format always win.
   */
  claims?(req: Req): boolean;
  /** What the request needs from the caller, naming the repository or package it concerns. */
  access(req: Req): Requirement;
  handle(req: Req, reply: Reply): Promise<void>;
  /**
   * Renders an error in this format's own shape, with e.status; the server has
   * already set e.headers. Formats whose shape carries a code map e.code (one
   * of the core codes in errors.ts) through one table.
   */
  error(reply: Reply, e: HttpError): void;
  /**
   * The answer to a GET/HEAD held in memory, or undefined when it is not
   * cached. The server calls it before building a Req and sends the answer
   * synchronously to a caller the gate lets read at once (gate.quick); it
   * awaits nothing and changes nothing. handle() warms the cache and sends
   * the answer the same function makes, so both paths send the same bytes.
   * Only reads needing no more than `read` access may be answered.
   */
  cached?(req: ReadView): MemoryResponse | undefined;
  /** Periodic housekeeping and shutdown flush, when the format has any. */
  close?(): Promise<void>;
  /** The format's pages in the web UI, when it has any. */
  readonly browse?: Browse;
}

/** Shared services handed to each protocol factory. */
export interface Context {
  config: Config;
  storage: StorageDriver;
  blobs: BlobStore;
  gate: AuthGate;
  /** the configured base URL: public_url, else http://host:port */
  baseUrl: string;
  /** Base URL for links in the answer to `req`: public_url, else the host the client asked for (see http/link-base.ts). */
  linkBase(req: ReadView): string;
  version: string;
  /** this registry's own counters and log level */
  metrics: Metrics;
  log: Logger;
}
