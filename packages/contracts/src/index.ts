export {
  CE_HEADER_PREFIX,
  CE_HEADERS,
  createEnvelope,
  fromBinaryHeaders,
  InvalidEnvelopeError,
  toBinaryHeaders,
} from "./envelope.ts";
export type { CloudEvent, CloudEventAttributes, EnvelopeOptions } from "./envelope.ts";
export {
  cloudEventType,
  commandSubject,
  defineCommand,
  defineEvent,
  eventSubject,
  MESSAGE_KINDS,
  SERVICES,
} from "./message.ts";
export type { MessageData, MessageDefinition, MessageInput, MessageKind, ServiceName } from "./message.ts";
