/** One field that failed validation, by dotted path from the request part (`body.shards.0.name`). */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

export interface HttpErrorOptions {
  readonly cause?: unknown;
  readonly errors?: readonly FieldError[];
}

/**
 * An error whose message is written for the API's client: the error handler turns it into an
 * RFC 9457 problem with this status, `code` and the message as `detail`. Anything that is not an
 * HttpError and reaches the handler is a bug and answers a generic 500.
 */
export class HttpError extends Error {
  override readonly name: string = "HttpError";
  readonly status: number;
  readonly code: string;
  readonly errors: readonly FieldError[] | undefined;

  constructor(status: number, code: string, message: string, options: HttpErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.status = status;
    this.code = code;
    this.errors = options.errors;
  }
}

/** 400: the request is malformed; `errors` names each field. */
export class ValidationError extends HttpError {
  override readonly name = "ValidationError";
  constructor(message: string, options: HttpErrorOptions = {}) {
    super(400, "VALIDATION_FAILED", message, options);
  }
}

/** 401: no valid bearer token. The handler adds `WWW-Authenticate: Bearer`. */
export class UnauthorizedError extends HttpError {
  override readonly name = "UnauthorizedError";
  /** RFC 6750 error code for the challenge: absent when no credentials were sent at all. */
  readonly bearerError: "invalid_token" | "invalid_request" | undefined;
  constructor(
    message: string,
    options: HttpErrorOptions & { bearerError?: "invalid_token" | "invalid_request" } = {},
  ) {
    super(401, "UNAUTHORIZED", message, options);
    this.bearerError = options.bearerError;
  }
}

/**
 * 403: the token is valid but lacks the scope the operation needs. The handler names the scope
 * in the problem (`scope`) and in the challenge (RFC 6750 `insufficient_scope`).
 */
export class ForbiddenError extends HttpError {
  override readonly name = "ForbiddenError";
  readonly scope: string;
  constructor(message: string, options: HttpErrorOptions & { scope: string }) {
    super(403, "FORBIDDEN", message, options);
    this.scope = options.scope;
  }
}

/** 404: the addressed resource does not exist. */
export class NotFoundError extends HttpError {
  override readonly name = "NotFoundError";
  constructor(message: string, options: HttpErrorOptions = {}) {
    super(404, "NOT_FOUND", message, options);
  }
}

/** 409: the request conflicts with the current state (the name is taken, the job is running). */
export class ConflictError extends HttpError {
  override readonly name = "ConflictError";
  constructor(message: string, options: HttpErrorOptions = {}) {
    super(409, "CONFLICT", message, options);
  }
}

/** 412: an `If-Match` / expected version did not match (optimistic concurrency). */
export class PreconditionFailedError extends HttpError {
  override readonly name = "PreconditionFailedError";
  constructor(message: string, options: HttpErrorOptions = {}) {
    super(412, "PRECONDITION_FAILED", message, options);
  }
}
