// The public token API (credentials in the JSON body, as NORA and the seed
// document show; the password is the htpasswd one, never an API token):
//   POST /api/tokens         {username, password, role?, ttl_days?, description?} → {token, expires_in_days}
//   POST /api/tokens/list    {username, password}                                   → {tokens: [...]}
//   POST /api/tokens/revoke  {username, password, hash_prefix}                      → {revoked: <16 hex id>}
// hash_prefix may be any prefix of a listed one from 6 characters on.
// Errors are {"error": "..."}: 400 bad JSON or hash_prefix, 401 bad credentials
// (an API token as the password included), 403 role not allowed, 404 unknown
// prefix, 405 method, 409 prefix matches several tokens, 413 body too big,
// 415 content type, 422 a field (named in the message), 429 lockout, 503 auth disabled.
import type { Context, Protocol } from '../protocol.js';
import { HttpError, methodNotAllowed } from '../errors.js';
import type { Req, Reply } from '../http/types.js';
import { ID_PREFIX_RE } from './token-format.js';
import type { Caller, TokenService } from './token-service.js';
import type { Requirement, Role } from './types.js';

const BODY_LIMIT = 16 * 1024;
const PUBLIC: Requirement = { access: 'public' };
const ROLES: readonly Role[] = ['read', 'write', 'admin'];
const DEFAULT_ROLE: Role = 'read';
const DEFAULT_TTL_DAYS = 30;
const MAX_TTL_DAYS = 3650;

export type Body = Record<string, unknown>;
type Action = (svc: TokenService, caller: Caller, body: Body, ip: string) => Promise<unknown>;

function unprocessable(message: string): HttpError {
  return new HttpError('UNPROCESSABLE', message);
}

export function stringField(b: Body, name: string, max: number, required: true): string;
export function stringField(b: Body, name: string, max: number, required: false): string | null;
export function stringField(b: Body, name: string, max: number, required: boolean): string | null {
  const v = b[name];
  if (v === undefined || v === null) {
    if (required) throw unprocessable(`${name}: required`);
    return null;
  }
  if (typeof v !== 'string') throw unprocessable(`${name}: must be a string`);
  if (v.length > max) throw unprocessable(`${name}: at most ${max} characters`);
  return v;
}

export function roleField(b: Body): Role {
  const v = b.role;
  if (v === undefined || v === null) return DEFAULT_ROLE;
  if (typeof v !== 'string' || !ROLES.includes(v as Role)) throw unprocessable(`role: must be one of ${ROLES.join(', ')}`);
  return v as Role;
}

export function ttlField(b: Body): number {
  const v = b.ttl_days;
  if (v === undefined || v === null) return DEFAULT_TTL_DAYS;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_TTL_DAYS)
    throw unprocessable(`ttl_days: must be a whole number of days from 1 to ${MAX_TTL_DAYS}`);
  return v;
}

export function prefixField(b: Body): string {
  const v = stringField(b, 'hash_prefix', 128, true).toLowerCase();
  if (!ID_PREFIX_RE.test(v)) throw new HttpError('BAD_REQUEST', 'hash_prefix: 6 to 16 hex characters of a hash_prefix from /api/tokens/list');
  return v;
}

/** Each action validates its own fields before any credential is checked. */
const ACTIONS: Record<string, { validate: (b: Body) => void; run: Action }> = {
  '/api/tokens': {
    validate: (b) => {
      roleField(b);
      ttlField(b);
      stringField(b, 'description', 1000, false);
    },
    run: (svc, caller, b, ip) => svc.create(caller, roleField(b), ttlField(b), stringField(b, 'description', 1000, false), ip),
  },
  '/api/tokens/list': {
    validate: () => {},
    run: (svc, caller, _b, ip) => svc.list(caller, ip),
  },
  '/api/tokens/revoke': {
    validate: (b) => void prefixField(b),
    run: (svc, caller, b, ip) => svc.revoke(caller, prefixField(b), ip),
  },
};

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const media = contentType.split(';')[0]!.trim().toLowerCase();
  return media === 'application/json' || (media.startsWith('application/') && media.endsWith('+json'));
}

async function readJson(req: Req): Promise<Body> {
  if (!isJson(req.headers['content-type'])) {
    throw new HttpError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json');
  }
  const text = (await req.readBody(BODY_LIMIT)).toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new HttpError('BAD_REQUEST', `request body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw unprocessable('body: must be a JSON object');
  return body as Body;
}

export function tokenApiProtocol(ctx: Context): Protocol {
  return {
    name: 'tokens',
    matches: (p) => p === '/api/tokens' || p.startsWith('/api/tokens/'),
    // Credentials travel in the body; the service checks them (with lockout).
    access: () => PUBLIC,
    async handle(req: Req, reply: Reply) {
      const action = ACTIONS[req.path];
      if (!action) throw new HttpError('NOT_FOUND');
      if (req.method !== 'POST') throw methodNotAllowed('POST', 'method not allowed; use POST');
      const svc = ctx.gate.tokens;
      if (!svc) throw new HttpError('UNAVAILABLE', 'authentication is disabled (auth.enabled = false); API tokens are not available');
      const body = await readJson(req);
      const username = stringField(body, 'username', 256, true);
      const password = stringField(body, 'password', 1024, true);
      action.validate(body);
      const caller = await svc.login(username, password, req.clientIp);
      req.identity = { user: caller.user, role: 'write', via: 'htpasswd' };
      reply.json(200, await action.run(svc, caller, body, req.clientIp));
    },
    // NORA's shape: the message only
    error(reply, e) {
      reply.json(e.status, { error: e.message });
    },
  };
}
