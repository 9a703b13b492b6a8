// Security suite (issue 16, item 9): random and mutated input over HTTP and NATS gets a 4xx or a
// dead letter with a reason — never a 5xx, a crash or a hang.
import { hostileInputSuite } from "@dbplane/testkit/hostile-suite";
import { afterAll, beforeAll } from "vitest";
import { createSchedulerWorld, type SchedulerWorld } from "./scheduler-world.ts";

let w: SchedulerWorld;
beforeAll(async () => {
  w = await createSchedulerWorld();
  await w.startReplica();
});
afterAll(() => w?.dispose());

hostileInputSuite(() => ({
  base: w.replicas[0]!.base,
  token: w.token(),
  nc: w.nats.nc,
  namespace: w.nats.namespace,
}));
