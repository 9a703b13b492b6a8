/**
 * What kind of refusal a domain error is. The kind alone decides what happens next: the HTTP
 * error handler answers its status, the bus retries or dead-letters the message.
 */
export const ERROR_KINDS = {
  /** The input breaks a rule (400; dead letter: the same message fails the same way). */
  invalid: "invalid",
  /** The addressed thing does not exist (404; dead letter). */
  notFound: "not_found",
  /** The input conflicts with the current state (409; dead letter). */
  conflict: "conflict",
  /** The input is fine but cannot be carried out as things stand (422; dead letter). */
  unprocessable: "unprocessable",
  /** A dependency is down for now (503; the message is retried with backoff). */
  unavailable: "unavailable",
} as const;
export type ErrorKind = (typeof ERROR_KINDS)[keyof typeof ERROR_KINDS];

/** One input field at fault, by dotted path inside the input (`schedule.expression`; "" = all of it). */
export interface FieldIssue {
  readonly field: string;
  readonly message: string;
}

export interface DomainErrorOptions extends ErrorOptions {
  /** The input field at fault; its issue carries the error's message. */
  readonly field?: string;
  /** Several fields at fault, each with its own message (instead of `field`). */
  readonly issues?: readonly FieldIssue[];
}

const UPPER_SNAKE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;

/**
 * A refusal by a service's own rules, written for the caller: what was refused (`message`), why
 * (`kind`), which field (`field`/`issues`) and a stable `code` (UPPER_SNAKE). Subclass it per
 * refusal. It lives here, beside the messages, so that pure domain code, the bus (which must tell
 * a refusal from an outage) and the HTTP kit all see the one class without depending on each
 * other.
 */
export class DomainError extends Error {
  override readonly name: string = "DomainError";
  readonly kind: ErrorKind;
  readonly code: string;
  readonly issues: readonly FieldIssue[];

  constructor(kind: ErrorKind, code: string, message: string, options: DomainErrorOptions = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    if (!UPPER_SNAKE.test(code)) throw new Error(`error code "${code}" is not UPPER_SNAKE`);
    this.kind = kind;
    this.code = code;
    this.issues = options.issues ?? (options.field === undefined ? [] : [{ field: options.field, message }]);
  }

  /** The (first) field at fault, if any. */
  get field(): string | undefined {
    return this.issues[0]?.field;
  }
}
