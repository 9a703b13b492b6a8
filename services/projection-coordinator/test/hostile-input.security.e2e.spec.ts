// Security suite (issue 16, item 9): random and mutated input over HTTP and NATS gets a 4xx or a
// dead letter with a reason — never a 5xx, a crash or a hang.
import { hostileInputSuite } from "@dbplane/testkit/hostile-suite";
import { afterAll, beforeAll } from "vitest";
import { type CoordinatorWorld, createCoordinatorWorld } from "./coordinator-world.ts";

let w: CoordinatorWorld;
beforeAll(async () => {
  w = await createCoordinatorWorld();
  await w.startReplica();
});
afterAll(() => w?.dispose());

// Its projection units read the event stream with ordered consumers, not durables: the hostile
// events must not stop it, and nothing of theirs is dead-lettered.
hostileInputSuite(
  () => ({ base: w.replicas[0]!.base, token: w.token(), nc: w.nats.nc, namespace: w.nats.namespace }),
  // The console's event stream never ends by design (and takes no input): tested on its own in
  // console-routes.e2e.spec.ts.
  { durables: false, skipRoutes: ["GET /v1/console/events"] },
);
