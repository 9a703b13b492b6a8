import {
  httpClient,
  type KubeApiDouble,
  type ServiceReplica,
  startKubeApiDouble,
  waitFor,
} from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProvisionerWorld, type ProvisionerWorld } from "./provisioner-world.ts";

let world: ProvisionerWorld;
let kube: KubeApiDouble;
let replica: ServiceReplica;
let api: ReturnType<typeof httpClient>;
const ns = "default";

beforeAll(async () => {
  kube = await startKubeApiDouble();
  kube.addCustomResource({
    group: "cert-manager.io",
    version: "v1",
    kind: "Certificate",
    plural: "certificates",
    namespaced: true,
  });
  kube.put({ apiVersion: "v1", kind: "Namespace", metadata: { name: "dbplane" } });
  world = await createProvisionerWorld();
  replica = await world.startReplica({
    env: {
      DBPLANE_PROVISIONER_DRIVER: "kubernetes",
      DBPLANE_KUBECONFIG: kube.kubeConfigPath,
      DBPLANE_KUBE_NAMESPACE: ns,
      DBPLANE_KUBE_PLATFORM_NAMESPACE: "dbplane",
      DBPLANE_KUBE_POD_CIDRS: "10.244.0.0/16",
      DBPLANE_KUBE_CERT_MANAGER_ISSUER: "ClusterIssuer/dbplane-shards",
      DBPLANE_RESYNC_INTERVAL_MS: "200",
    },
  });
  api = httpClient(replica.base, world.token());
}, 60_000);
afterAll(async () => {
  await world?.dispose();
  await kube?.close();
}, 60_000);

const operationSucceeded = (id: string) =>
  waitFor(async () => (await api.call("GET", `/v1/operations/${id}`)).body.state === "succeeded", {
    timeoutMs: 20_000,
  });
const passes = (outcome: string) => replica.metric("dbplane_provisioner_reconcile_passes_total", { outcome });

describe("Kubernetes driver with cert-manager", () => {
  it("asks cert-manager for each shard's certificate and makes no key of its own", async () => {
    const res = await api.call("POST", "/v1/databases", {
      name: "shop",
      shards: 1,
      replicasPerShard: 1,
      postgresVersion: 17,
      storage: { size: "1Gi" },
    });
    expect(res.status).toBe(202);
    await waitFor(() => kube.get("StatefulSet", ns, "shop-shard-0"), { timeoutMs: 20_000 });
    kube.markReady("StatefulSet", ns, "shop-shard-0");
    await operationSucceeded(res.body.operationId);

    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const certificate = kube.get("Certificate", ns, "shop-shard-0-tls") as any;
    expect(certificate.metadata.labels).toMatchObject({
      "app.kubernetes.io/managed-by": "dbplane",
      "dbplane.io/database": "shop",
      "dbplane.io/shard": "0",
    });
    expect(certificate.spec).toMatchObject({
      secretName: "shop-shard-0-tls",
      secretTemplate: { labels: certificate.metadata.labels },
      issuerRef: { group: "cert-manager.io", kind: "ClusterIssuer", name: "dbplane-shards" },
      usages: expect.arrayContaining(["server auth"]),
    });
    expect(certificate.spec.dnsNames).toEqual(
      expect.arrayContaining([
        "shop-shard-0.default.svc",
        "shop-shard-0-read.default.svc",
        "shop-shard-0-headless.default.svc",
        // Replicas are announced as <pod>.<headless>.<ns>.svc.
        "*.shop-shard-0-headless.default.svc",
      ]),
    );
    // The Secret is cert-manager's to make: no key, no certificate and no CA from the provisioner.
    expect(kube.get("Secret", ns, "shop-shard-0-tls")).toBeUndefined();
    expect(kube.list("Secret", { namespace: "dbplane" })).toEqual([]);
    expect(kube.list("ConfigMap", { namespace: "dbplane" })).toEqual([]);
    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const pod = (kube.get("StatefulSet", ns, "shop-shard-0") as any).spec.template;
    expect(pod.spec.volumes).toContainEqual(
      expect.objectContaining({
        name: "tls",
        secret: expect.objectContaining({ secretName: "shop-shard-0-tls" }),
      }),
    );
    // cert-manager's Secret may have no ca.crt: a standby clones over TLS without verifying.
    expect(pod.spec.initContainers[0].env).toContainEqual({ name: "PGSSLMODE", value: "require" });
    expect(pod.spec.volumes.map((v: { name: string }) => v.name)).not.toContain("shard-ca");
    // cert-manager renews the Secret in place: no revision to roll the pods by.
    expect(pod.metadata.annotations?.["dbplane.io/tls-revision"]).toBeUndefined();
    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const hba = (kube.get("ConfigMap", ns, "shop-shard-0-config") as any).data["pg_hba.conf"];
    expect(hba).toContain("hostssl all all 10.244.0.0/16 scram-sha-256");
  }, 60_000);

  it("gives a create without postgresVersion 17, the documented Kubernetes default, not the machine's 15", async () => {
    const res = await api.call("POST", "/v1/databases", { name: "plain", storage: { size: "1Gi" } });
    expect(res.status).toBe(202);
    await waitFor(() => kube.get("StatefulSet", ns, "plain-shard-0"), { timeoutMs: 20_000 });
    // biome-ignore lint/suspicious/noExplicitAny: manifest inspection
    const sts = kube.get("StatefulSet", ns, "plain-shard-0") as any;
    expect(sts.spec.template.spec.containers[0].image).toMatch(/:17$/);
    expect((await api.call("GET", "/v1/databases/plain")).body.spec.postgresVersion).toBe(17);
    const gone = await api.call("DELETE", "/v1/databases/plain");
    await operationSucceeded(gone.body.operationId);
  }, 30_000);

  it("leaves the Certificate alone on re-reconcile", async () => {
    const before = kube.get("Certificate", ns, "shop-shard-0-tls")?.metadata?.resourceVersion;
    const idle = await passes("idle");
    await waitFor(async () => (await passes("idle")) >= idle + 3, { timeoutMs: 20_000 });
    expect(kube.get("Certificate", ns, "shop-shard-0-tls")?.metadata?.resourceVersion).toBe(before);
  }, 30_000);

  it("delete removes the Certificate and the Secret cert-manager made from it", async () => {
    // What cert-manager would write: the Certificate's secretTemplate labels on its Secret.
    const labels = kube.get("Certificate", ns, "shop-shard-0-tls")?.metadata?.labels;
    kube.put({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "shop-shard-0-tls", namespace: ns, labels },
      type: "kubernetes.io/tls",
      data: { "tls.crt": "", "tls.key": "" },
    });
    const res = await api.call("DELETE", "/v1/databases/shop");
    expect(res.status).toBe(202);
    await operationSucceeded(res.body.operationId);
    expect(kube.get("Certificate", ns, "shop-shard-0-tls")).toBeUndefined();
    expect(kube.get("Secret", ns, "shop-shard-0-tls")).toBeUndefined();
  }, 30_000);
});
