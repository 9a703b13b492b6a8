import { InvalidMessageDataError } from "@dbplane/contracts";
import { createTestNats, type TestNats } from "@dbplane/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Bus } from "../src/index.ts";
import { openTestBus } from "./test-bus.ts";
import { paintWidget, widgetCreated } from "./test-messages.ts";

describe("publish", () => {
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

  it("stores 5,000 messages when 10,000 are published with 5,000 distinct ids", async () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `widget-${i % 5_000}:v1`);
    const acks = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      acks.push(
        ...(await Promise.all(
          chunk.map((id) =>
            bus.publish(widgetCreated, { widgetId: id, size: 1 }, { subject: `widget/${id}`, id }),
          ),
        )),
      );
    }
    const jsm = await jetstreamManager(t.nc);
    const info = await jsm.streams.info(bus.names.stream("evt"));
    expect(info.state.messages).toBe(5_000);
    expect(acks.filter((a) => a.duplicate)).toHaveLength(5_000);
    expect(acks.filter((a) => !a.duplicate)).toHaveLength(5_000);
    // Every id was stored exactly once, and its duplicate points at the stored copy.
    const stored = new Map(acks.filter((a) => !a.duplicate).map((a) => [a.id, a.seq]));
    expect(stored.size).toBe(5_000);
    for (const ack of acks.filter((a) => a.duplicate)) expect(ack.seq).toBe(stored.get(ack.id));
  });

  it("sends the CloudEvents binary binding with Nats-Msg-Id = ce-id", async () => {
    const time = new Date("2030-01-02T03:04:05.000Z");
    const ack = await bus.publish(
      paintWidget,
      { widgetId: "w1", color: "red" },
      { subject: "widget/w1", id: "op-1:paint", correlationId: "op-1", causationId: "msg-0", time },
    );
    expect(ack).toMatchObject({ stream: bus.names.stream("cmd"), duplicate: false, id: "op-1:paint" });
    const jsm = await jetstreamManager(t.nc);
    const stored = await jsm.streams.getMessage(bus.names.stream("cmd"), { seq: ack.seq });
    expect(stored?.subject).toBe(`${t.namespace}.dbplane.cmd.collector.paint-widget`);
    const h = stored?.header;
    expect(
      Object.fromEntries(
        [
          "ce-id",
          "ce-type",
          "ce-source",
          "ce-subject",
          "ce-time",
          "ce-specversion",
          "ce-correlationid",
          "ce-causationid",
          "ce-datacontenttype",
          "Nats-Msg-Id",
        ].map((k) => [k, h?.get(k)]),
      ),
    ).toEqual({
      "ce-id": "op-1:paint",
      "ce-type": "io.dbplane.collector.paint-widget.v1",
      "ce-source": "dbplane/collector",
      "ce-subject": "widget/w1",
      "ce-time": "2030-01-02T03:04:05.000Z",
      "ce-specversion": "1.0",
      "ce-correlationid": "op-1",
      "ce-causationid": "msg-0",
      "ce-datacontenttype": "application/json",
      "Nats-Msg-Id": "op-1:paint",
    });
    expect(stored?.json()).toEqual({ widgetId: "w1", color: "red" });
  });

  it("refuses invalid data naming the fields, without publishing", async () => {
    const attempt = bus.publish(
      widgetCreated,
      // @ts-expect-error — deliberately wrong types, as a JS caller could send
      { widgetId: "", size: "big" },
      { subject: "widget/x" },
    );
    const err = await attempt.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidMessageDataError);
    expect((err as InvalidMessageDataError).issues.map((i) => i.path).sort()).toEqual(["size", "widgetId"]);
    expect((err as Error).message).toMatch(/widgetId: .*size: /s);
    const jsm = await jetstreamManager(t.nc);
    expect((await jsm.streams.info(bus.names.stream("evt"))).state.messages).toBe(0);
  });
});
