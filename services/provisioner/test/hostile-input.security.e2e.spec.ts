// Security suite (issue 16, item 9): random and mutated input over HTTP and NATS gets a 4xx or a
// dead letter with a reason — never a 5xx, a crash or a hang. The Kubernetes driver against the
// API double: an input that happens to be a valid spec makes objects there, not clusters here.
import { type KubeApiDouble, startKubeApiDouble } from "@dbplane/testkit";
import { hostileInputSuite } from "@dbplane/testkit/hostile-suite";
import { afterAll, beforeAll } from "vitest";
import { createProvisionerWorld, type ProvisionerWorld } from "./provisioner-world.ts";

let w: ProvisionerWorld;
let kube: KubeApiDouble;
beforeAll(async () => {
  kube = await startKubeApiDouble();
  w = await createProvisionerWorld();
  await w.startReplica({
    env: {
      DBPLANE_PROVISIONER_DRIVER: "kubernetes",
      DBPLANE_KUBECONFIG: kube.kubeConfigPath,
      DBPLANE_KUBE_NAMESPACE: "default",
      DBPLANE_LOG_LEVEL: "warn",
    },
  });
});
afterAll(async () => {
  await w?.dispose();
  await kube?.close();
});

hostileInputSuite(() => ({
  base: w.replicas[0]!.base,
  token: w.token(),
  nc: w.nats.nc,
  namespace: w.nats.namespace,
}));
