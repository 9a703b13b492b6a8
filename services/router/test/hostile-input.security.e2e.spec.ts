// Security suite (issue 16, item 9): random and mutated input over HTTP and NATS gets a 4xx or a
// dead letter with a reason — never a 5xx, a crash or a hang. `fuzz` is a database the router
// serves, and one of the names the hostile paths use.
import { hostileInputSuite } from "@dbplane/testkit/hostile-suite";
import { afterAll, beforeAll } from "vitest";
import { createRouterWorld, type RouterWorld } from "./router-world.ts";

let w: RouterWorld;
beforeAll(async () => {
  w = await createRouterWorld(2);
  await w.startReplica();
  await w.announce("fuzz");
});
afterAll(() => w?.dispose());

hostileInputSuite(() => ({
  base: w.replicas[0]!.base,
  token: w.token(),
  nc: w.nats.nc,
  namespace: w.nats.namespace,
}));
