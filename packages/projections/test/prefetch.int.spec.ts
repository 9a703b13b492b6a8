import { busNames } from "@dbplane/bus";
import { createTestNats, type TestNats } from "@dbplane/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Counter, Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GenerationRunner, READ_AHEAD } from "../src/generation-runner.ts";
import { defineProjection } from "../src/index.ts";

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

  const runner = () => {
    const names = busNames(nats.namespace);
    const r = new GenerationRunner({
      js: jetstream(nats.nc),
      stream: names.stream("evt"),
      filter: names.subject("dbplane.evt.collector.spread.>"),
      definition,
      contractSubject: names.contractSubject,
      logger: quiet,
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

  it("starts at the stream's end when the newest checkpoint is nearer to it than READ_AHEAD, and keeps every expected unit", async () => {
    const r = runner();
    const start = await r.prefetch([
      { partition: 0, checkpoint: 3_000 },
      { partition: 1, checkpoint: 2_990 },
      // Far behind the others: kept all the same (its owner applies up to the start before it
      // hands the unit over, or the unit gets a reader of its own when acquired).
      { partition: 2, checkpoint: 5 },
    ]);
    expect(start).toBe(3_101);
    expect(r.readers.map((x) => x.options.startSeq)).toEqual([3_101]);
    expect(r.readAheadStart).toBe(3_101);
    expect(r.readers[0]!.keeping).toBe(true);
  });

  it(`starts READ_AHEAD (${READ_AHEAD}) past the newest checkpoint when the stream's end is further`, async () => {
    const js = jetstream(nats.nc);
    const subject = busNames(nats.namespace).subject("dbplane.evt.collector.spread.happened");
    for (let i = 0; i < 3; i++)
      await Promise.all(Array.from({ length: 1_000 }, () => js.publish(subject, "{}")));
    const r = runner();
    expect(await r.prefetch([{ partition: 0, checkpoint: 10 }])).toBe(10 + 1 + READ_AHEAD);
    // Nothing read for or kept: the read-ahead is no longer announced.
    r.readers[0]!.unreserve(0);
    expect(r.readAheadStart).toBeUndefined();
  });
});
