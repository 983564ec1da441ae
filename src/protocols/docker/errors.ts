// OCI distribution error codes, rendered in one place in the spec's JSON shape.
import type { Reply } from '../../main/http/types.js';
import { HttpError } from '../../main/protocol.js';

export const CODES = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  RANGE_INVALID: 416,
  PAGINATION_NUMBER_INVALID: 400,
} as const;
export type OciCode = keyof typeof CODES;

/** Throws an OCI error; `status` overrides the code's usual status. */
export function oci(code: OciCode, message: string, detail?: unknown, status?: number): HttpError {
  return new HttpError(status ?? CODES[code], code, message, detail);
}

/** Generic codes from the server core mapped onto OCI codes. */
const FROM_CORE: Record<string, string> = {
  NOT_FOUND: 'NAME_UNKNOWN',
  BAD_REQUEST: 'NAME_INVALID',
  METHOD_NOT_ALLOWED: 'UNSUPPORTED',
  INSUFFICIENT_STORAGE: 'UNKNOWN',
};

export function renderOciError(reply: Reply, status: number, code: string, message: string, detail?: unknown): void {
  const c = FROM_CORE[code] ?? code;
  const body = { errors: [{ code: c, message, detail: detail ?? null }] };
  reply.header('Docker-Distribution-API-Version', 'registry/2.0');
  reply.json(status, body);
}
