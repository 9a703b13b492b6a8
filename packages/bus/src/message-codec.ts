import {
  type CloudEvent,
  createEnvelope,
  fromBinaryHeaders,
  InvalidMessageDataError,
  type MessageData,
  type MessageDefinition,
  parseMessageData,
  toBinaryHeaders,
} from "@dbplane/contracts";
import { type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export interface EncodeOptions {
  readonly id?: string;
  readonly source: string;
  readonly subject: string;
  readonly time?: Date;
  readonly correlationId?: string;
  readonly causationId?: string;
}

export interface EncodedMessage<T> {
  readonly event: CloudEvent<T>;
  readonly headers: MsgHdrs;
  readonly payload: Uint8Array;
}

/** CloudEvents NATS binding, binary mode: attributes as `ce-*` headers, `data` as JSON. */
export function encodeMessage<D extends MessageDefinition>(
  def: D,
  data: unknown,
  options: EncodeOptions,
): EncodedMessage<MessageData<D>> {
  const valid = parseMessageData(def, data);
  const event = createEnvelope(def, valid, {
    source: options.source,
    subject: options.subject,
    ...(options.id !== undefined && { id: options.id }),
    ...(options.time !== undefined && { time: options.time }),
    ...(options.correlationId !== undefined && { correlationid: options.correlationId }),
    ...(options.causationId !== undefined && { causationid: options.causationId }),
  });
  const headers = natsHeaders();
  for (const [name, value] of Object.entries(toBinaryHeaders(event))) headers.set(name, value);
  return { event, headers, payload: encoder.encode(JSON.stringify(valid)) };
}

/**
 * Reads a delivered message back into a CloudEvent of one of `defs` (matched by `ce-type`).
 * Throws InvalidEnvelopeError (headers) or InvalidMessageDataError (type, JSON, schema); either
 * sends the message to the DLQ.
 */
export function decodeMessage(
  defsByType: ReadonlyMap<string, MessageDefinition>,
  headers: MsgHdrs | undefined,
  payload: Uint8Array,
): { def: MessageDefinition; event: CloudEvent<unknown> } {
  const attributes = fromBinaryHeaders((name) => headers?.get(name) || undefined);
  const def = defsByType.get(attributes.type);
  if (!def) {
    throw new InvalidMessageDataError(attributes.type, [
      { path: "", message: `ce-type is not one of ${[...defsByType.keys()].join(", ")}` },
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(payload));
  } catch (err) {
    throw new InvalidMessageDataError(def.type, [{ path: "", message: "payload is not UTF-8 JSON" }], {
      cause: err,
    });
  }
  return { def, event: { ...attributes, data: parseMessageData(def, json) } };
}
