import { type PrivateNatsServer, startPrivateNatsServer, uniqueName, waitFor } from "@dbplane/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Bus, handle, PublishError } from "../src/index.ts";
import { openTestBus } from "./test-bus.ts";
import { widgetCreated } from "./test-messages.ts";

describe("NATS restarting under a running publisher and consumer", () => {
  let server: PrivateNatsServer;
  let bus: Bus;
  const namespace = uniqueName("t");
  beforeEach(async () => {
    server = await startPrivateNatsServer();
  });
  afterEach(async () => {
    await bus?.close();
    await server.dispose();
  });

  const publish = (id: string) => bus.publish(widgetCreated, { widgetId: id, size: 1 }, { subject: id, id });

  async function storedMessages(): Promise<number> {
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      return (await jsm.streams.info(bus.names.stream("evt"))).state.messages;
    } finally {
      await nc.close();
    }
  }

  it("recovers both without help; publishes issued during a short outage succeed, once each", async () => {
    bus = await openTestBus(server.url, namespace);
    const handled = new Set<string>();
    await bus.consume({
      durable: "survivor",
      handlers: [
        handle(widgetCreated, (event) => {
          handled.add(event.data.widgetId);
        }),
      ],
    });
    await Promise.all(["before-1", "before-2"].map(publish));
    await waitFor(() => handled.size === 2);

    await server.stop();
    await waitFor(() => !bus.isConnected(), { what: "the bus to notice the outage" });
    const during = ["during-1", "during-2", "during-3"];
    const pending = during.map(publish);
    // Same ids again while still down: dedup must absorb them after the reconnect.
    const repeats = during.map(publish);
    await server.start();
    const acks = await Promise.all([...pending, ...repeats]);
    expect(new Set(acks.map((a) => a.id))).toEqual(new Set(during));
    expect(acks.filter((a) => !a.duplicate)).toHaveLength(3);
    await waitFor(() => bus.isConnected());
    expect(bus.status().reconnects).toBeGreaterThanOrEqual(1);

    await publish("after-1");
    await waitFor(() => handled.size === 6, { what: "the consumer to resume", timeoutMs: 30_000 });
    expect([...handled].sort()).toEqual(["after-1", "before-1", "before-2", ...during].sort());
    expect(await storedMessages()).toBe(6);
  });

  it("throws PublishError when the outage outlasts publishTimeoutMs; the same id can be published again", async () => {
    bus = await openTestBus(server.url, namespace, { publishTimeoutMs: 1_500 });
    await publish("first");
    await server.stop();
    await waitFor(() => !bus.isConnected());
    const err = await publish("lost?").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishError);
    expect(err).toMatchObject({ msgId: "lost?", code: "PUBLISH_FAILED" });
    expect((err as PublishError).attempts).toBeGreaterThanOrEqual(1);

    await server.start();
    await waitFor(() => bus.isConnected(), { timeoutMs: 15_000 });
    // The failed attempt may still have reached the server after the reconnect; the retry with
    // the same id is absorbed either way, so exactly one copy exists.
    const retry = await publish("lost?");
    expect(retry.id).toBe("lost?");
    expect(await storedMessages()).toBe(2);
  });
});
