import { randomUUID } from "node:crypto";
import type { MessageDefinition } from "./message.ts";

/** CloudEvents 1.0 attributes dbplane sets on every message, plus its two extensions. */
export interface CloudEventAttributes {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  /** The aggregate the message is about (a database, a shard, a job). */
  readonly subject: string;
  readonly time: string;
  readonly specversion: "1.0";
  readonly datacontenttype: "application/json";
  /** The HTTP operation (or first message) that caused this chain. */
  readonly correlationid?: string | undefined;
  /** The id of the message that directly caused this one. */
  readonly causationid?: string | undefined;
}

export interface CloudEvent<T = unknown> extends CloudEventAttributes {
  readonly data: T;
}

export const CE_HEADER_PREFIX = "ce-";
/** Header names of the NATS protocol binding, binary mode. */
export const CE_HEADERS = [
  "id",
  "type",
  "source",
  "subject",
  "time",
  "specversion",
  "datacontenttype",
  "correlationid",
  "causationid",
] as const;

/** Attributes without which a message is rejected (the extensions are optional). */
export const CE_REQUIRED_HEADERS = ["id", "type", "source", "subject", "time", "specversion"] as const;

// RFC 3339 date-time, as CloudEvents requires for `time`.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

export interface EnvelopeOptions {
  /** Deterministic id derived from the fact (e.g. `<jobId>:<scheduledAt>`); random UUID if absent. */
  readonly id?: string;
  readonly source: string;
  readonly subject: string;
  readonly time?: Date;
  readonly correlationid?: string;
  readonly causationid?: string;
}

export class InvalidEnvelopeError extends Error {
  override readonly name = "InvalidEnvelopeError";
  readonly code = "INVALID_ENVELOPE";
}

/** Builds the envelope of a message; `data` must already be validated against its schema. */
export function createEnvelope<T>(def: MessageDefinition, data: T, options: EnvelopeOptions): CloudEvent<T> {
  return {
    id: options.id ?? randomUUID(),
    type: def.type,
    source: options.source,
    subject: options.subject,
    time: (options.time ?? new Date()).toISOString(),
    specversion: "1.0",
    datacontenttype: "application/json",
    correlationid: options.correlationid,
    causationid: options.causationid,
    data,
  };
}

/** The `ce-*` headers of the binary-mode binding. Undefined extensions are omitted. */
export function toBinaryHeaders(event: CloudEventAttributes): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of CE_HEADERS) {
    const value = event[name];
    if (value !== undefined) headers[`${CE_HEADER_PREFIX}${name}`] = value;
  }
  return headers;
}

/**
 * Reads the attributes back from `ce-*` headers. Throws InvalidEnvelopeError naming every
 * missing required attribute, so a DLQ entry says exactly what was wrong.
 */
export function fromBinaryHeaders(get: (name: string) => string | undefined): CloudEventAttributes {
  // Each header is read once: header lookups canonicalise names and sit on the consume hot path.
  const values = new Map<string, string>();
  for (const name of CE_HEADERS) {
    const value = get(`${CE_HEADER_PREFIX}${name}`);
    if (value !== undefined && value !== "") values.set(name, value);
  }
  const read = (name: string) => values.get(name);
  const missing = CE_REQUIRED_HEADERS.filter((n) => !read(n));
  if (missing.length > 0) {
    throw new InvalidEnvelopeError(
      `missing CloudEvents header(s): ${missing.map((n) => `ce-${n}`).join(", ")}`,
    );
  }
  if (read("specversion") !== "1.0") {
    throw new InvalidEnvelopeError(`unsupported ce-specversion "${read("specversion")}", expected "1.0"`);
  }
  const time = read("time")!;
  if (!RFC3339.test(time) || Number.isNaN(Date.parse(time))) {
    throw new InvalidEnvelopeError(`invalid ce-time "${time}", expected an RFC 3339 timestamp`);
  }
  const contentType = read("datacontenttype");
  if (contentType !== undefined && contentType !== "application/json") {
    throw new InvalidEnvelopeError(
      `unsupported ce-datacontenttype "${contentType}", expected "application/json"`,
    );
  }
  return {
    id: read("id")!,
    type: read("type")!,
    source: read("source")!,
    subject: read("subject")!,
    time,
    specversion: "1.0",
    datacontenttype: "application/json",
    correlationid: read("correlationid"),
    causationid: read("causationid"),
  };
}
