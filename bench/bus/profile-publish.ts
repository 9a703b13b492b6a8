// Not a benchmark: CPU profiles of raw nats.js publish and of the bus's publish in one process,
// with the same messages, window and ack wait as bench/bus/main.ts, in the order raw, bus, bus,
// raw so neither side always runs on the warmer JIT or the quieter moment. Writes
// $PROFILE_DIR/publish-{raw,bus}-{1,2}.cpuprofile (default /tmp) and prints each one's self time
// per package and function and the process's CPU time per message (user + system, which a busy
// machine inflates less than the wall clock the profile samples). Run from bench/:
//   node bus/profile-publish.ts

import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { connectBus } from "@dbplane/bus";
import { createTestNats, deleteNamespace, uniqueName } from "@dbplane/testkit";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { type CpuProfile, formatSummary } from "./cpuprofile-summary.ts";
import { countSocketWrites, inWindow, payload, rawPublisher, sampled } from "./workload.ts";

const total = Number(process.env.BENCH_MESSAGES ?? 40_000);
const warmUp = 5_000;
const dir = process.env.PROFILE_DIR ?? "/tmp";
const nats = await createTestNats();
const logger = pino({ level: "silent" });
const rawNs = uniqueName("benchprof");
const busNs = uniqueName("benchprof");
const bus = await connectBus({ servers: nats.url, name: sampled.producers[0]!, logger, namespace: busNs });
const rawSide = await connectBus({ servers: nats.url, name: "bench-raw", logger, namespace: rawNs });
await bus.ensureTopology();
await rawSide.ensureTopology();
const rawNc = await connect({ servers: nats.url, noAsyncTraces: true });
const raw = rawPublisher(jetstream(rawNc), `${rawNs}.${sampled.subject}`);
const viaBus = (i: number) => bus.publish(sampled, payload(i), { subject: "bench", id: `bus-${i}` });

const session = new Session();
session.connect();
await session.post("Profiler.enable");

// Socket writes per message: how well each side's publishes share a write.
const socketWrites = countSocketWrites();

let offset = 0; // every publish gets a fresh id: a duplicate is acked without being stored
async function profiled(name: string, publishOne: (i: number) => Promise<unknown>) {
  const from = offset;
  offset += warmUp + total;
  await inWindow(warmUp, (i) => publishOne(from + i));
  await session.post("Profiler.start");
  const writesBefore = socketWrites();
  const cpu = process.cpuUsage();
  const start = performance.now();
  await inWindow(total, (i) => publishOne(from + warmUp + i));
  const ms = performance.now() - start;
  const { user, system } = process.cpuUsage(cpu);
  const { profile } = await session.post("Profiler.stop");
  const file = join(dir, `publish-${name}.cpuprofile`);
  await writeFile(file, JSON.stringify(profile));
  console.log(
    `${name}: ${total} in ${ms.toFixed(0)} ms (${((total / ms) * 1000).toFixed(0)} msg/s), ` +
      `${((user + system) / total).toFixed(1)} µs CPU/msg (user ${(user / total).toFixed(1)}), ` +
      `${((socketWrites() - writesBefore) / total).toFixed(3)} socket writes/msg, ${file}`,
  );
  console.log(formatSummary(name, profile as CpuProfile, Number(process.env.PROFILE_TOP ?? 30)));
}

await profiled("raw-1", raw);
await profiled("bus-1", viaBus);
await profiled("bus-2", viaBus);
await profiled("raw-2", raw);
await rawNc.close();
await bus.close();
await rawSide.close();
await deleteNamespace(nats.nc, rawNs);
await deleteNamespace(nats.nc, busNs);
await nats.cleanup();
