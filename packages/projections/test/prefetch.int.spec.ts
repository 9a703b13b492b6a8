import { busNames } from "@dbplane/bus";
import { createTestNats, type TestNats } from "@dbplane/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Counter, Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GenerationRunner } from "../src/generation-runner.ts";
import { defineProjection } from "../src/index.ts";
import { createProjectionMetrics } from "../src/metrics.ts";
import type { OwnershipStore } from "../src/ownership-store.ts";
import type { ParkedStore } from "../src/parked-store.ts";
import type { ProjectionTables } from "../src/projection.ts";
import type { StreamReader } from "../src/stream-reader.ts";
import { UnitWorker } from "../src/unit-worker.ts";

const quiet = { info() {}, warn() {}, error() {} };
const definition = defineProjection({
  name: "spread",
  version: 1,
  partitions: 4,
  events: { subjects: ["dbplane.evt.collector.spread.>"] },
  async setup() {},
  async handle() {},
});

describe("reading ahead for a joiner's expected units", () => {
  let nats: TestNats;
  const runners: GenerationRunner[] = [];

  beforeEach(async () => {
    nats = await createTestNats();
    const names = busNames(nats.namespace);
    await (await jetstreamManager(nats.nc)).streams.add({
      name: names.stream("evt"),
      subjects: [names.streamSubjects("evt")],
    });
    const js = jetstream(nats.nc);
    const subject = names.subject("dbplane.evt.collector.spread.happened");
    await Promise.all(Array.from({ length: 3_100 }, () => js.publish(subject, "{}")));
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
    await nats.cleanup();
  });

  function runner(): { runner: GenerationRunner; acquiredReaders: () => Promise<number> } {
    const names = busNames(nats.namespace);
    const readerStarts = new Counter({
      name: "starts",
      help: "starts",
      labelNames: ["projection", "purpose"],
      registers: [new Registry()],
    });
    const r = new GenerationRunner({
      js: jetstream(nats.nc),
      stream: names.stream("evt"),
      filter: names.subject("dbplane.evt.collector.spread.>"),
      definition,
      contractSubject: names.contractSubject,
      logger: quiet,
      readerStarts,
    });
    runners.push(r);
    const acquiredReaders = async () =>
      (await readerStarts.get()).values.find((v) => v.labels.purpose === "acquired")?.value ?? 0;
    return { runner: r, acquiredReaders };
  }

  it("reads ahead from a unit far behind the others with a reader of its own: its backlog would hold them up", async () => {
    const { runner: r } = runner();
    // 2,995 sequences behind the newest: past PREFETCH_SPREAD (2,000).
    const newest = 3_000;
    await r.prefetch([
      { partition: 0, checkpoint: newest },
      { partition: 1, checkpoint: newest - 10 },
      { partition: 2, checkpoint: 5 },
    ]);
    expect(r.readers.map((x) => x.options.startSeq)).toEqual([newest - 10 + 1, 6]);
  });

  it("hands the unit far behind, once acquired, what its reader kept: no consumer of its own", async () => {
    const { runner: r, acquiredReaders } = runner();
    await r.prefetch([
      { partition: 0, checkpoint: 3_000 },
      { partition: 2, checkpoint: 5 },
    ]);
    const laggard = unitWorker(2, 5);
    await r.add([{ worker: laggard, partition: 2 }]);
    expect(await acquiredReaders()).toBe(0);
    expect((laggard.source as StreamReader).options.startSeq).toBe(6);
    await laggard.stop();
  });
});

/** A unit worker whose transactions only record the checkpoints written. */
function unitWorker(partition: number, checkpoint: number): UnitWorker {
  const ownership = {
    inTransaction: async (work: (tx: unknown) => Promise<unknown>) => work({}),
    advance: async () => {},
  } as unknown as OwnershipStore;
  return new UnitWorker({
    own: { key: { projection: "spread", generation: 1, partition }, owner: "m", token: 1, checkpoint },
    definition,
    tables: {} as ProjectionTables,
    ownership,
    parked: {} as ParkedStore,
    metrics: createProjectionMetrics(new Registry(), () => []),
    logger: quiet,
    batchSize: 500,
    maxAttempts: 5,
    idleFlushMs: 500,
    onFenced() {},
  });
}
