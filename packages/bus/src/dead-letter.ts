import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import type { BusNames } from "./naming.ts";

/** Why a message was dead-lettered; the value of the `dbplane-dlq-reason` header. */
export const DLQ_REASONS = {
  /** Missing/invalid `ce-*` headers, unknown `ce-type`, payload not JSON or not matching the schema. */
  invalid: "invalid",
  /** The handler threw a PermanentError, or a DomainError that retrying cannot change. */
  permanent: "permanent",
  /** The handler kept failing until `maxDeliver` deliveries were used up. */
  maxDeliver: "max-deliver",
  /** A command on the consumer's subjects that none of its definitions handles. */
  unhandled: "unhandled",
  /** `ce-source` is not one of the message's declared producers (`dbplane/<service>`): a forgery or a misrouted publish. */
  untrustedSource: "untrusted-source",
} as const;
export type DlqReason = (typeof DLQ_REASONS)[keyof typeof DLQ_REASONS];

/** Headers the DLQ copy carries besides the original ones. */
export const DLQ_HEADERS = {
  reason: "dbplane-dlq-reason",
  error: "dbplane-dlq-error",
  deliveryCount: "dbplane-dlq-delivery-count",
  durable: "dbplane-dlq-durable",
  stream: "dbplane-dlq-stream",
  streamSeq: "dbplane-dlq-stream-seq",
} as const;

// NATS header values are single-line; keep them short enough to read in `nats stream view`.
const MAX_ERROR_LENGTH = 1_000;

/**
 * Copies a message to the DLQ stream, on `dbplane.dlq.<service>.<durable>.<subject>` (the only
 * dead letters the service's NATS user may publish): original headers and payload bytes
 * unchanged, plus the reason. The msg id is derived from the original's stream position, so dead-lettering the same
 * delivery twice (a crash between this publish and the `term`) stores one copy.
 */
export async function publishDeadLetter(
  js: JetStreamClient,
  names: BusNames,
  msg: JsMsg,
  details: { service: string; durable: string; reason: DlqReason; error: unknown },
): Promise<void> {
  const h = natsHeaders();
  for (const [name, values] of msg.headers ?? []) {
    // Nats-* headers steer JetStream (dedup id, expectations) and must not apply to the copy.
    if (name.toLowerCase().startsWith("nats-")) continue;
    for (const value of values) h.append(name, value);
  }
  const error =
    details.error instanceof Error
      ? `${details.error.name}: ${details.error.message}`
      : String(details.error);
  h.set(DLQ_HEADERS.reason, details.reason);
  h.set(DLQ_HEADERS.error, error.replace(/[\r\n]+/g, " ").slice(0, MAX_ERROR_LENGTH));
  h.set(DLQ_HEADERS.deliveryCount, String(msg.info.deliveryCount));
  h.set(DLQ_HEADERS.durable, details.durable);
  h.set(DLQ_HEADERS.stream, msg.info.stream);
  h.set(DLQ_HEADERS.streamSeq, String(msg.info.streamSequence));
  await js.publish(names.dlqSubject(details.service, details.durable, msg.subject), msg.data, {
    headers: h,
    msgID: `dlq:${details.durable}:${msg.info.stream}:${msg.info.streamSequence}`,
  });
}
