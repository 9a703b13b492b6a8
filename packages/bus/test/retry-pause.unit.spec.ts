import type { PubAck } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { decorrelatedJitter, fullJitter } from "../src/index.ts";
import { createBusMetrics } from "../src/metrics.ts";
import { busNames } from "../src/naming.ts";
import { ReconnectedError } from "../src/publish-pipeline.ts";
import { createPublisher } from "../src/publisher.ts";
import { testLogger } from "./test-bus.ts";
import { widgetCreated } from "./test-messages.ts";

/** Plays back `values` as the random source, then repeats the last. */
const randomOf = (...values: number[]) => {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
};

describe("decorrelated jitter", () => {
  it("draws each pause from [base, 3 × the previous], capped", () => {
    const highest = decorrelatedJitter({ baseMs: 100, capMs: 1_000, random: () => 0.999_999 });
    expect(Array.from({ length: 4 }, highest)).toEqual([299, 899, 1_000, 1_000]);
    const lowest = decorrelatedJitter({ baseMs: 100, capMs: 1_000, random: () => 0 });
    expect(Array.from({ length: 3 }, lowest)).toEqual([100, 100, 100]);
    const mid = decorrelatedJitter({ baseMs: 100, capMs: 1_000, random: randomOf(0.5, 0.5, 0) });
    // 100 + 0.5 × (300 − 100) = 200; 100 + 0.5 × (600 − 100) = 350; then the base again.
    expect(Array.from({ length: 3 }, mid)).toEqual([200, 350, 100]);
    expect(() => decorrelatedJitter({ baseMs: 0, capMs: 10 })).toThrow(RangeError);
  });

  it("full jitter draws from [0, ceiling)", () => {
    expect([0, 0.5, 0.999].map((r) => fullJitter(1_000, () => r))).toEqual([0, 500, 999]);
  });
});

describe("publish retries", () => {
  it("pause with decorrelated jitter from the bus's random source between transient failures", async () => {
    let calls = 0;
    const attempt = async (): Promise<PubAck> => {
      if (++calls <= 3) throw new Error("timeout waiting for the ack");
      return { stream: "EVT", seq: 1, duplicate: false, domain: "" } as PubAck;
    };
    const pauses: number[] = [];
    const publish = createPublisher({
      publish: attempt,
      names: busNames("jitter"),
      source: "dbplane/collector",
      publishTimeoutMs: 60_000,
      logger: testLogger,
      metrics: createBusMetrics(new Registry()),
      random: randomOf(0.5, 0.25, 0.999_999),
      sleep: async (ms) => {
        pauses.push(ms);
      },
    });
    const ack = await publish(widgetCreated, { widgetId: "w1", size: 1 }, { subject: "widget/w1" });
    expect(ack.seq).toBe(1);
    // 100 + 0.5 × 200 = 200; 100 + 0.25 × (600 − 100) = 225; 100 + ~1 × (675 − 100) = 674.
    expect(pauses).toEqual([200, 225, 674]);
  });

  it("sends again, with the same msg id, an attempt whose ack was lost in a reconnect", async () => {
    const sent: string[] = [];
    // The first attempt of each id is awaited when the connection comes back: the pipeline
    // rejects it with ReconnectedError (publish-pipeline.int).
    const attempt = async (_subject: string, _payload: Uint8Array, headers: MsgHdrs): Promise<PubAck> => {
      const id = headers.get("Nats-Msg-Id");
      sent.push(id);
      if (sent.indexOf(id) === sent.length - 1) throw new ReconnectedError();
      return { stream: "EVT", seq: sent.length, duplicate: false, domain: "" } as PubAck;
    };
    const publish = createPublisher({
      publish: attempt,
      names: busNames("reconnect"),
      source: "dbplane/collector",
      publishTimeoutMs: 60_000,
      logger: testLogger,
      metrics: createBusMetrics(new Registry()),
      sleep: async () => {},
    });
    const acks = await Promise.all(
      ["w1", "w2"].map((id) => publish(widgetCreated, { widgetId: id, size: 1 }, { subject: id, id })),
    );
    expect(acks.map((a) => a.id)).toEqual(["w1", "w2"]);
    expect(sent.toSorted()).toEqual(["w1", "w1", "w2", "w2"]);
  });
});
