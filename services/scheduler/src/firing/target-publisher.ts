import { type Bus, type EncodedPublish, isTransientPublishError } from "@dbplane/bus";
import type { PubAck } from "@nats-io/jetstream";

/** Target messages encoded ahead (`encodeRaw`) and published, one attempt a call (`publishRaw`). */
export type TargetPublisher = Pick<Bus, "encodeRaw" | "publishRaw" | "flushRaw">;

/** One attempt waits at most this long for the stream's ack. */
const ATTEMPT_TIMEOUT_MS = 5_000;
/** Pauses between attempts (the last repeats). */
export const RETRY_PAUSE_MS = [50, 100, 250, 500, 1_000] as const;

export type PublishOutcome =
  | { readonly kind: "acked"; readonly ack: PubAck }
  /** The deadline passed first; `lastError` is why the attempts failed, if any were made. */
  | { readonly kind: "deadline"; readonly lastError: unknown }
  /** The server refused the message, or the connection is closed for good: retrying cannot help. */
  | { readonly kind: "refused"; readonly error: unknown };

/**
 * Publishes one target message (its headers carry the occurrence id as `Nats-Msg-Id`), retrying transient
 * failures (timeouts, no responders while a stream restarts, a reconnect) until `deadline()`
 * (local ms, re-read before every attempt because lease renewals move it). No attempt starts
 * after the deadline, and none may outlast it by more than its own timeout.
 */
export async function publishTarget(
  publisher: TargetPublisher,
  message: EncodedPublish,
  deadline: () => number,
  onFailure: (transient: boolean) => void,
): Promise<PublishOutcome> {
  let lastError: unknown;
  for (let attempt = 0; ; attempt++) {
    const remaining = deadline() - Date.now();
    if (remaining <= 0) return { kind: "deadline", lastError };
    try {
      const ack = await publisher.publishRaw(message, Math.max(1, Math.min(remaining, ATTEMPT_TIMEOUT_MS)));
      return { kind: "acked", ack };
    } catch (err) {
      lastError = err;
      const transient = isTransientPublishError(err);
      onFailure(transient);
      if (!transient) return { kind: "refused", error: err };
      const pause = RETRY_PAUSE_MS[Math.min(attempt, RETRY_PAUSE_MS.length - 1)]!;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(pause, Math.max(0, deadline() - Date.now()))),
      );
    }
  }
}

export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
