import { describe, expect, it } from "vitest";
import {
  createEnvelope,
  fromBinaryHeaders,
  InvalidEnvelopeError,
  runBackup,
  toBinaryHeaders,
} from "../src/index.ts";

const headersOf = (record: Record<string, string>) => (name: string) => record[name];

describe("CloudEvents envelope over NATS headers (binary mode)", () => {
  it("round-trips every attribute through ce-* headers", () => {
    const data = { name: "orders", backupId: "nightly-1" };
    const event = createEnvelope(runBackup, data, {
      id: "job-1:2026-01-01T00:00:00.000Z",
      source: "dbplane/scheduler/pod-a",
      subject: "database/orders",
      time: new Date("2026-01-01T00:00:00.123Z"),
      correlationid: "op-42",
      causationid: "msg-41",
    });
    const headers = toBinaryHeaders(event);
    expect(headers).toMatchObject({
      "ce-id": "job-1:2026-01-01T00:00:00.000Z",
      "ce-type": "io.dbplane.provisioner.run-backup.v1",
      "ce-specversion": "1.0",
      "ce-time": "2026-01-01T00:00:00.123Z",
    });
    const { data: _, ...attributes } = event;
    expect(fromBinaryHeaders(headersOf(headers))).toEqual(attributes);
  });

  it("omits absent extensions and reads them back as undefined", () => {
    const event = createEnvelope(runBackup, {}, { source: "s", subject: "database/x" });
    const headers = toBinaryHeaders(event);
    expect(Object.keys(headers)).not.toContain("ce-correlationid");
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    const back = fromBinaryHeaders(headersOf(headers));
    expect(back.correlationid).toBeUndefined();
    expect(back.causationid).toBeUndefined();
  });

  it("names every missing required header", () => {
    const get = headersOf({ "ce-id": "1", "ce-type": "t", "ce-source": "" });
    expect(() => fromBinaryHeaders(get)).toThrow(InvalidEnvelopeError);
    expect(() => fromBinaryHeaders(get)).toThrow(/ce-source, ce-subject, ce-time, ce-specversion/);
  });

  const valid = {
    "ce-id": "1",
    "ce-type": "io.dbplane.provisioner.run-backup.v1",
    "ce-source": "s",
    "ce-subject": "database/x",
    "ce-time": "2026-01-01T00:00:00Z",
    "ce-specversion": "1.0",
  };

  it.each([
    ["ce-specversion", "0.3", /ce-specversion "0.3"/],
    ["ce-time", "yesterday", /ce-time "yesterday"/],
    ["ce-time", "2026-13-45T00:00:00Z", /ce-time/],
    ["ce-datacontenttype", "text/plain", /ce-datacontenttype "text\/plain"/],
  ])("rejects an invalid %s, naming it", (header, value, message) => {
    const get = headersOf({ ...valid, [header]: value });
    expect(() => fromBinaryHeaders(get)).toThrow(InvalidEnvelopeError);
    expect(() => fromBinaryHeaders(get)).toThrow(message);
  });

  it("errors carry a name and code", () => {
    try {
      fromBinaryHeaders(headersOf({}));
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ name: "InvalidEnvelopeError", code: "INVALID_ENVELOPE" });
    }
  });
});
