// Not a benchmark: a CPU profile of the bus's consume path alone, written to $PROFILE_OUT
// (default /tmp/consume.cpuprofile), and the socket writes it made. Run from bench/:
//   node bus/profile-consume.ts

import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { connectBus, handle } from "@dbplane/bus";
import { createTestNats, deleteNamespace, uniqueName } from "@dbplane/testkit";
import { pino } from "pino";
import { countSocketWrites, sampled } from "./workload.ts";

const total = 60_000;
const nats = await createTestNats();
const ns = uniqueName("benchprof");
const bus = await connectBus({
  servers: nats.url,
  name: "collector",
  logger: pino({ level: "silent" }),
  namespace: ns,
});
await bus.ensureTopology();
await Promise.all(
  Array.from({ length: 256 }, async (_, lane) => {
    for (let i = lane; i < total; i += 256)
      await bus.publish(
        sampled,
        { target: `db-${i % 100}`, value: i, at: new Date().toISOString() },
        { subject: "bench", id: `p-${i}` },
      );
  }),
);
const socketWrites = countSocketWrites();
const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.start");
const start = performance.now();
let seen = 0;
const { promise: done, resolve } = Promise.withResolvers<void>();
const consumer = await bus.consume({
  durable: "bench",
  concurrency: 256,
  handlers: [
    handle(sampled, () => {
      if (++seen === total) resolve();
    }),
  ],
});
await done;
const { profile } = await session.post("Profiler.stop");
await writeFile(process.env.PROFILE_OUT ?? "/tmp/consume.cpuprofile", JSON.stringify(profile));
console.log(
  `consumed ${total} in ${(performance.now() - start).toFixed(0)} ms, ${socketWrites()} socket writes`,
);
await consumer.stop();
await bus.close();
await deleteNamespace(nats.nc, ns);
await nats.cleanup();
