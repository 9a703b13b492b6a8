// Quotas (security review, "Further": no limits on databases, shards, storage or StorageClass):
// over HTTP a request beyond one is a 4xx problem naming the field (422; 409 for a full fleet),
// over NATS the command is dead-lettered with the reason. The Kubernetes driver against the API
// double: an accepted database makes objects there, not clusters here.
import { type Bus, connectBus, DLQ_HEADERS } from "@dbplane/bus";
import { addShard, createDatabase } from "@dbplane/contracts";
import { createLogger } from "@dbplane/service-kit";
import { httpClient, type KubeApiDouble, startKubeApiDouble, waitFor } from "@dbplane/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProvisionerWorld, type ProvisionerWorld } from "./provisioner-world.ts";

let world: ProvisionerWorld;
let kube: KubeApiDouble;
let api: ReturnType<typeof httpClient>;
const buses: Bus[] = [];

beforeAll(async () => {
  kube = await startKubeApiDouble();
  world = await createProvisionerWorld();
  const replica = await world.startReplica({
    env: {
      DBPLANE_PROVISIONER_DRIVER: "kubernetes",
      DBPLANE_KUBECONFIG: kube.kubeConfigPath,
      DBPLANE_KUBE_NAMESPACE: "default",
      DBPLANE_QUOTA_MAX_DATABASES: "1",
      DBPLANE_QUOTA_MAX_SHARDS: "2",
      DBPLANE_QUOTA_MAX_REPLICAS: "1",
      DBPLANE_QUOTA_MAX_STORAGE: "50Gi",
      DBPLANE_QUOTA_STORAGE_CLASSES: "fast,standard",
    },
  });
  api = httpClient(replica.base, world.token());
  for (const name of ["provisioner", "router"] as const) {
    buses.push(
      await connectBus({
        servers: world.nats.url,
        name,
        logger: createLogger({ name, level: "silent" }),
        namespace: world.nats.namespace,
      }),
    );
  }
}, 60_000);
afterAll(async () => {
  await Promise.all(buses.map((b) => b.close()));
  await world?.dispose();
  await kube?.close();
}, 120_000);

const spec = (over: Record<string, unknown> = {}) => ({
  name: "quota",
  shards: 1,
  postgresVersion: 17,
  storage: { size: "10Gi" },
  ...over,
});

/** The dead letter of the command with id `id`. */
async function deadLetter(id: string) {
  const jsm = await jetstreamManager(world.nats.nc);
  const dlq = `${world.nats.namespace.toUpperCase()}_DBPLANE_DLQ`;
  return waitFor(
    async () => {
      const info = await jsm.streams.info(dlq).catch(() => undefined);
      for (let seq = info?.state.first_seq ?? 1; info && seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(dlq, { seq }).catch(() => undefined);
        if (m?.header.get("ce-id") === id) return m;
      }
      return undefined;
    },
    { what: `the dead letter of ${id}` },
  );
}

describe("provisioner quotas", () => {
  it.each([
    ["more shards", { shards: 3 }, "body.shards"],
    ["more replicas", { replicasPerShard: 2 }, "body.replicasPerShard"],
    ["a larger volume", { storage: { size: "51Gi" } }, "body.storage.size"],
    [
      "another StorageClass",
      { storage: { size: "1Gi", storageClass: "premium" } },
      "body.storage.storageClass",
    ],
  ])("refuses %s than allowed with 422 naming the field", async (_what, over, field) => {
    const res = await api.call("POST", "/v1/databases", spec(over));
    expect(res.status).toBe(422);
    expect(res.type).toContain("application/problem+json");
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual([field]);
  });

  it("accepts up to the limits; a database more is 409, shards or replicas more are 422", async () => {
    const full = spec({ shards: 2, replicasPerShard: 1, storage: { size: "50Gi", storageClass: "fast" } });
    expect((await api.call("POST", "/v1/databases", full)).status).toBe(202);
    const another = await api.call("POST", "/v1/databases", spec({ name: "another" }));
    expect(another.status).toBe(409);
    expect(another.body.detail).toContain("at most 1 databases");
    const more = await api.call("POST", "/v1/databases/quota/shards", { count: 1 });
    expect(more.status).toBe(422);
    expect(more.body.errors[0].field).toBe("body.count");
    const scaled = await api.call("POST", "/v1/databases/quota/replicas", { replicas: 2 });
    expect(scaled.status).toBe(422);
    expect(scaled.body.errors[0].field).toBe("body.replicas");
  });

  it("dead-letters create-database and add-shard commands beyond a quota, with the reason", async () => {
    const [provisioner, router] = buses as [Bus, Bus];
    const created = await provisioner.publish(createDatabase, spec({ name: "by-command", shards: 3 }), {
      subject: "database/by-command",
    });
    expect((await deadLetter(created.id)).header.get(DLQ_HEADERS.error)).toContain("at most 2 shards");
    const added = await router.publish(addShard, { name: "quota", count: 1 }, { subject: "database/quota" });
    expect((await deadLetter(added.id)).header.get(DLQ_HEADERS.error)).toContain("at most 2 shards");
    expect((await api.call("GET", `/v1/operations/${created.id}`)).status).toBe(404);
  }, 60_000);
});
