import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { httpClient, waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProvisionerWorld, type ProvisionerWorld, postmastersUnder } from "./provisioner-world.ts";

let world: ProvisionerWorld;

beforeAll(async () => {
  world = await createProvisionerWorld();
}, 60_000);
afterAll(() => world?.dispose(), 120_000);

async function entriesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(dir).catch(() => [])) {
    for (const e of await readdir(join(dir, shard)).catch(() => [])) out.push(`${shard}/${e}`);
  }
  return out;
}

describe("provisioner killed mid-create", () => {
  it("SIGKILL during provisioning, restart: the database finishes, no orphan, no duplicate", async () => {
    const first = await world.startReplica();
    const api = httpClient(first.base, world.token());
    const res = await api.call("POST", "/v1/databases", {
      name: "crashy",
      shards: 2,
      replicasPerShard: 1,
      postgresVersion: 15,
      storage: { size: "1Gi" },
    });
    expect(res.status).toBe(202);
    const clusters = join(world.dataDir, "clusters", "crashy");
    // Kill while a data directory is being made (initdb or pg_basebackup running into a .tmp).
    await waitFor(async () => (await entriesUnder(clusters)).some((e) => e.endsWith(".tmp")), {
      timeoutMs: 30_000,
      intervalMs: 5,
    });
    const second = await world.restartReplica(first, "SIGKILL");
    const api2 = httpClient(second.base, world.token());
    const op = await waitFor(
      async () => {
        const r = await api2.call("GET", `/v1/operations/${res.body.operationId}`);
        return r.body.state !== "pending" && r.body;
      },
      { timeoutMs: 180_000, intervalMs: 250 },
    );
    expect(op.state).toBe("succeeded");

    const db = (await api2.call("GET", "/v1/databases/crashy")).body;
    expect(db.shards.map((s: { shard: number }) => s.shard)).toEqual([0, 1]);
    // Exactly the 4 servers asked for, each once; nothing half-made left behind.
    expect(postmastersUnder(clusters)).toHaveLength(4);
    const entries = await entriesUnder(clusters);
    expect(entries.filter((e) => e.includes(".tmp"))).toEqual([]);
    expect(entries.filter((e) => /\/(primary|replica-\d+)$/.test(e)).sort()).toEqual([
      "shard-0/primary",
      "shard-0/replica-1",
      "shard-1/primary",
      "shard-1/replica-1",
    ]);
    const events = await waitFor(async () => {
      const all = await world.events();
      return all.some((e) => e.type.endsWith("database.ready.v1")) && all;
    });
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(events.filter((e) => e.type.endsWith("shard.ready.v1"))).toHaveLength(2);
    expect(events.filter((e) => e.type.endsWith("database.ready.v1"))).toHaveLength(1);

    const del = await api2.call("DELETE", "/v1/databases/crashy?keepVolumes=false");
    await waitFor(
      async () =>
        (await api2.call("GET", `/v1/operations/${del.body.operationId}`)).body.state === "succeeded",
      {
        timeoutMs: 60_000,
      },
    );
    expect(postmastersUnder(world.dataDir)).toEqual([]);
  }, 300_000);

  it("a restarted provisioner adopts running servers; one stopped behind its back is started again on the next resync", async () => {
    const replica = await world.startReplica({ env: { DBPLANE_RESYNC_INTERVAL_MS: "500" } });
    const api = httpClient(replica.base, world.token());
    const res = await api.call("POST", "/v1/databases", {
      name: "sleepy",
      shards: 1,
      postgresVersion: 15,
      storage: { size: "1Gi" },
    });
    await waitFor(
      async () =>
        (await api.call("GET", `/v1/operations/${res.body.operationId}`)).body.state === "succeeded",
      {
        timeoutMs: 60_000,
      },
    );
    const dir = join(world.dataDir, "clusters", "sleepy");
    const before = postmastersUnder(dir);
    expect(before).toHaveLength(1);

    // A restarted provisioner adopts the running server (same postmaster) instead of restarting it.
    expect(await replica.stop("SIGTERM")).toBe(0);
    const next = await world.startReplica({ env: { DBPLANE_RESYNC_INTERVAL_MS: "300" } });
    const idlePasses = () => next.metric("dbplane_provisioner_reconcile_passes_total", { outcome: "idle" });
    await waitFor(async () => (await idlePasses()) >= 2, { timeoutMs: 30_000 });
    expect(postmastersUnder(dir)).toEqual(before);
    // Stop the server behind the provisioner's back (a reboot, an OOM kill of the postmaster).
    const pid = Number(before[0]?.split(/\s+/)[0]);
    process.kill(pid, "SIGQUIT");
    await waitFor(() => postmastersUnder(dir).length === 0, { timeoutMs: 30_000 });
    const after = await waitFor(
      () => {
        const now = postmastersUnder(dir);
        return now.length === 1 && now;
      },
      { timeoutMs: 30_000 },
    );
    expect(after[0]).not.toBe(before[0]);
  }, 120_000);

  it("two replicas drive a database together without doing anything twice; scaling replicas down removes servers", async () => {
    const [a, b] = [await world.startReplica(), await world.startReplica()];
    const token = world.token();
    const apiA = httpClient(a.base, token);
    const apiB = httpClient(b.base, token);
    const res = await apiA.call("POST", "/v1/databases", {
      name: "pair",
      shards: 2,
      replicasPerShard: 1,
      postgresVersion: 15,
      storage: { size: "1Gi" },
    });
    const done = (api: typeof apiA, id: string) =>
      waitFor(async () => (await api.call("GET", `/v1/operations/${id}`)).body.state === "succeeded", {
        timeoutMs: 120_000,
      });
    await done(apiB, res.body.operationId);
    const dir = join(world.dataDir, "clusters", "pair");
    const servers = postmastersUnder(dir);
    expect(servers, servers.join("\n")).toHaveLength(4);
    const events = await waitFor(async () => {
      const all = (await world.events()).filter((e) => e.subject.startsWith("database/pair"));
      return all.some((e) => e.type.endsWith("database.ready.v1")) && all;
    });
    expect(events.filter((e) => e.type.endsWith("shard.ready.v1"))).toHaveLength(2);

    const scaled = await apiB.call("POST", "/v1/databases/pair/replicas", { shard: 0, replicas: 0 });
    expect(scaled.status).toBe(202);
    await done(apiA, scaled.body.operationId);
    expect(postmastersUnder(dir)).toHaveLength(3);
    expect((await entriesUnder(dir)).filter((e) => e.startsWith("shard-0/replica"))).toEqual([]);
    const db = (await apiA.call("GET", "/v1/databases/pair")).body;
    expect(db.shards.map((s: { readReplicas: unknown[] }) => s.readReplicas.length)).toEqual([0, 1]);
  }, 180_000);
});
