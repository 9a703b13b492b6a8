import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

/** An event as it arrived in a namespace's `DBPLANE_EVT` stream (CloudEvents binary mode). */
export interface SeenEvent {
  /** `ce-type`. */
  readonly type: string;
  readonly id: string;
  /** `ce-subject`: the aggregate the event is about, not the NATS subject. */
  readonly subject: string;
  readonly correlationId: string | undefined;
  readonly data: Record<string, unknown>;
  /** Every header and the payload as text, for checks that nothing secret travelled. */
  readonly raw: string;
}

/**
 * Every event in `<NS>_DBPLANE_EVT` so far, in stream order, read with an ordered consumer.
 * `subjectPrefix` (without the namespace, e.g. `dbplane.evt.discovery.`) keeps only those.
 */
export async function readEvents(
  nc: NatsConnection,
  namespace: string,
  subjectPrefix = "",
): Promise<SeenEvent[]> {
  const stream = `${namespace.toUpperCase()}_DBPLANE_EVT`;
  const info = await (await jetstreamManager(nc)).streams.info(stream).catch(() => undefined);
  if (!info || info.state.messages === 0) return [];
  const consumer = await jetstream(nc).consumers.get(stream);
  const wanted = `${namespace}.${subjectPrefix}`;
  const out: SeenEvent[] = [];
  const messages = await consumer.consume({ max_messages: 500 });
  for await (const m of messages) {
    if (m.subject.startsWith(wanted)) {
      const payload = m.string();
      const headers = [...(m.headers ?? [])].map(([k, v]) => `${k}: ${v.join(",")}`).join("\n");
      out.push({
        type: m.headers?.get("ce-type") ?? "",
        id: m.headers?.get("ce-id") ?? "",
        subject: m.headers?.get("ce-subject") ?? "",
        correlationId: m.headers?.get("ce-correlationid") || undefined,
        data: JSON.parse(payload),
        raw: `${headers}\n${payload}`,
      });
    }
    if (m.seq >= info.state.last_seq) break;
  }
  await messages.close();
  return out;
}

/** The JSON payload of the last message on `subject` in `stream` (a command a service sent), or undefined. */
export async function lastMessageOn(nc: NatsConnection, stream: string, subject: string): Promise<unknown> {
  const jsm = await jetstreamManager(nc);
  const message = await jsm.streams.getMessage(stream, { last_by_subj: subject }).catch(() => null);
  return message ? message.json() : undefined;
}
