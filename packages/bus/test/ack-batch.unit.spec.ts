import type { JsMsg } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { AckBatch } from "../src/ack-batch.ts";

const message = (log: string[], name: string, fail = false) =>
  ({
    ack() {
      if (fail) throw new Error("connection closed");
      log.push(name);
    },
  }) as unknown as JsMsg;

describe("AckBatch", () => {
  it("holds acks until the turn ends, then sends them in order; send() sends at once", async () => {
    const log: string[] = [];
    const batch = new AckBatch(() => {});
    batch.add(message(log, "a"));
    batch.add(message(log, "b"));
    await Promise.resolve();
    expect(log).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(["a", "b"]);
    batch.add(message(log, "c"));
    batch.send();
    expect([log, batch.size]).toEqual([["a", "b", "c"], 0]);
  });

  it("reports acks a closed connection refused, without throwing", () => {
    const log: string[] = [];
    const lost: number[] = [];
    const batch = new AckBatch((_err, n) => lost.push(n));
    batch.add(message(log, "a"));
    batch.add(message(log, "b", true));
    batch.add(message(log, "c"));
    expect(() => batch.send()).not.toThrow();
    expect([log, lost]).toEqual([["a"], [2]]);
  });
});
