import { stringify } from "yaml";
import { z } from "zod";
import packageJson from "../package.json" with { type: "json" };
import { CE_REQUIRED_HEADERS } from "./envelope.ts";
import { jsonValue } from "./field-types.ts";
import type { MessageDefinition } from "./message.ts";

type JsonObject = { [key: string]: unknown };

/** The AsyncAPI 3.0.0 document of a message catalog, as plain JSON-compatible data. */
export interface AsyncApiDocument {
  readonly asyncapi: "3.0.0";
  readonly info: JsonObject;
  readonly defaultContentType: "application/json";
  readonly servers: JsonObject;
  readonly channels: JsonObject;
  readonly operations: JsonObject;
  readonly components: { readonly messages: JsonObject };
}

const STREAM_OF = { command: "DBPLANE_CMD", event: "DBPLANE_EVT" } as const;

const DESCRIPTION = `Commands and events that dbplane's services exchange over NATS JetStream.

Every message is a CloudEvents 1.0 event in the NATS protocol binding's binary mode: the
attributes travel as \`ce-*\` headers, the JSON \`data\` as the payload. Commands go to the
stream DBPLANE_CMD (work queue, one durable consumer per service), events to DBPLANE_EVT.
\`Nats-Msg-Id\` equals \`ce-id\`, so JetStream drops duplicates. This document is generated from
packages/contracts; do not edit it by hand.`;

// Types JSON Schema cannot express. `jsonValue` (a custom check) is the one allowed exception: `{}`.
const UNREPRESENTABLE = new Set([
  "bigint",
  "date",
  "symbol",
  "undefined",
  "void",
  "map",
  "set",
  "nan",
  "function",
]);
const jsonValueCheck = jsonValue._zod.def.fn;

/** The payload as JSON Schema draft 7, which AsyncAPI's schema format extends. */
function payloadSchema(def: MessageDefinition): JsonObject {
  const { $schema: _, ...schema } = z.toJSONSchema(def.schema, {
    target: "draft-7",
    // "input": what a producer may send; consumers apply the defaults shown.
    io: "input",
    unrepresentable: "any",
    override: ({ zodSchema, jsonSchema, path }) => {
      // zod adds a 500-character regex next to `format: date-time`; the format says it all.
      if (jsonSchema.format === "date-time") delete jsonSchema.pattern;
      const inner = zodSchema._zod.def;
      const isJson = inner.type === "custom" && "fn" in inner && inner.fn === jsonValueCheck;
      if (UNREPRESENTABLE.has(inner.type) || (inner.type === "custom" && !isJson)) {
        throw new Error(`${def.type}: field ${path.join(".")} has a type JSON Schema cannot describe`);
      }
    },
  });
  if ("definitions" in schema) throw new Error(`${def.type}: payload schemas must not be recursive`);
  return schema;
}

function headersSchema(def: MessageDefinition): JsonObject {
  const text = (description: string) => ({ type: "string", description });
  return {
    type: "object",
    properties: {
      "ce-id": text("Unique id; derived from the fact when the emitter may repeat itself"),
      "ce-type": { type: "string", const: def.type, description: "CloudEvents type" },
      "ce-source": text("The emitting service instance"),
      "ce-subject": text("The aggregate the message is about (database, shard, job); ordering key"),
      "ce-time": { type: "string", format: "date-time", description: "When the fact occurred (RFC 3339)" },
      "ce-specversion": { type: "string", const: "1.0" },
      "ce-datacontenttype": { type: "string", const: "application/json" },
      "ce-correlationid": text("The HTTP operation or first message that started the chain"),
      "ce-causationid": text("The id of the message that directly caused this one"),
      "Nats-Msg-Id": text("Equal to ce-id; JetStream's duplicate detection key"),
    },
    required: CE_REQUIRED_HEADERS.map((name) => `ce-${name}`),
  };
}

function messageObject(def: MessageDefinition): JsonObject {
  return {
    name: def.type,
    title: `${def.service} ${def.name} v${def.version}`,
    summary: def.summary,
    description: `${def.kind === "command" ? "Command" : "Event"} on \`${def.subject}\` (stream ${STREAM_OF[def.kind]}).`,
    contentType: "application/json",
    correlationId: { location: "$message.header#/ce-correlationid" },
    headers: headersSchema(def),
    payload: payloadSchema(def),
    tags: [{ name: def.service }, { name: def.kind }],
  };
}

/**
 * Builds the AsyncAPI 3.0.0 document of `messages`: one channel per subject, one message per
 * CloudEvents type, and per message one operation of its owning service — `send` for the events
 * it emits, `receive` for the commands it handles.
 */
export function buildAsyncApiDocument(messages: readonly MessageDefinition[]): AsyncApiDocument {
  const channels: JsonObject = {};
  const operations: JsonObject = {};
  const componentMessages: JsonObject = {};
  for (const def of messages) {
    const channelId = def.subject;
    const messageId = def.type;
    componentMessages[messageId] = messageObject(def);
    channels[channelId] = {
      address: def.subject,
      title: `${def.service} ${def.name}`,
      summary: def.summary,
      messages: { [messageId]: { $ref: `#/components/messages/${messageId}` } },
    };
    const action = def.kind === "command" ? "receive" : "send";
    operations[`${def.service}.${action}.${def.name}`] = {
      action,
      channel: { $ref: `#/channels/${channelId}` },
      summary: `${def.service} ${action === "send" ? "emits" : "handles"} ${def.name}`,
      messages: [{ $ref: `#/channels/${channelId}/messages/${messageId}` }],
      tags: [{ name: def.service }],
    };
  }
  return {
    asyncapi: "3.0.0",
    info: { title: "dbplane messages", version: packageJson.version, description: DESCRIPTION },
    defaultContentType: "application/json",
    servers: {
      nats: {
        host: "localhost:4222",
        protocol: "nats",
        description: "NATS with JetStream (a 3-node cluster on Kubernetes)",
      },
    },
    channels,
    operations,
    components: { messages: componentMessages },
  };
}

/** The document as YAML, byte-for-byte stable for the same catalog (checked in CI). */
export function renderAsyncApiYaml(messages: readonly MessageDefinition[]): string {
  const header = "# Generated from packages/contracts by `pnpm asyncapi`. Do not edit by hand.\n";
  // No anchors/aliases for repeated objects, no line folding: diffs stay readable.
  return header + stringify(buildAsyncApiDocument(messages), { aliasDuplicateObjects: false, lineWidth: 0 });
}
