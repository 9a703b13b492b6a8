import { connectBus } from "@dbplane/bus";
import { createDatabase } from "@dbplane/contracts";
import { createLogger } from "@dbplane/service-kit";
import { httpClient, waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProvisionerWorld, type ProvisionerWorld } from "./provisioner-world.ts";

let world: ProvisionerWorld;
let api: ReturnType<typeof httpClient>;

/** The provisioner's pino lines so far. */
const logLines = (): Record<string, unknown>[] =>
  world
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

beforeAll(async () => {
  world = await createProvisionerWorld();
  const replica = await world.startReplica();
  api = httpClient(replica.base, world.token());
}, 60_000);
afterAll(() => world?.dispose(), 120_000);

const spec = (over: Record<string, unknown> = {}) => ({
  name: "inventory",
  shards: 1,
  replicasPerShard: 0,
  postgresVersion: 15,
  storage: { size: "1Gi" },
  ...over,
});

const settled = (id: string) =>
  waitFor(
    async () => {
      const r = await api.call("GET", `/v1/operations/${id}`);
      // 404 until a command has been handled.
      return r.status === 200 && r.body.state !== "pending" && r.body;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );

describe("provisioner API: validation, conflicts, idempotency", () => {
  it.each([
    ["a name that is not a DNS label", { name: "Bad_Name" }, "body.name"],
    ["0 shards", { shards: 0 }, "body.shards"],
    ["1,000 shards", { shards: 1000 }, "body.shards"],
    ["an unknown PostgreSQL version", { postgresVersion: 13 }, "body.postgresVersion"],
    ["a future PostgreSQL version", { postgresVersion: 19 }, "body.postgresVersion"],
    ["a storage size that is no quantity", { storage: { size: "lots" } }, "body.storage.size"],
    [
      "synchronous mode waiting for more replicas than there are",
      { replicasPerShard: 1, synchronous: { replicas: 2 } },
      "body.synchronous.replicas",
    ],
    [
      "synchronous mode waiting for no replica",
      { replicasPerShard: 1, synchronous: { replicas: 0 } },
      "body.synchronous.replicas",
    ],
  ])("refuses %s with 400 naming the field", async (_what, over, field) => {
    const res = await api.call("POST", "/v1/databases", spec(over));
    expect(res.status).toBe(400);
    expect(res.type).toContain("application/problem+json");
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it("needs a bearer token to change anything", async () => {
    expect((await api.call("POST", "/v1/databases", spec(), { auth: false })).status).toBe(401);
  });

  it("is idempotent for the same spec and answers 409 for another spec under the same name", async () => {
    const first = await api.call("POST", "/v1/databases", spec());
    expect(first.status).toBe(202);
    expect(first.body.outcome).toBe("accepted");
    const again = await api.call("POST", "/v1/databases", spec());
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ outcome: "unchanged", operationId: first.body.operationId });
    const other = await api.call("POST", "/v1/databases", spec({ shards: 2 }));
    expect(other.status).toBe(409);
    expect(other.body.detail).toContain("different spec");
    expect((await settled(first.body.operationId)).state).toBe("succeeded");
  }, 90_000);

  it("creates a database in synchronous mode and keeps the mode in its spec", async () => {
    const res = await api.call(
      "POST",
      "/v1/databases",
      spec({ name: "ledger", replicasPerShard: 1, synchronous: { replicas: 1 } }),
    );
    expect(res.status).toBe(202);
    expect((await settled(res.body.operationId)).state).toBe("succeeded");
    const db = await api.call("GET", "/v1/databases/ledger");
    expect(db.body.spec.synchronous).toEqual({ replicas: 1 });
    const del = await api.call("DELETE", "/v1/databases/ledger?keepVolumes=false");
    expect((await settled(del.body.operationId)).state).toBe("succeeded");
  }, 90_000);

  it("adds a shard: version 2, two ready shards", async () => {
    const res = await api.call("POST", "/v1/databases/inventory/shards", { count: 1 });
    expect(res.status).toBe(202);
    expect(res.body.version).toBe(2);
    expect((await settled(res.body.operationId)).state).toBe("succeeded");
    const db = (await api.call("GET", "/v1/databases/inventory")).body;
    expect(db).toMatchObject({ state: "ready", version: 2 });
    expect(db.shards.map((s: { state: string }) => s.state)).toEqual(["ready", "ready"]);
    expect((await api.call("POST", "/v1/databases/inventory/shards", { count: 63 })).status).toBe(400);
  }, 90_000);

  it("answers 404 for what does not exist", async () => {
    expect((await api.call("GET", "/v1/databases/nope")).status).toBe(404);
    expect((await api.call("DELETE", "/v1/databases/nope")).status).toBe(404);
    expect((await api.call("POST", "/v1/databases/nope/shards", { count: 1 })).status).toBe(404);
    expect((await api.call("GET", "/v1/operations/nope")).status).toBe(404);
  });

  it("fails a database whose PostgreSQL version is not installed, saying what to install", async () => {
    const res = await api.call("POST", "/v1/databases", spec({ name: "needs-pg17", postgresVersion: 17 }));
    expect(res.status).toBe(202);
    const op = await settled(res.body.operationId);
    expect(op.state).toBe("failed");
    expect(op.error).toContain("apt-get install postgresql-17");
    const failed = await waitFor(async () =>
      (await world.events()).find(
        (e) => e.type.endsWith("database.failed.v1") && e.data.name === "needs-pg17",
      ),
    );
    expect(String(failed.data.reason)).toMatch(/PostgreSQL 17 programs .* not found/);
    expect(failed.correlationId).toBe(res.body.operationId);
    const db = (await api.call("GET", "/v1/databases/needs-pg17")).body;
    expect(db).toMatchObject({ state: "failed" });
    // Its shard left `provisioning` with it, saying why.
    expect(db.shards).toMatchObject([{ shard: 0, state: "failed" }]);
    expect(db.shards[0].reason).toContain("apt-get install postgresql-17");
    // Logged once, as a warning with its reason: no "reconcile pass crashed", no stack.
    const about = logLines().filter((l) => JSON.stringify(l).includes("postgresql-17"));
    expect(about.filter((l) => l.msg === "reconcile pass crashed")).toEqual([]);
    expect(about.map((l) => ({ level: l.level, msg: l.msg, database: l.database }))).toEqual([
      { level: 40, msg: "database failed", database: "needs-pg17" },
    ]);
    expect(String(about[0]?.reason)).toContain("apt-get install postgresql-17");
    expect(JSON.stringify(about)).not.toContain('"stack"');
  }, 60_000);

  it("gives a create without postgresVersion the newest major installed (only 15 here), and says so", async () => {
    const { postgresVersion: _, ...request } = spec({ name: "any-version" });
    const res = await api.call("POST", "/v1/databases", request);
    expect(res.status).toBe(202);
    expect((await settled(res.body.operationId)).state).toBe("succeeded");
    const db = (await api.call("GET", "/v1/databases/any-version")).body;
    expect(db).toMatchObject({ state: "ready", spec: { postgresVersion: 15 } });
    // The same request again is the same database, not a conflict with the chosen version.
    expect((await api.call("POST", "/v1/databases", request)).body.outcome).toBe("unchanged");
    const events = (await world.events()).filter((e) => e.data.name === "any-version");
    const requested = events.find((e) => e.type.endsWith("database.requested.v1"));
    const ready = events.find((e) => e.type.endsWith("database.ready.v1"));
    expect([requested?.data.postgresVersion, ready?.data.postgresVersion]).toEqual([15, 15]);
  }, 90_000);

  it("takes the same work as commands over DBPLANE_CMD; the command id is the operation id", async () => {
    const logger = createLogger({ name: "test", level: "silent" });
    // create-database's only declared producer is the provisioner: the test publishes as it.
    const bus = await connectBus({
      servers: world.nats.url,
      name: "provisioner",
      logger,
      namespace: world.nats.namespace,
    });
    try {
      const ack = await bus.publish(createDatabase, spec({ name: "by-command" }), {
        subject: "database/by-command",
      });
      expect((await settled(ack.id)).state).toBe("succeeded");
      // Redelivery of the same command (same id) changes nothing.
      await bus.publish(createDatabase, spec({ name: "by-command" }), {
        subject: "database/by-command",
        id: ack.id,
      });
      expect((await api.call("GET", "/v1/databases/by-command")).body).toMatchObject({
        state: "ready",
        version: 1,
      });
    } finally {
      await bus.close();
    }
  }, 60_000);

  it("deletes, and the name can be used again", async () => {
    for (const name of ["inventory", "by-command", "needs-pg17", "any-version"]) {
      const res = await api.call("DELETE", `/v1/databases/${name}?keepVolumes=false`);
      expect(res.status).toBe(202);
      expect((await settled(res.body.operationId)).state).toBe("succeeded");
    }
    expect((await api.call("GET", "/v1/databases")).body.items).toEqual([]);
  }, 60_000);
});
