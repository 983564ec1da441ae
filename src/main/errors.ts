// The closed set of error codes the core and every format raise, each with its
// HTTP status and default message (the model: fastify's lib/errors.js and
// distribution's errcode registry). Nothing here knows a wire format: each
// format renders an HttpError in its own shape (Protocol.error), mapping these
// codes through one table when its shape carries a code at all.

export const CORE_ERRORS = {
  BAD_REQUEST: { status: 400, message: 'bad request' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'access denied' },
  NOT_FOUND: { status: 404, message: 'not found' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed' },
  NOT_ACCEPTABLE: { status: 406, message: 'not acceptable' },
  CONFLICT: { status: 409, message: 'conflict' },
  PRECONDITION_FAILED: { status: 412, message: 'precondition failed' },
  TOO_LARGE: { status: 413, message: 'request too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'unsupported media type' },
  RANGE_NOT_SATISFIABLE: { status: 416, message: 'range not satisfiable' },
  UNPROCESSABLE: { status: 422, message: 'unprocessable request' },
  TOO_MANY_REQUESTS: { status: 429, message: 'too many requests' },
  HEADERS_TOO_LARGE: { status: 431, message: 'request headers too large' },
  INTERNAL: { status: 500, message: 'internal server error' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  INSUFFICIENT_STORAGE: { status: 507, message: 'insufficient storage' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof CORE_ERRORS;

export interface HttpErrorOptions {
  /** machine-readable detail, for formats whose error shape carries one (OCI's `detail`) */
  detail?: unknown;
  /** response headers that belong to the error (Allow, Retry-After, WWW-Authenticate) */
  headers?: Readonly<Record<string, string>>;
}

/** A refusal to render in the format's shape; its status follows from its code. */
export class HttpError extends Error {
  readonly status: number;
  readonly detail: unknown;
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string = CORE_ERRORS[code].message,
    options?: HttpErrorOptions,
  ) {
    super(message);
    this.status = CORE_ERRORS[code].status;
    this.detail = options?.detail;
    this.headers = options?.headers;
  }
}

/** The one way to answer 405: the Allow header travels with the error. */
export function methodNotAllowed(allow: string, message?: string): HttpError {
  return new HttpError('METHOD_NOT_ALLOWED', message, { headers: { Allow: allow } });
}
