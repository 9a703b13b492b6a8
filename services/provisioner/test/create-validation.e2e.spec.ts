// The rules of a create that span fields, and what a driver cannot do, refused the same way at both
// doors: over HTTP a 4xx problem naming the field, over NATS the create-database command dead-lettered
// with the reason (it used to be checked against the contract's schema alone, so a command could ask
// a commit to wait for more replicas than there are). The kubernetes (StatefulSet) driver against
// the API double: it does not apply synchronous mode, so a create asking for it is refused.
import { type Bus, connectBus, DLQ_HEADERS } from "@dbplane/bus";
import { createDatabase } from "@dbplane/contracts";
import { createLogger } from "@dbplane/service-kit";
import { httpClient, type KubeApiDouble, startKubeApiDouble, waitFor } from "@dbplane/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProvisionerWorld, type ProvisionerWorld } from "./provisioner-world.ts";

let world: ProvisionerWorld;
let kube: KubeApiDouble;
let api: ReturnType<typeof httpClient>;
let bus: Bus;

beforeAll(async () => {
  kube = await startKubeApiDouble();
  world = await createProvisionerWorld();
  const replica = await world.startReplica({
    env: {
      DBPLANE_PROVISIONER_DRIVER: "kubernetes",
      DBPLANE_KUBECONFIG: kube.kubeConfigPath,
      DBPLANE_KUBE_NAMESPACE: "default",
    },
  });
  api = httpClient(replica.base, world.token());
  bus = await connectBus({
    servers: world.nats.url,
    name: "provisioner",
    logger: createLogger({ name: "provisioner", level: "silent" }),
    namespace: world.nats.namespace,
  });
}, 60_000);
afterAll(async () => {
  await bus?.close();
  await world?.dispose();
  await kube?.close();
}, 120_000);

const spec = (over: Record<string, unknown> = {}) => ({
  name: "checked",
  shards: 1,
  postgresVersion: 17,
  storage: { size: "1Gi" },
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

describe("create-database checks, shared by HTTP and NATS", () => {
  it("refuses synchronous.replicas above replicasPerShard: 400 naming the field, or a dead letter", async () => {
    const tooMany = { replicasPerShard: 1, synchronous: { replicas: 2 } };
    const res = await api.call("POST", "/v1/databases", spec(tooMany));
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain("synchronous.replicas");

    const sent = await bus.publish(createDatabase, spec({ name: "by-command", ...tooMany }), {
      subject: "database/by-command",
    });
    const reason = (await deadLetter(sent.id)).header.get(DLQ_HEADERS.error);
    expect(reason).toContain("synchronous.replicas");
    expect(reason).toContain("at most replicasPerShard (1)");
    expect((await api.call("GET", "/v1/databases/by-command")).status).toBe(404);
  }, 60_000);

  it("refuses a backup schedule whose cron does not parse, over NATS too", async () => {
    const backup = { schedule: { cron: "61 * * * *", timezone: "UTC" }, retain: { count: 2 } };
    const sent = await bus.publish(createDatabase, spec({ name: "bad-cron", backup }), {
      subject: "database/bad-cron",
    });
    expect((await deadLetter(sent.id)).header.get(DLQ_HEADERS.error)).toContain("backup.schedule.cron");
    expect((await api.call("GET", "/v1/databases/bad-cron")).status).toBe(404);
  }, 60_000);

  it("refuses synchronous mode on the StatefulSet driver: 422 naming the field, or a dead letter", async () => {
    const sync = { replicasPerShard: 1, synchronous: { replicas: 1 } };
    const res = await api.call("POST", "/v1/databases", spec(sync));
    expect(res.status).toBe(422);
    expect(res.type).toContain("application/problem+json");
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(["body.synchronous"]);
    expect(res.body.detail).toContain("kubernetes (StatefulSet) driver");

    const sent = await bus.publish(createDatabase, spec({ name: "sync-command", ...sync }), {
      subject: "database/sync-command",
    });
    expect((await deadLetter(sent.id)).header.get(DLQ_HEADERS.error)).toContain("synchronous mode");
    // Without it, the same database is accepted.
    expect((await api.call("POST", "/v1/databases", spec({ replicasPerShard: 1 }))).status).toBe(202);
  }, 60_000);
});
