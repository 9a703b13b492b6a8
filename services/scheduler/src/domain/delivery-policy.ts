import { WebhookLimits } from "./limits.ts";

/** What one webhook attempt came to. */
export type AttemptResult =
  | { readonly kind: "response"; readonly status: number }
  | { readonly kind: "timeout" }
  /** DNS, connection, TLS or a reset mid-response. */
  | { readonly kind: "network"; readonly message: string }
  /** The destination's address is not allowed (DBPLANE_SCHEDULER_WEBHOOK_ALLOW). */
  | { readonly kind: "refused"; readonly message: string };

/** The attempt outcomes counted by `dbplane_scheduler_webhook_attempts_total{outcome}`. */
export const AttemptOutcome = {
  success: "success",
  clientError: "client_error",
  retryableStatus: "retryable_status",
  timeout: "timeout",
  networkError: "network_error",
  refused: "refused",
} as const;
export type AttemptOutcome = (typeof AttemptOutcome)[keyof typeof AttemptOutcome];

/** Why a delivery ended failed, as `job.delivery-failed` reports it. */
export const DeliveryFailure = {
  /** The endpoint's answer says repeating the request cannot help (4xx but 408/429, 1xx, 3xx). */
  rejected: "rejected",
  /** The destination's address is not allowed. */
  refused: "refused",
  maxAttempts: "max-attempts",
  /** No further attempt could start within maxLatenessMs. */
  tooLate: "too-late",
} as const;
export type DeliveryFailure = (typeof DeliveryFailure)[keyof typeof DeliveryFailure];

/**
 * What an attempt means for its delivery: 2xx ends it delivered; a 4xx other than 408 (request
 * timeout) and 429 (too many requests) says the request itself is wrong, so repeating it cannot
 * help; a refused address will not change by retrying either. 5xx, 408, 429, timeouts and
 * network errors are the receiver's passing trouble: retried.
 */
export function judgeAttempt(result: AttemptResult): {
  outcome: AttemptOutcome;
  verdict: "succeeded" | "failed" | "retry";
} {
  switch (result.kind) {
    case "response":
      if (result.status >= 200 && result.status < 300) return { outcome: "success", verdict: "succeeded" };
      if (result.status >= 400 && result.status < 500 && result.status !== 408 && result.status !== 429)
        return { outcome: "client_error", verdict: "failed" };
      // 1xx/3xx (redirects are not followed: a redirect could lead to an address not allowed) end it too.
      if (result.status < 400) return { outcome: "client_error", verdict: "failed" };
      return { outcome: "retryable_status", verdict: "retry" };
    case "timeout":
      return { outcome: "timeout", verdict: "retry" };
    case "network":
      return { outcome: "network_error", verdict: "retry" };
    case "refused":
      return { outcome: "refused", verdict: "failed" };
  }
}

/** A short description of the attempt for the record (never a header value or a body). */
export function describeAttempt(result: AttemptResult, timeoutMs: number): string | null {
  switch (result.kind) {
    case "response":
      return result.status >= 200 && result.status < 300 ? null : `HTTP ${result.status}`;
    case "timeout":
      return `no complete response within timeoutMs (${timeoutMs} ms)`;
    case "network":
    case "refused":
      return result.message;
  }
}

/**
 * The pause before attempt `attempt + 1`: exponential backoff with full jitter (a uniformly
 * random wait up to min(cap, base × 2^(attempt−1))), so that receivers recovering from an
 * outage are not hit by every scheduler retry at the same instant.
 */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(
    WebhookLimits.backoffCapMs,
    WebhookLimits.backoffBaseMs * 2 ** Math.max(0, attempt - 1),
  );
  return Math.floor(random() * ceiling);
}
