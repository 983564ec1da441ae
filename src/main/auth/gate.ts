// The auth gate the server consults before a protocol handler runs.
import type { ReadView, Req } from '../http/types.js';
import { HttpError } from '../errors.js';
import type { Access, Identity, Requirement } from './types.js';
import type { TokenService } from './token-service.js';

export type RedisState = 'off' | 'connected' | 'unreachable';

export interface AuthGate {
  readonly enabled: boolean;
  /**
   * Decides whether `req` may do what `need` says for `format`. On success sets
   * req.identity and returns null; otherwise returns the refusal to render
   * (UNAUTHORIZED, DENIED or TOO_MANY_REQUESTS, with its headers). It starts
   * from quick(), so both paths admit exactly the same requests.
   */
  check(req: Req, need: Requirement, format: string): Promise<HttpError | null>;
  /** Whether `identity`, already admitted by check(), may also do `need` (e.g. read a mount's source repository). */
  permits(identity: Identity, need: Requirement, format: string): boolean;
  /**
   * The synchronous first step of check(): the identity when the request may
   * perform `access` right now without anything being awaited (a cached
   * credential, or no credential needed); undefined means check() has more
   * to do (verify a credential, or render the refusal).
   */
  quick(req: ReadView, access: Access, format: string): Identity | undefined;
  /** The client address check() would have set as req.clientIp. */
  clientIp(req: ReadView): string;
  /** Resolves once the gate can verify credentials (hash workers started); rejects if it never can. */
  ready(): Promise<void>;
  /** The shared Redis (auth.redis_url): /ready fails while it is unreachable. */
  redis(): RedisState;
  close(): Promise<void>;
  /** Token management for the token API; absent when auth is off. */
  readonly tokens?: TokenService;
}

const OPEN: Identity = { user: 'anonymous', role: 'admin', via: 'auth-off' };

/** Auth disabled (NORA's default): every request acts with full rights. */
export class OpenGate implements AuthGate {
  readonly enabled = false;
  async check(req: Req): Promise<HttpError | null> {
    req.identity = OPEN;
    return null;
  }
  permits(): boolean {
    return true;
  }
  quick(): Identity {
    return OPEN;
  }
  clientIp(req: ReadView): string {
    return req.ip;
  }
  async ready(): Promise<void> {}
  redis(): RedisState {
    return 'off';
  }
  async close(): Promise<void> {}
}

/**
 * For a write whose URL names no package (a PyPI upload, a cargo publish name
 * it in the body): once the handler knows the name, the caller must be
 * allowed to write it. The gate could not check an OIDC scope without it.
 */
export function requireWrite(gate: AuthGate, req: Req, format: string, name: string): void {
  if (!gate.permits(req.identity!, { access: 'write', resource: { kind: 'package', name } }, format))
    throw new HttpError('DENIED', `this identity may not write ${name}`);
}
