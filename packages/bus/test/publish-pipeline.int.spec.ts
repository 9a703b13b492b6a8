import {
  createTestNats,
  type PrivateNatsServer,
  startPrivateNatsServer,
  type TestNats,
} from "@dbplane/testkit";
import { JetStreamApiError, jetstreamManager } from "@nats-io/jetstream";
import { connect, errors, headers, type NatsConnection, nanos } from "@nats-io/transport-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isTransientPublishError } from "../src/index.ts";
import { PublishPipeline, ReconnectedError } from "../src/publish-pipeline.ts";

const te = new TextEncoder();

function withId(id: string) {
  const h = headers();
  h.set("Nats-Msg-Id", id);
  h.set("x-test", "1");
  return h;
}

/** A pipeline whose reconnect listener the test calls itself. */
function pipelineOn(nc: NatsConnection, inboxPrefix?: string) {
  const listeners: (() => void)[] = [];
  const pipeline = new PublishPipeline(nc, {
    ...(inboxPrefix !== undefined && { inboxPrefix }),
    onReconnect: (l) => listeners.push(l),
  });
  return {
    pipeline,
    reconnect: () => {
      for (const l of listeners) l();
    },
  };
}

describe("PublishPipeline", () => {
  let t: TestNats;
  let stream: string;
  let subject: string;
  beforeEach(async () => {
    t = await createTestNats();
    stream = `${t.namespace.toUpperCase()}_PIPE`;
    subject = `${t.namespace}.pipe`;
    const jsm = await jetstreamManager(t.nc);
    await jsm.streams.add({
      name: stream,
      subjects: [`${subject}.>`],
      duplicate_window: nanos(60_000),
      max_msg_size: 1_024,
    });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it("acks 20,000 publishes in flight at once, each with its own seq, duplicates marked", async () => {
    const { pipeline } = pipelineOn(t.nc);
    const acks = await Promise.all(
      Array.from({ length: 20_000 }, (_, i) =>
        pipeline.publish(`${subject}.a`, te.encode(`{"i":${i}}`), withId(`m-${i % 10_000}`), 5_000),
      ),
    );
    expect(pipeline.size).toBe(0);
    expect(new Set(acks.filter((a) => !a.duplicate).map((a) => a.seq)).size).toBe(10_000);
    expect(acks.filter((a) => a.duplicate)).toHaveLength(10_000);
    expect(acks.every((a) => a.stream === stream)).toBe(true);
    const info = await (await jetstreamManager(t.nc)).streams.info(stream);
    expect(info.state.messages).toBe(10_000);
    // The stored message carries the headers it was published with.
    const stored = await (await jetstreamManager(t.nc)).streams.getMessage(stream, { seq: acks[7]!.seq });
    expect(stored?.header.get("Nats-Msg-Id")).toBe("m-7");
    expect(stored?.header.get("x-test")).toBe("1");
  });

  it("sends an encoded message as the same bytes nats.js's publish would, its token written in per attempt", async () => {
    const { pipeline } = pipelineOn(t.nc);
    const protocol = (t.nc as unknown as { protocol: { sendCommand(...args: unknown[]): void } }).protocol;
    const send = protocol.sendCommand.bind(protocol);
    const sent: Uint8Array[] = [];
    const bytesOf = (parts: unknown[]) =>
      Buffer.concat(parts.map((p) => (typeof p === "string" ? te.encode(p) : (p as Uint8Array))));
    protocol.sendCommand = (...args: unknown[]) => {
      const bytes = bytesOf(args);
      if (Buffer.from(bytes.subarray(0, 5)).toString() === "HPUB ") sent.push(bytes);
      send(...args);
    };
    try {
      const h = withId("enc-1");
      h.set("x-unicode", "é✓");
      const payload = te.encode(JSON.stringify({ text: "ünïcode ✓" }));
      const encoded = pipeline.encode(`${subject}.enc`, payload, h);
      const first = await pipeline.publishEncoded(encoded, 5_000);
      const again = await pipeline.publishEncoded(encoded, 5_000);
      expect(first.duplicate).toBe(false);
      expect(again).toMatchObject({ seq: first.seq, duplicate: true });
      expect(sent).toHaveLength(2);
      const frames = sent.splice(0).map((b) => Buffer.from(b));
      const replies = frames.map((b) => b.toString("latin1").split(" ")[2]!);
      expect(new Set(replies).size).toBe(2);
      // Each attempt's bytes are what nats.js sends for the same message and reply.
      for (const [i, reply] of replies.entries()) {
        t.nc.publish(`${subject}.enc`, payload, { headers: h, reply });
        expect(Buffer.from(sent.pop()!).equals(frames[i]!)).toBe(true);
      }
      // The stored message is the one published.
      const stored = await (await jetstreamManager(t.nc)).streams.getMessage(stream, { seq: first.seq });
      expect(stored?.header.get("x-unicode")).toBe("é✓");
      expect(stored?.json()).toEqual({ text: "ünïcode ✓" });
    } finally {
      protocol.sendCommand = send;
    }
  });

  it("rejects with NoResponders (transient) when no stream takes the subject", async () => {
    const { pipeline } = pipelineOn(t.nc);
    const err = await pipeline
      .publish(`${t.namespace}.nowhere`, te.encode("{}"), withId("x"), 2_000)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(errors.NoRespondersError);
    expect(isTransientPublishError(err)).toBe(true);
  });

  it("rejects with the stream's refusal (not transient) for a message over its size limit", async () => {
    const { pipeline } = pipelineOn(t.nc);
    const err = await pipeline
      .publish(`${subject}.big`, new Uint8Array(4_096), withId("big"), 2_000)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JetStreamApiError);
    expect(isTransientPublishError(err)).toBe(false);
  });

  it("times out a publish whose ack never comes, and rejects what is awaited at a reconnect", async () => {
    const { pipeline, reconnect } = pipelineOn(t.nc);
    // A plain subscriber answers nothing: the publish is never acked.
    const silent = t.nc.subscribe(`${t.namespace}.silent`);
    const started = Date.now();
    const timedOut = await pipeline
      .publish(`${t.namespace}.silent`, te.encode("{}"), withId("s1"), 200)
      .catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(errors.TimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(isTransientPublishError(timedOut)).toBe(true);
    // Each times out at its own deadline, never before it, whatever order they were sent in.
    const t0 = Date.now();
    const rejectedAt = await Promise.all(
      [300, 100, 200].map((ms, i) =>
        pipeline.publish(`${t.namespace}.silent`, te.encode("{}"), withId(`t${i}`), ms).then(
          () => ({ ms, after: -1 }),
          () => ({ ms, after: Date.now() - t0 }),
        ),
      ),
    );
    for (const r of rejectedAt) expect(r.after).toBeGreaterThanOrEqual(r.ms);
    expect(rejectedAt.toSorted((a, b) => a.after - b.after).map((r) => r.ms)).toEqual([100, 200, 300]);
    const awaited = pipeline
      .publish(`${t.namespace}.silent`, te.encode("{}"), withId("s2"), 60_000)
      .catch((e: unknown) => e);
    reconnect();
    expect(await awaited).toBeInstanceOf(ReconnectedError);
    expect(pipeline.size).toBe(0);
    silent.unsubscribe();
  });

  it("an encoded message nats.js would refuse is refused as nats.js refuses it; one over the stream's limit as the stream does", async () => {
    const { pipeline } = pipelineOn(t.nc);
    const bad = await pipeline
      .publishEncoded(pipeline.encode(`${subject}.a b`, te.encode("{}"), withId("bad")), 1_000)
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(errors.InvalidSubjectError);
    const big = await pipeline
      .publishEncoded(pipeline.encode(`${subject}.big`, new Uint8Array(4_096), withId("big2")), 2_000)
      .catch((e: unknown) => e);
    expect(big).toBeInstanceOf(JetStreamApiError);
    expect(pipeline.size).toBe(0);
  });

  it("rejects at once on a closed connection, and what was awaited when it closed", async () => {
    const nc = await connect({ servers: t.url });
    const { pipeline } = pipelineOn(nc);
    nc.subscribe(`${t.namespace}.silent2`);
    const awaited = pipeline
      .publish(`${t.namespace}.silent2`, te.encode("{}"), withId("c1"), 60_000)
      .catch((e: unknown) => e);
    await nc.flush();
    await nc.close();
    expect(await awaited).toBeInstanceOf(errors.ClosedConnectionError);
    const after = await pipeline
      .publish(`${subject}.a`, te.encode("{}"), withId("c2"), 1_000)
      .catch((e: unknown) => e);
    expect(after).toBeInstanceOf(errors.ClosedConnectionError);
    expect(isTransientPublishError(after)).toBe(false);
  });
});

describe("PublishPipeline with NATS permissions", () => {
  let server: PrivateNatsServer;
  beforeEach(async () => {
    server = await startPrivateNatsServer({
      config: `accounts { A { jetstream: enabled, users: [ { user: "pub", password: "pw", permissions: {
        publish: { allow: ["ok.>", "$JS.API.>"] }, subscribe: { allow: ["_INBOX_pub.>"] } } } ] } }`,
      probe: () => ({ user: "pub", pass: "pw" }),
    });
  });
  afterEach(async () => {
    await server.dispose();
  });

  it("rejects a publish the user may not make with the violation (not transient)", async () => {
    const nc = await connect({ servers: server.url, user: "pub", pass: "pw", inboxPrefix: "_INBOX_pub" });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "OK", subjects: ["ok.>", "denied.>"] });
      const { pipeline } = pipelineOn(nc, "_INBOX_pub");
      const allowed = await pipeline.publish("ok.1", te.encode("{}"), withId("p1"), 5_000);
      expect(allowed.stream).toBe("OK");
      // Refused by the server's -ERR, not timed out: the 30 s would outlast the test.
      const err = await pipeline
        .publish("denied.1", te.encode("{}"), withId("p2"), 30_000)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(errors.PermissionViolationError);
      expect(isTransientPublishError(err)).toBe(false);
      // The pipeline goes on working after the refusal.
      expect((await pipeline.publish("ok.2", te.encode("{}"), withId("p3"), 5_000)).stream).toBe("OK");
    } finally {
      await nc.close();
    }
  });
});
