import { busNames } from "@dbplane/bus";
import { createTestNats, type TestNats, waitFor } from "@dbplane/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Counter, Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GenerationRunner, READ_AHEAD_GROUP } from "../src/generation-runner.ts";
import { defineProjection } from "../src/index.ts";
import { partitionOf } from "../src/partition.ts";
import { RESUME_BELOW } from "../src/stream-reader.ts";
import type { UnitWorker } from "../src/unit-worker.ts";

const quiet = { info() {}, warn() {}, error() {} };
const definition = defineProjection({
  name: "spread",
  version: 1,
  partitions: 4,
  events: { subjects: ["dbplane.evt.collector.spread.>"] },
  async setup() {},
  async handle() {},
});

/** A unit at checkpoint 100 that has committed once, collecting what it is offered. */
function fakeUnit(offered: number[], queued = () => 0): UnitWorker {
  return {
    checkpoint: 100,
    offer: (e: { seq: number }) => offered.push(e.seq),
    position: () => offered.at(-1) ?? 100,
    belowHighWater: async () => {},
    moveTo: () => {},
    firstCommit: Promise.resolve(),
    get queued() {
      return queued();
    },
  } as unknown as UnitWorker;
}

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

  const runner = (readAhead?: number, keepAhead?: number) => {
    const names = busNames(nats.namespace);
    const r = new GenerationRunner({
      js: jetstream(nats.nc),
      stream: names.stream("evt"),
      filter: names.subject("dbplane.evt.collector.spread.>"),
      definition,
      contractSubject: names.contractSubject,
      logger: quiet,
      readAhead,
      keepAhead,
      readerStarts: new Counter({
        name: "starts",
        help: "starts",
        labelNames: ["projection", "purpose"],
        registers: [new Registry()],
      }),
    });
    runners.push(r);
    return r;
  };

  it("one read-ahead for units within READ_AHEAD_GROUP of each other, from the stream's end when it is nearer", async () => {
    const r = runner();
    await r.prefetch([
      { partition: 0, checkpoint: 3_000 },
      { partition: 1, checkpoint: 2_990 },
      { partition: 2, checkpoint: 5 },
    ]);
    expect(r.readers.map((x) => x.options.startSeq)).toEqual([3_101]);
    // From the stream's end: no backlog to read before joining.
    expect(r.readAheadsAtRest).toBe(true);
    expect(r.readAheadStarts()).toEqual(
      new Map([
        [0, 3_101],
        [1, 3_101],
        [2, 3_101],
      ]),
    );
  });

  it(`a group of units more than READ_AHEAD_GROUP (${READ_AHEAD_GROUP}) behind the others reads ahead on its own, from past its newest checkpoint`, async () => {
    const js = jetstream(nats.nc);
    const subject = busNames(nats.namespace).subject("dbplane.evt.collector.spread.happened");
    for (let i = 0; i < 9; i++)
      await Promise.all(Array.from({ length: 1_000 }, () => js.publish(subject, "{}")));
    const r = runner(1_000);
    // The stream ends at 12,100; an owner catching up runs unit 2 far behind the others.
    await r.prefetch([
      { partition: 0, checkpoint: 12_000 },
      { partition: 1, checkpoint: 11_000 },
      { partition: 2, checkpoint: 100 },
    ]);
    expect(r.readers.map((x) => x.options.startSeq)).toEqual([12_101, 1_101]);
    expect(r.readAheadStarts()).toEqual(
      new Map([
        [0, 12_101],
        [1, 12_101],
        [2, 1_101],
      ]),
    );
    // Nothing kept for a unit any more (it went elsewhere): its read-ahead is no longer announced.
    r.readers[1]!.unreserve(2);
    expect([...r.readAheadStarts().keys()]).toEqual([0, 1]);
  });

  it("a read-ahead stops KEEP_AHEAD past its start until a unit arrives, then reads on from there: no gap, nothing twice", async () => {
    const r = runner(0, 1_000);
    // Every test message has the same subject, so they all belong to one partition.
    const partition = partitionOf(
      busNames(nats.namespace).contractSubject(`${nats.namespace}.dbplane.evt.collector.spread.happened`),
      4,
    );
    await r.prefetch([{ partition, checkpoint: 100 }]);
    const reader = r.readers[0]!;
    expect(reader.options.startSeq).toBe(101);
    // Reading 3,000 sequences of backlog: a replica would wait for it before joining.
    expect(r.readAheadsAtRest).toBe(false);
    await waitFor(() => reader.position === 1_100, {
      timeoutMs: 10_000,
      what: "the read-ahead to stop at 1,100",
    });
    expect(r.readAheadsAtRest).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(reader.position).toBe(1_100);
    const offered: number[] = [];
    // Its first commit done, nothing still expected: the read-ahead reads on.
    const unit = fakeUnit(offered);
    expect(reader.claim(unit, partition)).toBe(true);
    await waitFor(() => offered.at(-1) === 3_100, { timeoutMs: 10_000, what: "the unit to get every event" });
    expect(offered).toEqual(Array.from({ length: 3_000 }, (_, i) => 101 + i));
  });

  it("a parked read-ahead with a unit still to come reads on only once a unit that arrived runs low on kept events", async () => {
    const r = runner(0, 1_000);
    const partition = partitionOf(
      busNames(nats.namespace).contractSubject(`${nats.namespace}.dbplane.evt.collector.spread.happened`),
      4,
    );
    const other = (partition + 1) % 4;
    await r.prefetch([
      { partition, checkpoint: 100 },
      { partition: other, checkpoint: 100 },
    ]);
    const reader = r.readers[0]!;
    await waitFor(() => reader.position === 1_100, {
      timeoutMs: 10_000,
      what: "the read-ahead to stop at 1,100",
    });
    const offered: number[] = [];
    let queued = 1_000;
    const unit = fakeUnit(offered, () => queued);
    expect(reader.claim(unit, partition)).toBe(true);
    // Committed, with plenty kept, and `other` still expected: the read-ahead stays parked.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(reader.position).toBe(1_100);
    expect(offered.length).toBe(1_000);
    // Running low: it reads on, from where it stopped.
    queued = RESUME_BELOW - 1;
    await waitFor(() => offered.at(-1) === 3_100, { timeoutMs: 10_000, what: "the unit to get every event" });
    expect(offered).toEqual(Array.from({ length: 3_000 }, (_, i) => 101 + i));
  });

  it("a unit that arrives past everything kept (its owner overtook the read-ahead) makes a parked read-ahead read on before it commits", async () => {
    const r = runner(0, 1_000);
    const partition = partitionOf(
      busNames(nats.namespace).contractSubject(`${nats.namespace}.dbplane.evt.collector.spread.happened`),
      4,
    );
    await r.prefetch([{ partition, checkpoint: 100 }]);
    const reader = r.readers[0]!;
    await waitFor(() => reader.parked, { timeoutMs: 10_000, what: "the read-ahead to park at 1,100" });
    // Released at 1,500: nothing kept is past its checkpoint, so it cannot commit until the
    // read-ahead reads on — which used to wait for that first commit: both stood still for ever.
    const offered: number[] = [];
    const after = () => offered.filter((seq) => seq > 1_500).length;
    const unit = {
      checkpoint: 1_500,
      offer: (e: { seq: number }) => offered.push(e.seq),
      position: () => offered.at(-1) ?? 1_500,
      belowHighWater: async () => {},
      moveTo: () => {},
      firstCommit: new Promise(() => {}),
      get queued() {
        return after();
      },
    } as unknown as UnitWorker;
    expect(reader.claim(unit, partition)).toBe(true);
    await waitFor(() => offered.at(-1) === 3_100, {
      timeoutMs: 10_000,
      what: "the unit's events past 1,500",
    });
    expect(after()).toBe(1_600);
  });

  it("a parked read-ahead whose expected units all went elsewhere does not read on for nobody", async () => {
    const r = runner(0, 1_000);
    await r.prefetch([{ partition: 0, checkpoint: 100 }]);
    const reader = r.readers[0]!;
    await waitFor(() => reader.parked, { timeoutMs: 10_000, what: "the read-ahead to park" });
    const at = reader.position;
    // Unit 0 started on a reader of its own: nothing is kept or served here any more.
    reader.unreserve(0);
    expect(reader.idle).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(reader.parked).toBe(true);
    expect(reader.position).toBe(at);
  });

  it("a parked read-ahead stops when told to (a re-aim before the join, a shutdown)", async () => {
    const r = runner(0, 1_000);
    await r.prefetch([{ partition: 0, checkpoint: 100 }]);
    const reader = r.readers[0]!;
    await waitFor(() => reader.parked, { timeoutMs: 10_000, what: "the read-ahead to park" });
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      reader.stop().then(() => "stopped"),
      new Promise((resolve) => (timer = setTimeout(() => resolve("still stopping after 5 s"), 5_000))),
    ]);
    clearTimeout(timer);
    expect(outcome).toBe("stopped");
  });
});
