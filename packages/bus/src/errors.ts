/**
 * Thrown by a handler for a transient failure: the message is nak'ed and redelivered after the
 * consumer's backoff for its delivery count, until `maxDeliver` is reached (then DLQ). Any
 * other error a handler throws is treated the same way.
 */
export class RetryableError extends Error {
  override readonly name = "RetryableError";
  readonly code = "RETRYABLE";
  /** Overrides the consumer's backoff for this one redelivery. */
  readonly delayMs: number | undefined;

  constructor(message: string, options: ErrorOptions & { delayMs?: number } = {}) {
    super(message, options);
    this.delayMs = options.delayMs;
  }
}

/**
 * Thrown by a handler when retrying cannot help (a poison message, a fact the handler cannot
 * accept): the message is terminated and copied to the DLQ with this error as the reason.
 */
export class PermanentError extends Error {
  override readonly name = "PermanentError";
  readonly code = "PERMANENT";
}

/** A publish was not acknowledged by JetStream within `publishTimeoutMs`, or was refused. */
export class PublishError extends Error {
  override readonly name = "PublishError";
  readonly code = "PUBLISH_FAILED";
  readonly subject: string;
  readonly msgId: string;
  readonly attempts: number;

  constructor(
    message: string,
    details: { subject: string; msgId: string; attempts: number },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.subject = details.subject;
    this.msgId = details.msgId;
    this.attempts = details.attempts;
  }
}

/** A KV compare-and-set lost: the key changed (or already existed) since the revision read. */
export class KvConflictError extends Error {
  override readonly name = "KvConflictError";
  readonly code = "KV_CONFLICT";
  readonly bucket: string;
  readonly key: string;

  constructor(bucket: string, key: string, options?: ErrorOptions) {
    super(`key "${key}" in bucket "${bucket}" was changed concurrently`, options);
    this.bucket = bucket;
    this.key = key;
  }
}

/** `updateWith` lost its compare-and-set more often than allowed. */
export class KvContentionError extends Error {
  override readonly name = "KvContentionError";
  readonly code = "KV_CONTENTION";
}
