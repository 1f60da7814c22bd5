/**
 * The one error model. Domain code throws `AppError(code, message)`; each edge maps the code: GraphQL to
 * `extensions.code`, REST to an HTTP status inside `{"success": false, "error": "…"}`. Anything that is not an
 * AppError is an internal fault: logged with its cause, shown to clients only as a generic message.
 */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  RATE_LIMITED: 'RATE_LIMITED',
  UNPROCESSABLE: 'UNPROCESSABLE',
  UPSTREAM_ERROR: 'UPSTREAM_ERROR',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const STATUS: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  RATE_LIMITED: 429,
  UPSTREAM_ERROR: 502,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_SERVER_ERROR: 500,
};

/** HTTP status for an error code (REST envelope and GraphQL-over-HTTP auth failures). */
export function httpStatusFor(code: ErrorCode): number {
  return STATUS[code];
}

/** `err` and the errors it wraps (`cause`), outermost first, at most `max`: classifiers look through wrappers. */
export function* causeChain(err: unknown, max = 5): Generator<object> {
  for (let cur = err, i = 0; cur && typeof cur === 'object' && i < max; cur = (cur as { cause?: unknown }).cause, i++) yield cur;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && value in STATUS;
}

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
  }

  static badInput(message: string, details?: Record<string, unknown>): AppError {
    return new AppError(ErrorCode.BAD_USER_INPUT, message, details);
  }

  static notFound(what: string, id: string | number): AppError {
    return new AppError(ErrorCode.NOT_FOUND, `${what} ${id} not found`);
  }

  static conflict(message: string): AppError {
    return new AppError(ErrorCode.CONFLICT, message);
  }

  static forbidden(message: string): AppError {
    return new AppError(ErrorCode.FORBIDDEN, message);
  }

  static unauthenticated(message: string): AppError {
    return new AppError(ErrorCode.UNAUTHENTICATED, message);
  }

  /** RATE_LIMITED; the HTTP edge sends `retryAfter` (seconds) as Retry-After. */
  static rateLimited(message: string, retryAfter: number): AppError {
    return new AppError(ErrorCode.RATE_LIMITED, message, { retryAfter });
  }

  /** Seconds the client is asked to wait before retrying, when the error says. */
  get retryAfter(): number | undefined {
    const s = this.details?.retryAfter;
    return typeof s === 'number' ? s : undefined;
  }
}

/**
 * A start-up failure that the operator fixes in the environment (database unreachable or refusing us, port in use,
 * DATA_DIR not writable): its message says what and where, so the CLI prints it alone, without a stack trace.
 */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** What a caught value says: an Error's message, else the value as text. */
export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
