// OCI distribution error codes, rendered in one place in the spec's JSON shape.
// The format's own codes ride on an OciError, whose core code (and so its
// status) comes from the table below; errors raised by the core carry only a
// core code, spelled on the wire through FROM_CORE.
import type { Reply } from '../../main/http/types.js';
import { HttpError, type ErrorCode } from '../../main/errors.js';

/** The OCI codes this format raises, each with the core code it is a case of. */
export const OCI_CODES = {
  BLOB_UNKNOWN: 'NOT_FOUND',
  BLOB_UPLOAD_INVALID: 'BAD_REQUEST',
  BLOB_UPLOAD_UNKNOWN: 'NOT_FOUND',
  DIGEST_INVALID: 'BAD_REQUEST',
  MANIFEST_BLOB_UNKNOWN: 'BAD_REQUEST',
  MANIFEST_INVALID: 'BAD_REQUEST',
  MANIFEST_UNKNOWN: 'NOT_FOUND',
  NAME_INVALID: 'BAD_REQUEST',
  NAME_UNKNOWN: 'NOT_FOUND',
  SIZE_INVALID: 'BAD_REQUEST',
  PAGINATION_NUMBER_INVALID: 'BAD_REQUEST',
} as const satisfies Record<string, ErrorCode>;
export type OciCode = keyof typeof OCI_CODES;

/**
 * Every core code as the wire spells it here: the spec's generic codes where
 * one fits, else the closest (HEADERS_TOO_LARGE has been sent as it is).
 */
const FROM_CORE: Readonly<Record<ErrorCode, string>> = {
  BAD_REQUEST: 'NAME_INVALID',
  UNAUTHORIZED: 'UNAUTHORIZED',
  DENIED: 'DENIED',
  NOT_FOUND: 'NAME_UNKNOWN',
  METHOD_NOT_ALLOWED: 'UNSUPPORTED',
  NOT_ACCEPTABLE: 'UNSUPPORTED',
  CONFLICT: 'UNKNOWN',
  PRECONDITION_FAILED: 'UNKNOWN',
  TOO_LARGE: 'SIZE_INVALID',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED',
  RANGE_NOT_SATISFIABLE: 'RANGE_INVALID',
  UNPROCESSABLE: 'UNKNOWN',
  TOO_MANY_REQUESTS: 'TOOMANYREQUESTS',
  HEADERS_TOO_LARGE: 'HEADERS_TOO_LARGE',
  INTERNAL: 'UNKNOWN',
  UNAVAILABLE: 'UNAVAILABLE',
  INSUFFICIENT_STORAGE: 'UNKNOWN',
};

export class OciError extends HttpError {
  constructor(
    readonly oci: OciCode,
    message: string,
    detail?: unknown,
    core: ErrorCode = OCI_CODES[oci],
  ) {
    super(core, message, { detail });
  }
}

/** An OCI error; `core` overrides the code's usual core code (and so its status), e.g. TOO_LARGE for 413. */
export function oci(code: OciCode, message: string, detail?: unknown, core?: ErrorCode): OciError {
  return new OciError(code, message, detail, core);
}

export function renderOciError(reply: Reply, e: HttpError): void {
  const code = e instanceof OciError ? e.oci : FROM_CORE[e.code];
  reply.header('Docker-Distribution-API-Version', 'registry/2.0');
  reply.json(e.status, { errors: [{ code, message: e.message, detail: e.detail ?? null }] });
}
