import { Socket } from "node:net";
import { DomainError, defineCommand, ERROR_KINDS, toBinaryHeaders } from "@dbplane/contracts";
import { createTestNats, type TestNats, waitFor } from "@dbplane/testkit";
import { jetstream, jetstreamManager, type StoredMsg } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type Bus, DLQ_HEADERS, handle, PermanentError, RetryableError } from "../src/index.ts";
import { openTestBus } from "./test-bus.ts";
import { gadgetMoved, paintWidget, polishWidget, widgetCreated, widgetDeleted } from "./test-messages.ts";

const collectorCommand = defineCommand({
  service: "collector",
  name: "count-things",
  schema: z.object({ n: z.number() }),
  summary: "A command no test consumer handles.",
});

describe("consume", () => {
  let t: TestNats;
  let bus: Bus;
  beforeEach(async () => {
    t = await createTestNats();
    bus = await openTestBus(t.url, t.namespace);
  });
  afterEach(async () => {
    await bus.close();
    await t.cleanup();
  });

  const publishWidgets = (ids: string[]) =>
    Promise.all(ids.map((id) => bus.publish(widgetCreated, { widgetId: id, size: 1 }, { subject: id, id })));

  async function dlqMessages(count: number): Promise<StoredMsg[]> {
    const jsm = await jetstreamManager(t.nc);
    const stream = bus.names.stream("dlq");
    await waitFor(async () => (await jsm.streams.info(stream)).state.messages >= count, {
      what: `${count} DLQ messages`,
    });
    const out: StoredMsg[] = [];
    for (let seq = 1; out.length < count; seq++) {
      const msg = await jsm.streams.getMessage(stream, { seq });
      if (msg) out.push(msg);
    }
    return out;
  }

  it("ordered: two replicas handle one message at a time, in stream order, a retry holding the rest", async () => {
    const other = await openTestBus(t.url, t.namespace);
    const handled: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const handler = async (event: { data: { widgetId: string } }, ctx: { deliveryCount: number }) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await new Promise((r) => setTimeout(r, 2));
        // The fifth message fails once: the ones behind it must wait for its retry.
        if (event.data.widgetId === "w04" && ctx.deliveryCount === 1) throw new RetryableError("not yet");
        handled.push(event.data.widgetId);
      } finally {
        inFlight--;
      }
    };
    const options = {
      durable: "in-order",
      ordered: true,
      backoffMs: [50],
      handlers: [handle(widgetCreated, handler)],
    };
    const consumers = [await bus.consume(options), await other.consume(options)];
    const ids = Array.from({ length: 30 }, (_, i) => `w${String(i).padStart(2, "0")}`);
    for (const id of ids) await bus.publish(widgetCreated, { widgetId: id, size: 1 }, { subject: id, id });
    await waitFor(() => handled.length === ids.length, { what: "every widget handled", timeoutMs: 20_000 });
    expect(handled).toEqual(ids);
    expect(maxInFlight).toBe(1);
    const info = await (await jetstreamManager(t.nc)).consumers.info(bus.names.stream("evt"), "in-order");
    expect(info.config.max_ack_pending).toBe(1);
    for (const c of consumers) await c.stop();
    await other.close();
  });

  it("retries a RetryableError with backoff and succeeds on the third delivery", async () => {
    const deliveries: { count: number; at: number }[] = [];
    const backoffMs = [300, 600];
    const consumer = await bus.consume({
      durable: "retrier",
      backoffMs,
      handlers: [
        handle(widgetCreated, async (_event, ctx) => {
          deliveries.push({ count: ctx.deliveryCount, at: performance.now() });
          if (ctx.deliveryCount < 3) throw new RetryableError("downstream busy");
        }),
      ],
    });
    await publishWidgets(["w1"]);
    const jsm = await jetstreamManager(t.nc);
    await waitFor(async () => {
      const info = await jsm.consumers.info(consumer.stream, "retrier");
      return deliveries.length === 3 && info.num_ack_pending === 0 && info.num_pending === 0;
    });
    expect(deliveries.map((d) => d.count)).toEqual([1, 2, 3]);
    // The nak delay is a lower bound on the gap between deliveries.
    expect(deliveries[1]!.at - deliveries[0]!.at).toBeGreaterThanOrEqual(backoffMs[0]!);
    expect(deliveries[2]!.at - deliveries[1]!.at).toBeGreaterThanOrEqual(backoffMs[1]!);
    await consumer.stop();
    expect(deliveries).toHaveLength(3);
  });

  it("dead-letters invalid and exhausted messages with the reason, without blocking those behind them", async () => {
    const js = jetstream(t.nc);
    const subject = bus.names.subject(widgetCreated.subject);
    const envelope = {
      id: "bad-1",
      type: widgetCreated.type,
      source: "test",
      subject: "widget/bad",
      time: new Date().toISOString(),
      specversion: "1.0" as const,
      datacontenttype: "application/json" as const,
    };
    const invalidHeaders = headers();
    for (const [k, v] of Object.entries(toBinaryHeaders(envelope))) invalidHeaders.set(k, v);
    const invalidPayload = new TextEncoder().encode(JSON.stringify({ widgetId: 42 }));
    await js.publish(subject, invalidPayload, { headers: invalidHeaders }); // bypasses validation
    await js.publish(subject, new TextEncoder().encode("not even headers"));
    await publishWidgets(["poison", "fatal", ...Array.from({ length: 20 }, (_, i) => `good-${i}`)]);

    const handled = new Set<string>();
    const consumer = await bus.consume({
      durable: "dlq_test",
      concurrency: 1,
      maxDeliver: 3,
      backoffMs: [100],
      handlers: [
        handle(widgetCreated, async (event) => {
          if (event.data.widgetId === "poison") throw new Error("always fails");
          if (event.data.widgetId === "fatal") throw new PermanentError("cannot ever work");
          handled.add(event.data.widgetId);
        }),
      ],
    });
    await waitFor(() => handled.size === 20, { what: "the good messages" });
    const dead = await dlqMessages(4);
    await consumer.stop();

    const byReason = Object.groupBy(dead, (m) => m.header.get(DLQ_HEADERS.reason));
    expect(Object.keys(byReason).sort()).toEqual(["invalid", "max-deliver", "permanent"]);
    expect(byReason.invalid).toHaveLength(2);
    const invalid = byReason.invalid!.find((m) => m.header.get("ce-id") === "bad-1")!;
    expect(invalid.subject).toBe(
      `${t.namespace}.dbplane.dlq.collector.dlq_test.dbplane.evt.collector.widget.created`,
    );
    expect(Buffer.from(invalid.data).equals(Buffer.from(invalidPayload))).toBe(true);
    expect(invalid.header.get("ce-type")).toBe(widgetCreated.type);
    expect(invalid.header.get(DLQ_HEADERS.error)).toContain("widgetId");
    expect(invalid.header.get(DLQ_HEADERS.durable)).toBe("dlq_test");
    expect(invalid.header.get(DLQ_HEADERS.stream)).toBe(bus.names.stream("evt"));
    expect(invalid.header.get(DLQ_HEADERS.streamSeq)).toBe("1");
    expect(invalid.header.get(DLQ_HEADERS.deliveryCount)).toBe("1");
    const headerless = byReason.invalid!.find((m) => m.header.get("ce-id") === "")!;
    expect(headerless.header.get(DLQ_HEADERS.error)).toContain("missing CloudEvents header");
    expect(new TextDecoder().decode(headerless.data)).toBe("not even headers");

    const exhausted = byReason["max-deliver"]![0]!;
    expect(exhausted.header.get("ce-id")).toBe("poison");
    expect(exhausted.header.get(DLQ_HEADERS.deliveryCount)).toBe("3");
    expect(exhausted.header.get(DLQ_HEADERS.error)).toContain("always fails");
    expect(exhausted.json()).toEqual({ widgetId: "poison", size: 1 });
    expect(byReason.permanent![0]!.header.get(DLQ_HEADERS.deliveryCount)).toBe("1");
  });

  it("dead-letters a domain refusal at once and retries a domain error of kind unavailable", async () => {
    await publishWidgets(["taken", "later"]);
    const deliveries: string[] = [];
    const consumer = await bus.consume({
      durable: "domain_errors",
      backoffMs: [50],
      handlers: [
        handle(widgetCreated, (event, ctx) => {
          deliveries.push(`${event.data.widgetId}:${ctx.deliveryCount}`);
          if (event.data.widgetId === "taken")
            throw new DomainError(ERROR_KINDS.conflict, "WIDGET_TAKEN", "widget taken");
          if (ctx.deliveryCount === 1)
            throw new DomainError(ERROR_KINDS.unavailable, "PAINT_SHOP_CLOSED", "paint shop closed");
        }),
      ],
    });
    const [dead] = await dlqMessages(1);
    await waitFor(() => deliveries.includes("later:2"), { what: "the retry of the unavailable one" });
    await consumer.stop();
    expect(dead?.header.get("ce-id")).toBe("taken");
    expect(dead?.header.get(DLQ_HEADERS.reason)).toBe("permanent");
    expect(dead?.header.get(DLQ_HEADERS.error)).toBe("DomainError: widget taken");
    expect(deliveries.filter((d) => d.startsWith("taken"))).toEqual(["taken:1"]);
  });

  it("never runs more handlers at once than its concurrency", async () => {
    let running = 0;
    let peak = 0;
    const handled = new Set<string>();
    const consumer = await bus.consume({
      durable: "bounded",
      concurrency: 3,
      handlers: [
        handle(widgetCreated, async (event) => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((resolve) => setTimeout(resolve, 20));
          running--;
          handled.add(event.data.widgetId);
        }),
      ],
    });
    await publishWidgets(Array.from({ length: 60 }, (_, i) => `w${i}`));
    await waitFor(() => handled.size === 60);
    await consumer.stop();
    expect(peak).toBe(3);
  });

  it("acks a burst in a few socket writes, not one per message, and every ack reaches the server", async () => {
    const count = 400;
    await publishWidgets(Array.from({ length: count }, (_, i) => `b${i}`));
    const handled = new Set<string>();
    let writes = 0;
    const write = Socket.prototype.write;
    Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
      writes++;
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as typeof write;
    try {
      const consumer = await bus.consume({
        durable: "burst",
        concurrency: 200,
        handlers: [handle(widgetCreated, (event) => void handled.add(event.data.widgetId))],
      });
      await waitFor(() => handled.size === count, { what: `${count} handled` });
      const jsm = await jetstreamManager(t.nc);
      await waitFor(
        async () => {
          const info = await jsm.consumers.info(bus.names.stream("evt"), "burst");
          return info.num_ack_pending === 0 && info.ack_floor.stream_seq === count;
        },
        { what: "every ack on the server" },
      );
      await consumer.stop();
    } finally {
      Socket.prototype.write = write;
    }
    // One write per event-loop turn (a pulled batch), not per ack: 400 acks one by one were
    // 400+ writes. The bound leaves room for pulls, info requests and a slow machine's turns.
    expect(writes).toBeLessThan(count / 4);
  });

  it("stop() waits for the running handler, whose message is then acked", async () => {
    const order: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = 0;
    const consumer = await bus.consume({
      durable: "stopper",
      handlers: [
        handle(paintWidget, async () => {
          started++;
          await released;
          order.push("handler done");
        }),
      ],
    });
    await bus.publish(paintWidget, { widgetId: "w1", color: "blue" }, { subject: "widget/w1" });
    await waitFor(() => started === 1);
    const stopping = consumer.stop().then(() => order.push("stop resolved"));
    order.push("stop called");
    release();
    await stopping;
    expect(order).toEqual(["stop called", "handler done", "stop resolved"]);
    // Work-queue retention: the stream only drops a command once it is acked.
    const jsm = await jetstreamManager(t.nc);
    expect((await jsm.streams.info(bus.names.stream("cmd"))).state.messages).toBe(0);
    const again = await bus.consume({
      durable: "stopper",
      handlers: [handle(paintWidget, () => void started++)],
    });
    await again.stop();
    expect(started).toBe(1);
  });

  it("keeps a long handler's message with automatic working() past the ack wait", async () => {
    const deliveries: number[] = [];
    const consumer = await bus.consume({
      durable: "slow",
      ackWaitMs: 1_000,
      handlers: [
        handle(widgetCreated, async (_event, ctx) => {
          deliveries.push(ctx.deliveryCount);
          await new Promise((resolve) => setTimeout(resolve, 2_500));
        }),
      ],
    });
    await publishWidgets(["slow-1"]);
    const jsm = await jetstreamManager(t.nc);
    await waitFor(
      async () =>
        (await jsm.consumers.info(consumer.stream, "slow")).num_ack_pending === 0 && deliveries.length > 0,
      {
        timeoutMs: 15_000,
      },
    );
    await consumer.stop();
    expect(deliveries).toEqual([1]);
  });

  it("handles several definitions through one shared-prefix consumer", async () => {
    const seen: string[] = [];
    const early: string[] = [];
    const first = await bus.consume({
      durable: "multi",
      handlers: [handle(widgetCreated, (event) => void early.push(event.data.widgetId))],
    });
    await bus.publish(widgetCreated, { widgetId: "early", size: 1 }, { subject: "early" });
    await waitFor(() => early.length === 1);
    await first.stop();
    // Adding a definition widens the filter of the existing durable, keeping its position.
    const consumer = await bus.consume({
      durable: "multi",
      handlers: [
        handle(widgetCreated, (event, ctx) => void seen.push(`${ctx.def.name}:${event.data.widgetId}`)),
        handle(widgetDeleted, (event, ctx) => void seen.push(`${ctx.def.name}:${event.data.widgetId}`)),
      ],
    });
    expect(consumer.filterSubject).toBe(`${t.namespace}.dbplane.evt.collector.widget.>`);
    await bus.publish(widgetCreated, { widgetId: "a", size: 2 }, { subject: "a" });
    await bus.publish(widgetDeleted, { widgetId: "a" }, { subject: "a" });
    await waitFor(() => seen.length === 2);
    await consumer.stop();
    expect(seen).toEqual(["widget.created:a", "widget.deleted:a"]);
  });

  it("widens a command durable on the work-queue stream too, and delivers what waited for the new handler", async () => {
    const seen: string[] = [];
    const first = await bus.consume({
      durable: "cmd_multi",
      handlers: [handle(paintWidget, (_e, ctx) => void seen.push(ctx.def.name))],
    });
    await bus.publish(paintWidget, { widgetId: "w", color: "red" }, { subject: "w" });
    await waitFor(() => seen.length === 1);
    await first.stop();
    // Matched by no consumer yet: it stays in the work queue until one takes it.
    await bus.publish(polishWidget, { widgetId: "w" }, { subject: "w" });
    // The router's commands durable gained rebalance-check beside split-shard like this; a work
    // queue admits only deliver-all, which the recreation once did not use (./scripts/dev failed).
    const widened = await bus.consume({
      durable: "cmd_multi",
      handlers: [
        handle(paintWidget, (_e, ctx) => void seen.push(ctx.def.name)),
        handle(polishWidget, (_e, ctx) => void seen.push(ctx.def.name)),
      ],
    });
    expect(widened.filterSubject).toBe(`${t.namespace}.dbplane.cmd.collector.>`);
    await waitFor(() => seen.length === 2);
    await widened.stop();
    expect(seen).toEqual([paintWidget.name, polishWidget.name]);
  });

  it("skips other events under its prefix but dead-letters commands it has no handler for", async () => {
    const seen: string[] = [];
    const events = await bus.consume({
      durable: "wide_events",
      handlers: [
        handle(widgetCreated, (event) => void seen.push(event.type)),
        handle(gadgetMoved, (event) => void seen.push(event.type)),
      ],
    });
    expect(events.filterSubject).toBe(`${t.namespace}.dbplane.evt.collector.>`);
    await bus.publish(widgetDeleted, { widgetId: "x" }, { subject: "x" });
    await bus.publish(gadgetMoved, { gadgetId: "g" }, { subject: "g" });
    await waitFor(() => seen.length === 1);
    const commands = await bus.consume({
      durable: "wide_commands",
      handlers: [handle(paintWidget, () => {}), handle(polishWidget, () => {})],
    });
    expect(commands.filterSubject).toBe(`${t.namespace}.dbplane.cmd.collector.>`);
    await bus.publish(collectorCommand, { n: 1 }, { subject: "n" });
    const [dead] = await dlqMessages(1);
    expect(dead?.header.get(DLQ_HEADERS.reason)).toBe("unhandled");
    await Promise.all([events.stop(), commands.stop()]);
    expect(seen).toEqual([gadgetMoved.type]);
    const jsm = await jetstreamManager(t.nc);
    expect((await jsm.consumers.info(events.stream, "wide_events")).num_pending).toBe(0);
  });

  it("aborts the signal of handlers still running when stop() times out", async () => {
    let aborted = false;
    const consumer = await bus.consume({
      durable: "stuck",
      handlers: [
        handle(
          widgetCreated,
          (_event, ctx) =>
            new Promise<void>((resolve) => {
              ctx.signal.addEventListener("abort", () => {
                aborted = true;
                resolve();
              });
            }),
        ),
      ],
    });
    await publishWidgets(["stuck-1"]);
    await waitFor(() => consumer.inFlight() === 1);
    await consumer.stop({ timeoutMs: 100 });
    expect(aborted).toBe(true);
  });
});
