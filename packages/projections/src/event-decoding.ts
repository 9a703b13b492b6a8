import { fromBinaryHeaders } from "@dbplane/contracts";
import type { JsMsg } from "@nats-io/jetstream";
import type { ProjectionEvent } from "./projection.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Events whose envelope or JSON could not be read: parked with this reason, never handled. */
const invalidReasons = new WeakMap<ProjectionEvent, string>();

export function invalidReasonOf(event: ProjectionEvent): string | undefined {
  return invalidReasons.get(event);
}

/**
 * Reads a stream message into a ProjectionEvent. A malformed one still becomes an event (with
 * what could be read, the raw payload as data) so its unit parks it with the reason instead of
 * stalling on it or dropping it silently.
 */
export function decodeStreamMessage(m: JsMsg, contractSubject: (wire: string) => string): ProjectionEvent {
  const base = { seq: m.seq, streamSubject: contractSubject(m.subject) };
  const get = (name: string) => m.headers?.get(name) || undefined;
  try {
    const attributes = fromBinaryHeaders(get);
    return { ...attributes, ...base, data: JSON.parse(decoder.decode(m.data)) };
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
    invalidReasons.set(event, `unreadable message: ${(err as Error).message}`);
    return event;
  }
}
