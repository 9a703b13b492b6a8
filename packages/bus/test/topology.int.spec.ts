import { createTestNats, type TestNats } from "@dbplane/testkit";
import { DiscardPolicy, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connectBus, PublishError } from "../src/index.ts";
import { testLogger } from "./test-bus.ts";
import { paintWidget, widgetCreated } from "./test-messages.ts";

describe("topology", () => {
  let t: TestNats;
  beforeEach(async () => {
    t = await createTestNats();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it("creates one set of streams when two processes ensure it concurrently", async () => {
    const options = {
      servers: t.url,
      logger: testLogger,
      namespace: t.namespace,
      duplicateWindowMs: 5 * 60_000,
    };
    // Six processes starting at once: on nats-server 2.9 a create that loses the race may be
    // answered "subjects overlap with an existing stream" rather than "name already in use".
    const buses = await Promise.all(
      ["a", "b", "c", "d", "e", "f"].map((name) => connectBus({ ...options, name })),
    );
    try {
      await Promise.all(buses.flatMap((bus) => [bus.ensureTopology(), bus.ensureTopology()]));
      const jsm = await jetstreamManager(t.nc);
      const prefix = `${t.namespace.toUpperCase()}_`;
      const streams = [];
      for await (const info of jsm.streams.list())
        if (info.config.name.startsWith(prefix)) streams.push(info.config);
      expect(streams.map((s) => s.name).sort()).toEqual([
        `${prefix}DBPLANE_CMD`,
        `${prefix}DBPLANE_DLQ`,
        `${prefix}DBPLANE_EVT`,
      ]);
      const byName = Object.fromEntries(streams.map((s) => [s.name.slice(prefix.length), s]));
      expect(byName.DBPLANE_CMD).toMatchObject({
        subjects: [`${t.namespace}.dbplane.cmd.>`],
        retention: RetentionPolicy.Workqueue,
        duplicate_window: nanos(5 * 60_000),
        num_replicas: 1,
      });
      expect(byName.DBPLANE_EVT).toMatchObject({
        subjects: [`${t.namespace}.dbplane.evt.>`],
        retention: RetentionPolicy.Limits,
        max_age: nanos(7 * 24 * 3_600_000),
        duplicate_window: nanos(5 * 60_000),
      });
      expect(byName.DBPLANE_DLQ).toMatchObject({
        subjects: [`${t.namespace}.dbplane.dlq.>`],
        retention: RetentionPolicy.Limits,
        duplicate_window: nanos(5 * 60_000),
      });
    } finally {
      await Promise.all(buses.map((bus) => bus.close()));
    }
  });

  it("brings an existing stream to a changed config", async () => {
    const base = { servers: t.url, logger: testLogger, namespace: t.namespace, name: "svc" };
    const first = await connectBus({ ...base, eventMaxAgeMs: 60_000 });
    await first.ensureTopology();
    await first.close();
    const second = await connectBus({ ...base, eventMaxAgeMs: 120_000, duplicateWindowMs: 30_000 });
    await second.ensureTopology();
    await second.close();
    const jsm = await jetstreamManager(t.nc);
    const info = await jsm.streams.info(`${t.namespace.toUpperCase()}_DBPLANE_EVT`);
    expect(info.config.max_age).toBe(nanos(120_000));
    expect(info.config.duplicate_window).toBe(nanos(30_000));
  });

  it("bounds every stream's bytes: a full commands stream refuses new commands and keeps the old, a full events stream drops its oldest", async () => {
    const bus = await connectBus({
      servers: t.url,
      logger: testLogger,
      namespace: t.namespace,
      name: "collector",
      streamMaxBytes: 16 * 1024 * 1024,
      publishTimeoutMs: 1_000,
    });
    try {
      await bus.ensureTopology();
      const jsm = await jetstreamManager(t.nc);
      const stream = (role: string) => `${t.namespace.toUpperCase()}_DBPLANE_${role}`;
      expect((await jsm.streams.info(stream("EVT"))).config).toMatchObject({
        max_bytes: 16 * 1024 * 1024,
        discard: DiscardPolicy.Old,
      });
      expect((await jsm.streams.info(stream("CMD"))).config).toMatchObject({
        max_bytes: 4 * 1024 * 1024,
        discard: DiscardPolicy.New,
      });
      expect((await jsm.streams.info(stream("DLQ"))).config.max_bytes).toBe(4 * 1024 * 1024);

      const big = "w".repeat(512 * 1024);
      let refused: unknown;
      for (let i = 0; i < 12 && !refused; i++) {
        await bus
          .publish(paintWidget, { widgetId: `${i}-${big}`, color: "red" }, { subject: `w${i}` })
          .catch((err) => {
            refused = err;
          });
      }
      expect(refused).toBeInstanceOf(PublishError);
      const commands = await jsm.streams.info(stream("CMD"));
      expect(commands.state.first_seq).toBe(1);
      expect(commands.state.bytes).toBeLessThanOrEqual(4 * 1024 * 1024);

      for (let i = 0; i < 40; i++)
        await bus.publish(widgetCreated, { widgetId: `${i}-${big}`, size: i }, { subject: `w${i}` });
      const events = await jsm.streams.info(stream("EVT"));
      expect(events.state.first_seq).toBeGreaterThan(1);
      expect(events.state.last_seq).toBe(40);
      expect(events.state.bytes).toBeLessThanOrEqual(16 * 1024 * 1024);
    } finally {
      await bus.close();
    }
  });
});
