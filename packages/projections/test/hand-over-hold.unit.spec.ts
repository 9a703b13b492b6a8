import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { createProjectionMetrics } from "../src/metrics.ts";
import type { Ownership, OwnershipStore } from "../src/ownership-store.ts";
import { defineProjection, type ProjectionEvent, type ProjectionTables } from "../src/projection.ts";
import { UnitWorker } from "../src/unit-worker.ts";

// A unit holding before its hand-over (`applyUpTo`) expires when it stops making progress, not
// after a fixed time: an owner still catching up a backlog towards the joiner's read-ahead held
// 5 s, was released short of it, and the joiner read the unit from its checkpoint with a reader
// of its own (0.4–0.8 s of pause in the bench).
const quiet = { info() {}, warn() {}, error() {} };
const definition = defineProjection({
  name: "hold",
  version: 1,
  partitions: 1,
  events: { subjects: ["dbplane.evt.collector.hold.>"] },
  async setup() {},
  async handle() {},
});
const event = (seq: number) =>
  ({
    seq,
    id: `e${seq}`,
    type: "t",
    source: "dbplane/collector",
    time: new Date().toISOString(),
  }) as ProjectionEvent;

const workers: UnitWorker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

/** A worker whose commits each wait for `commitGate()`; batches of one event. */
function worker(commitGate: () => Promise<void>): UnitWorker {
  const ownership = {
    async advanceInTransaction(_own: Ownership, _step: unknown, work: (tx: never) => Promise<void>) {
      await commitGate();
      await work(undefined as never);
    },
  } as unknown as OwnershipStore;
  const w = new UnitWorker({
    own: { key: { projection: "hold", generation: 1, partition: 0 }, token: 1, checkpoint: 0 } as Ownership,
    definition,
    tables: {} as ProjectionTables,
    ownership,
    parked: {} as never,
    metrics: createProjectionMetrics(new Registry(), () => []),
    logger: quiet,
    batchSize: 1,
    maxAttempts: 1,
    idleFlushMs: 60_000,
    onFenced: () => {},
  });
  workers.push(w);
  w.start();
  return w;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("a unit's hold before its hand-over", () => {
  it("lasts while the unit commits, past many stall periods, and ends reached", async () => {
    // One commit every 40 ms; 30 events to the hand-over point: ~1.2 s, six stall periods of 200 ms.
    const w = worker(() => sleep(40));
    for (let seq = 1; seq <= 40; seq++) w.offer(event(seq));
    const outcome = await w.applyUpTo(30, 200, 20_000);
    expect(outcome).toBe("reached");
    expect(w.checkpoint).toBe(30);
  });

  it("expires once the unit committed nothing for the stall period", async () => {
    let release: () => void = () => {};
    let stuck = false;
    const w = worker(() => (stuck ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve()));
    for (let seq = 1; seq <= 5; seq++) w.offer(event(seq));
    const held = w.applyUpTo(1_000, 200, 20_000);
    // Its handlers hang (or no events come): no commit, the hold ends.
    stuck = true;
    const started = Date.now();
    expect(await held).toBe("expired");
    expect(Date.now() - started).toBeLessThan(10_000);
    stuck = false;
    release();
  });

  it("expires after the longest hold even while the unit commits", async () => {
    const w = worker(() => sleep(20));
    for (let seq = 1; seq <= 1_000; seq++) w.offer(event(seq));
    expect(await w.applyUpTo(1_000, 100, 500)).toBe("expired");
    expect(w.checkpoint).toBeLessThan(1_000);
  });
});
