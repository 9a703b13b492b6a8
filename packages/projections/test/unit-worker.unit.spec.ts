import { Registry } from "prom-client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { defineProjection } from "../src/index.ts";
import { createProjectionMetrics } from "../src/metrics.ts";
import type { CheckpointAdvance, OwnershipStore } from "../src/ownership-store.ts";
import type { ParkedStore } from "../src/parked-store.ts";
import type { ProjectionEvent, ProjectionTables } from "../src/projection.ts";
import { UnitWorker } from "../src/unit-worker.ts";

const quiet = { info() {}, warn() {}, error() {} };
const definition = defineProjection({
  name: "idle",
  version: 1,
  partitions: 4,
  events: { subjects: ["dbplane.evt.collector.idle.>"] },
  async setup() {},
  async handle() {},
});

/** A worker over an in-memory ownership store that records every checkpoint write. */
function worker(checkpoint: number, idleFlushMs: number) {
  const writes: CheckpointAdvance[] = [];
  const ownership = {
    inTransaction: async (work: (tx: unknown) => Promise<unknown>) => work({}),
    advance: async (_tx: unknown, _own: unknown, advance: CheckpointAdvance) => {
      writes.push(advance);
    },
  } as unknown as OwnershipStore;
  const w = new UnitWorker({
    own: { key: { projection: "idle", generation: 1, partition: 0 }, owner: "m", token: 1, checkpoint },
    definition,
    tables: {} as ProjectionTables,
    ownership,
    parked: {} as ParkedStore,
    metrics: createProjectionMetrics(new Registry(), () => []),
    logger: quiet,
    batchSize: 500,
    maxAttempts: 5,
    idleFlushMs,
    onFenced() {},
  });
  return { w, writes };
}

const event = (seq: number): ProjectionEvent =>
  ({
    seq,
    id: `e-${seq}`,
    type: "t",
    source: "s",
    subject: "a",
    time: new Date().toISOString(),
  }) as ProjectionEvent;

describe("a unit worker just acquired", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("does not write an empty checkpoint while its new reader has only just passed it", async () => {
    vi.useFakeTimers();
    const { w, writes } = worker(10, 500);
    const source = { position: 10 };
    w.moveTo(source);
    w.start();
    // The reader is still being created: the worker idles through a flush period.
    await vi.advanceTimersByTimeAsync(600);
    // Its first messages are other partitions' (1 in `partitions` is this unit's)…
    source.position = 20;
    // …when the idle timer comes round (one flush period since the acquisition).
    await vi.advanceTimersByTimeAsync(450);
    // Then the unit's own first event.
    w.offer(event(21));
    await vi.advanceTimersByTimeAsync(10);
    // The first transaction carries it: no empty write went first and held it back.
    expect(writes[0]).toMatchObject({ from: 10, to: 21, applied: 1 });
    await w.stop();
  });

  it("still flushes the reader's position once it has been past the checkpoint a flush period", async () => {
    vi.useFakeTimers();
    const { w, writes } = worker(10, 500);
    const source = { position: 10 };
    w.moveTo(source);
    w.start();
    source.position = 40;
    await vi.advanceTimersByTimeAsync(1_100);
    expect(writes).toEqual([{ from: 10, to: 40, applied: 0, lastEventTime: undefined }]);
    await w.stop();
  });
});
