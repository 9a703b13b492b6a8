import { busNames } from "@dbplane/bus";
import { createTestNats, type TestNats } from "@dbplane/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Counter, Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GenerationRunner } from "../src/generation-runner.ts";
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

  it("leaves out a unit far behind the others: its backlog would hold them up", async () => {
    const names = busNames(nats.namespace);
    const runner = new GenerationRunner({
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
    runners.push(runner);
    // 2,995 sequences behind the newest: past PREFETCH_SPREAD (2,000).
    const newest = 3_000;
    await runner.prefetch([
      { partition: 0, checkpoint: newest },
      { partition: 1, checkpoint: newest - 10 },
      { partition: 2, checkpoint: 5 },
    ]);
    expect(runner.readers.map((r) => r.options.startSeq)).toEqual([newest - 10 + 1]);
  });
});
