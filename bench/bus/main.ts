// `pnpm bench bus`: publish-with-ack and consume throughput through @dbplane/bus against raw
// nats.js on the same server in the same run. Both sides send the same bytes (CloudEvents
// headers, JSON body, Nats-Msg-Id) so the ratio is the cost of the bus itself: validation,
// envelope, metrics, bounded concurrency and confirmed acks. The two publish sides take turns in
// slices (raw, bus, bus, raw, …) rather than one after the other: on a shared machine a burst of
// someone else's load then lands on both instead of on whichever side ran at that moment.
import { connectBus, handle } from "@dbplane/bus";
import { createTestNats, deleteNamespace, uniqueName } from "@dbplane/testkit";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { inWindow, payload, rawPublisher, sampled, WINDOW as window } from "./workload.ts";

const total = Number(process.env.BENCH_MESSAGES ?? 20_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const slice = Number(process.env.BENCH_SLICE ?? 2_500);
const logger = pino({ level: "silent" });
const nats = await createTestNats();
// The baseline's own connection, with the same client options the bus uses.
const rawNc = await connect({ servers: nats.url, noAsyncTraces: true });
const js = jetstream(rawNc);
const jsm = await jetstreamManager(nats.nc);

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await fn();
  return total / ((performance.now() - start) / 1000);
}

type PublishOne = (i: number) => Promise<unknown>;

/** Msg/s of each side publishing `total`, `slice` at a time in ABBA order, timed per side. */
async function interleaved(raw: PublishOne, ours: PublishOne): Promise<[number, number]> {
  const sides = [raw, ours];
  const elapsedMs = [0, 0];
  for (let from = 0, turn = 0; from < total; from += slice, turn++) {
    const count = Math.min(slice, total - from);
    for (const side of turn % 2 === 0 ? [0, 1] : [1, 0]) {
      const start = performance.now();
      await inWindow(count, (i) => sides[side]!(from + i));
      elapsedMs[side]! += performance.now() - start;
    }
  }
  return [total / (elapsedMs[0]! / 1000), total / (elapsedMs[1]! / 1000)];
}

async function round(): Promise<{ rawPub: number; busPub: number; rawCon: number; busCon: number }> {
  const rawNs = uniqueName("bench");
  const busNs = uniqueName("bench");
  // Named after the event's producer: consumers dead-letter an event from any other ce-source.
  const bus = await connectBus({ servers: nats.url, name: sampled.producers[0]!, logger, namespace: busNs });
  const rawSide = await connectBus({ servers: nats.url, name: "bench-raw", logger, namespace: rawNs });
  await bus.ensureTopology();
  await rawSide.ensureTopology();
  const rawSubject = `${rawNs}.${sampled.subject}`;

  const [rawPub, busPub] = await interleaved(rawPublisher(js, rawSubject), (i) =>
    bus.publish(sampled, payload(i), { subject: "bench", id: `bus-${i}` }),
  );

  const rawStream = `${rawNs.toUpperCase()}_DBPLANE_EVT`;
  await jsm.consumers.add(rawStream, {
    durable_name: "raw",
    ack_policy: AckPolicy.Explicit,
    filter_subject: rawSubject,
  });
  const rawCon = await timed(async () => {
    const consumer = await js.consumers.get(rawStream, "raw");
    const messages = await consumer.consume({ max_messages: window });
    let seen = 0;
    for await (const m of messages) {
      // What any consumer of binary-mode CloudEvents does: read the attributes, parse the data.
      if (!m.headers?.get("ce-type") || !m.headers.get("ce-id")) throw new Error("not a CloudEvent");
      JSON.parse(m.string());
      m.ack();
      if (++seen === total) break;
    }
    await messages.close();
  });

  const busCon = await timed(async () => {
    let seen = 0;
    const { promise: done, resolve } = Promise.withResolvers<void>();
    const consumer = await bus.consume({
      durable: "bench",
      concurrency: window,
      handlers: [
        handle(sampled, () => {
          if (++seen === total) resolve();
        }),
      ],
    });
    await done;
    await consumer.stop();
  });

  await bus.close();
  await rawSide.close();
  await deleteNamespace(nats.nc, rawNs);
  await deleteNamespace(nats.nc, busNs);
  return { rawPub, busPub, rawCon, busCon };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results = [];
for (let i = 0; i < rounds; i++) results.push(await round());
await rawNc.close();
await nats.cleanup();

const row = (name: string, raw: number[], ours: number[]) => {
  const r = median(raw);
  const b = median(ours);
  const each = ours.map((o, i) => (o / raw[i]!).toFixed(2)).join(" ");
  console.log(
    `${name.padEnd(20)} ${r.toFixed(0).padStart(12)} ${b.toFixed(0).padStart(12)} ${(b / r).toFixed(2).padStart(8)}   rounds: ${each}`,
  );
  return b / r;
};
console.log(
  `bus vs raw nats.js — ${total} messages, ${window} in flight, median of ${rounds} rounds (msg/s); ` +
    `publishes in turns of ${slice}`,
);
console.log(
  `${"".padEnd(20)} ${"raw nats.js".padStart(12)} ${"@dbplane/bus".padStart(12)} ${"ratio".padStart(8)}`,
);
const publishRatio = row(
  "publish with ack",
  results.map((r) => r.rawPub),
  results.map((r) => r.busPub),
);
const consumeRatio = row(
  "consume + ack",
  results.map((r) => r.rawCon),
  results.map((r) => r.busCon),
);
console.log(`figure publish_ratio ${publishRatio.toFixed(2)}`);
console.log(`figure consume_ratio ${consumeRatio.toFixed(2)}`);
