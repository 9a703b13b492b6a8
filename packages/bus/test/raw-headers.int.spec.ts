import { createTestNats, type TestNats } from "@dbplane/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers, type Msg } from "@nats-io/transport-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { headerGetter } from "../src/index.ts";

const NAMES = [
  "ce-id",
  "ce-type",
  "ce-subject",
  "Ce-Subject",
  "x-dup",
  "x-pad",
  "x-empty",
  "x-unicode",
  "absent",
];

describe("headerGetter", () => {
  let t: TestNats;
  let stream: string;

  beforeEach(async () => {
    t = await createTestNats();
    stream = `${t.namespace}_RAW`;
    await (await jetstreamManager(t.nc)).streams.add({ name: stream, subjects: [`${t.namespace}.raw.>`] });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it("answers every lookup as nats.js's msg.headers.get(name) || undefined does, for stream and core messages", async () => {
    const js = jetstream(t.nc);
    const h = headers();
    h.set("ce-id", "id-1");
    h.set("ce-type", "io.dbplane.test.happened.v1");
    h.set("ce-subject", "agg-7");
    h.append("x-dup", "first");
    h.append("x-dup", "second");
    h.set("x-pad", "  padded value  ");
    h.set("x-empty", "");
    h.set("x-unicode", "zürich: 東京 ✓");
    await js.publish(`${t.namespace}.raw.a`, "{}", { headers: h });
    await js.publish(`${t.namespace}.raw.b`, "no headers");
    const consumer = await js.consumers.get(stream, { filter_subjects: `${t.namespace}.raw.>` });
    const messages = await consumer.consume({ max_messages: 10 });
    const read: { raw: Record<string, string | undefined>; nats: Record<string, string | undefined> }[] = [];
    for await (const m of messages) {
      const get = headerGetter(m);
      read.push({
        raw: Object.fromEntries(NAMES.map((n) => [n, get(n)])),
        nats: Object.fromEntries(NAMES.map((n) => [n, m.headers?.get(n) || undefined])),
      });
      if (read.length === 2) break;
    }
    await messages.close();
    for (const { raw, nats } of read) expect(raw).toEqual(nats);
    expect(read[0]!.raw).toMatchObject({
      "ce-subject": "agg-7",
      "Ce-Subject": undefined,
      "x-dup": "first",
      "x-pad": "padded value",
      "x-empty": undefined,
      "x-unicode": "zürich: 東京 ✓",
    });
    expect(Object.values(read[1]!.raw).every((v) => v === undefined)).toBe(true);

    // A core subscription's message reads the same way.
    const sub = t.nc.subscribe(`${t.namespace}.core`, { max: 1 });
    t.nc.publish(`${t.namespace}.core`, "x", { headers: h });
    for await (const m of sub) expect(headerGetter(m)("x-dup")).toBe("first");
  });

  it("skips lines nats.js would refuse instead of failing the message, and asks msg.headers without the raw bytes", () => {
    const block = "NATS/1.0\r\nce-type: a\r\nbad name: x\r\n: no name\r\nno-colon\r\nce-id:  b \r\n\r\n";
    const bytes = new TextEncoder().encode(`${block}payload`);
    const msg = { _msg: { hdr: block.length }, _rdata: bytes } as unknown as Msg;
    const get = headerGetter(msg);
    expect([get("ce-type"), get("ce-id"), get("bad name"), get("")]).toEqual([
      "a",
      "b",
      undefined,
      undefined,
    ]);
    const opaque = { headers: { get: (n: string) => (n === "ce-type" ? "t" : "") } } as unknown as Msg;
    expect([headerGetter(opaque)("ce-type"), headerGetter(opaque)("ce-id")]).toEqual(["t", undefined]);
  });
});
