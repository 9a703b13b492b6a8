import { DLQ_REASONS, type HeaderGetter, headerGetter, subjectService, untrustedSource } from "@dbplane/bus";
import { fromBinaryHeaders } from "@dbplane/contracts";
import type { JsMsg } from "@nats-io/jetstream";
import type { ProjectionEvent } from "./projection.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Why an event was parked: the `reason` label of `dbplane_projection_events_parked_total`. */
export const PARK_REASONS = {
  /** The handler kept failing for `maxAttempts`. */
  handlerFailed: "handler-failed",
  /** Bad envelope or JSON. */
  unreadable: "unreadable",
  /** `ce-source` is not the service its subject names (the bus's reason of the same name). */
  untrustedSource: DLQ_REASONS.untrustedSource,
} as const;
export type ParkReason = (typeof PARK_REASONS)[keyof typeof PARK_REASONS];

/** Why an event is parked at once, never handled: the reason and the text the parked row keeps. */
export interface Refusal {
  readonly reason: ParkReason;
  readonly message: string;
}

const refusals = new WeakMap<ProjectionEvent, Refusal>();

export function refusalOf(event: ProjectionEvent): Refusal | undefined {
  return refusals.get(event);
}

/**
 * The refusal of an event whose `ce-source` is not `dbplane/<service>` of the service its
 * subject names (`dbplane.evt.<service>.…`), as the bus's consumers refuse it: NATS permissions
 * keep forgeries out of the stream, this keeps a projection from trusting what slipped in
 * (a NATS without auth, a misconfigured user). Undefined when the source may send it.
 */
export function sourceRefusal(
  event: Pick<ProjectionEvent, "source" | "type" | "streamSubject">,
): Refusal | undefined {
  const owner = subjectService(event.streamSubject);
  const err = untrustedSource(event.source, event.type, owner ? [owner] : []);
  return (
    err && {
      reason: PARK_REASONS.untrustedSource,
      message: `${PARK_REASONS.untrustedSource}: ${err.message}`,
    }
  );
}

/**
 * Reads a stream message into a ProjectionEvent. A malformed one still becomes an event (with
 * what could be read, the raw payload as data) so its unit parks it with the reason instead of
 * stalling on it or dropping it silently; so does one from an untrusted source.
 */
export function decodeStreamMessage(
  m: JsMsg,
  contractSubject: (wire: string) => string,
  get: HeaderGetter = headerGetter(m),
): ProjectionEvent {
  const base = { seq: m.seq, streamSubject: contractSubject(m.subject) };
  try {
    const attributes = fromBinaryHeaders(get);
    const event: ProjectionEvent = { ...attributes, ...base, data: JSON.parse(decoder.decode(m.data)) };
    const refusal = sourceRefusal(event);
    if (refusal) refusals.set(event, refusal);
    return event;
  } catch (err) {
    let raw: string;
    try {
      raw = decoder.decode(m.data);
    } catch {
      raw = Buffer.from(m.data).toString("base64");
    }
    const event: ProjectionEvent = {
      id: get("ce-id") ?? get("Nats-Msg-Id") ?? `seq:${m.seq}`,
      type: get("ce-type") ?? "unknown",
      source: get("ce-source") ?? "unknown",
      subject: get("ce-subject") ?? base.streamSubject,
      time: new Date(m.info.timestampNanos / 1e6).toISOString(),
      specversion: "1.0",
      datacontenttype: "application/json",
      data: raw,
      ...base,
    };
    refusals.set(event, {
      reason: PARK_REASONS.unreadable,
      message: `unreadable message: ${(err as Error).message}`,
    });
    return event;
  }
}
