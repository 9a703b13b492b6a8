import { createDatabase } from "@dbplane/contracts";
import { createTestSchema, type TestSchema } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseSpec } from "../src/domain/database-spec.ts";
import { DatabaseConflictError, DatabaseNotFoundError, InvalidChangeError } from "../src/domain/errors.ts";
import { QuotaExceededError, type Quotas } from "../src/domain/quotas.ts";
import { createDesiredState, type DesiredState } from "../src/store/desired-state.ts";
import { migrate } from "../src/store/migrations.ts";
import { createProgress, type Progress } from "../src/store/progress.ts";
import { createQueries, type Queries } from "../src/store/queries.ts";
import { type ProvisionerTables, provisionerTables } from "../src/store/schema-tables.ts";
import { recordShardOwners } from "../src/store/shard-owners.ts";

/** The contract's own limits: the tests below that are not about quotas never meet one. */
const QUOTAS: Quotas = { maxDatabases: 1_000, maxShards: 64, maxReplicas: 5, maxStorage: "1Ei" };

let db: TestSchema;
let desired: DesiredState;
let progress: Progress;
let queries: Queries;
let t: ProvisionerTables;

beforeAll(async () => {
  db = await createTestSchema("provst");
  expect(await migrate(db.pool, db.name)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  t = provisionerTables(db.name);
  desired = createDesiredState(db.pool, t, QUOTAS);
  progress = createProgress(db.pool, t);
  queries = createQueries(db.pool, t);
});
afterAll(() => db?.drop());

const spec = (over: Record<string, unknown> = {}): DatabaseSpec => ({
  postgresVersion: 15,
  ...createDatabase.schema.parse({ name: "orders", shards: 2, storage: { size: "1Gi" }, ...over }),
});
const outbox = async () =>
  (
    await db.pool.query<{ type: string; msg_id: string }>(
      `SELECT type, msg_id FROM "${db.name}".outbox ORDER BY seq`,
    )
  ).rows;

describe("desired state in PostgreSQL", () => {
  it("migrates idempotently", async () => {
    expect(await migrate(db.pool, db.name)).toEqual([]);
  });

  it("accepts a new database: requested, one row per shard, database.requested in the outbox", async () => {
    const a = await desired.create(spec(), "op-1");
    expect(a).toEqual({ outcome: "accepted", operationId: "op-1", database: "orders", version: 1 });
    expect((await queries.database("orders"))?.state).toBe("requested");
    expect((await queries.shards("orders")).map((s) => [s.shard, s.state])).toEqual([
      [0, "provisioning"],
      [1, "provisioning"],
    ]);
    expect(await outbox()).toEqual([
      { type: "io.dbplane.provisioner.database.requested.v1", msg_id: "orders:v1:requested" },
    ]);
  });

  it("recognises the same request and the same operation; refuses another spec with a conflict", async () => {
    expect(await desired.create(spec(), "op-2")).toMatchObject({ outcome: "unchanged", operationId: "op-1" });
    expect(await desired.create(spec(), "op-1")).toMatchObject({ outcome: "unchanged", operationId: "op-1" });
    await expect(desired.create(spec({ shards: 3 }), "op-3")).rejects.toBeInstanceOf(DatabaseConflictError);
    expect(await outbox()).toHaveLength(1);
  });

  it("walks provisioning → ready once per version, and only for the version it read", async () => {
    await progress.startProvisioning("orders", 1);
    const endpoint = {
      primary: { host: "127.0.0.1", port: 1 },
      replicas: [],
      dbname: "orders",
      user: "dbplane",
      passwordRef: { kind: "file" as const, path: "/x/password" },
    };
    await progress.shardReady("orders", 1, 0, endpoint, "op-1");
    await progress.shardReady("orders", 1, 0, endpoint, "op-1");
    expect(await progress.databaseReady("orders", 1, "op-1")).toBe(false);
    await progress.shardReady("orders", 1, 1, endpoint, "op-1");
    expect(await progress.databaseReady("orders", 99, "op-1")).toBe(false);
    expect(await progress.databaseReady("orders", 1, "op-1")).toBe(true);
    expect(await progress.databaseReady("orders", 1, "op-1")).toBe(false);
    expect((await queries.operation("op-1"))?.state).toBe("succeeded");
    expect((await outbox()).map((r) => r.msg_id)).toEqual([
      "orders:v1:requested",
      "orders:0:v1:ready",
      "orders:1:v1:ready",
      "orders:v1:ready",
    ]);
  });

  it("announces the application role of a database made ready without one, once", async () => {
    const application = {
      user: "app",
      passwordRef: { kind: "file" as const, path: "/x/app/password" },
      verifierRef: { kind: "file" as const, path: "/x/app/verifier" },
    };
    expect(await progress.applicationAnnounced("orders", 99, application, "op-1")).toBe(false);
    expect(await progress.applicationAnnounced("orders", 1, application, "op-1")).toBe(true);
    expect(await progress.applicationAnnounced("orders", 1, application, "op-1")).toBe(false);
    const { rows } = await db.pool.query<{ msg_id: string; data: Record<string, unknown> }>(
      `SELECT msg_id, data FROM "${db.name}".outbox WHERE msg_id LIKE 'orders:v1:ready:app-%'`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.data).toMatchObject({ name: "orders", version: 1, shardedTables: [], application });
    expect(rows[0]?.data.shards).toHaveLength(2);
    // Moved references (another place) are announced again.
    const moved = { ...application, passwordRef: { kind: "file" as const, path: "/y/app/password" } };
    expect(await progress.applicationAnnounced("orders", 1, moved, "op-1")).toBe(true);
  });

  it("announces a ready shard again when its endpoint changed at the same version, and the database with it", async () => {
    const shard0 = (await queries.shards("orders"))[0]!.endpoint!;
    expect(await progress.shardReady("orders", 1, 0, shard0, "op-1")).toBe(false);
    // A failover's next pass made a replica anew from the promoted primary.
    const after = {
      ...shard0,
      primary: { host: "127.0.0.1", port: 2 },
      replicas: [{ host: "127.0.0.1", port: 3 }],
    };
    expect(await progress.shardReady("orders", 1, 0, after, "op-1")).toBe(true);
    expect(await progress.shardReady("orders", 1, 0, after, "op-1")).toBe(false);
    await progress.endpointsAnnounced("orders", 1, "op-1");
    const { rows } = await db.pool.query<{
      msg_id: string;
      data: { shards: { primary: { port: number } }[] };
    }>(`SELECT msg_id, data FROM "${db.name}".outbox WHERE msg_id LIKE 'orders:%endpoint%' ORDER BY seq`);
    expect(rows.map((r) => r.msg_id)).toEqual([
      expect.stringMatching(/^orders:0:v1:ready:endpoint-[0-9a-f]{12}$/),
      expect.stringMatching(/^orders:v1:ready:endpoints-[0-9a-f]{12}$/),
    ]);
    expect(rows[1]?.data.shards[0]?.primary.port).toBe(2);
  });

  it("adds shards under a new version, within the limit", async () => {
    await expect(desired.addShards("orders", 63, "op-4")).rejects.toBeInstanceOf(InvalidChangeError);
    expect(await desired.addShards("orders", 1, "op-5")).toMatchObject({ outcome: "accepted", version: 2 });
    expect(await desired.addShards("orders", 1, "op-5")).toMatchObject({ outcome: "unchanged" });
    expect((await queries.database("orders"))?.spec.shards).toBe(3);
    await expect(desired.addShards("nope", 1, "op-6")).rejects.toBeInstanceOf(DatabaseNotFoundError);
  });

  it("deletes: pending changes fail, and the name is free again afterwards under a higher version", async () => {
    expect(await desired.delete("orders", false, "op-7")).toMatchObject({ version: 3 });
    expect((await queries.operation("op-5"))?.state).toBe("failed");
    await expect(desired.addShards("orders", 1, "op-8")).rejects.toBeInstanceOf(DatabaseConflictError);
    await expect(desired.create(spec(), "op-9")).rejects.toBeInstanceOf(DatabaseConflictError);
    await progress.databaseDeleted("orders", 3, "op-7");
    expect((await queries.database("orders"))?.state).toBe("deleted");
    expect(await desired.create(spec({ shards: 1 }), "op-10")).toMatchObject({
      outcome: "accepted",
      version: 4,
    });
    expect(await queries.shards("orders")).toHaveLength(1);
    // The name made again: a new incarnation (its driver archives apart from the deleted one).
    expect((await queries.database("orders"))?.incarnation).toBe(2);
  });

  it("a failed database asked for again is retried under a new version", async () => {
    await progress.startProvisioning("orders", 4);
    await progress.databaseFailed("orders", 4, "no binaries", "op-10");
    expect(await queries.operation("op-10")).toMatchObject({ state: "failed", error: "no binaries" });
    expect(await desired.create(spec({ shards: 1 }), "op-11")).toMatchObject({
      outcome: "accepted",
      version: 5,
    });
    expect((await queries.database("orders"))?.state).toBe("requested");
    // A failed create retried is the same incarnation.
    expect((await queries.database("orders"))?.incarnation).toBe(2);
  });

  it("refuses to make a deleted name again while a completed backup of it is kept; failed ones do not count and go", async () => {
    const kept = spec({ name: "kept", shards: 1 });
    await desired.create(kept, "op-k1");
    await desired.backup("kept", undefined, "b-ok", "op-k2");
    await desired.backup("kept", undefined, "b-bad", "op-k3");
    const finished = (backupId: string, ok: boolean) =>
      progress.backupFinished({
        database: "kept",
        backupId,
        shard: 0,
        startedAt: new Date(),
        ...(ok ? { ok: true as const, location: "/x", bytes: 1 } : { ok: false as const, reason: "disk" }),
      });
    await finished("b-ok", true);
    await finished("b-bad", false);
    await desired.delete("kept", true, "op-k4");
    await progress.databaseDeleted("kept", 2, "op-k4");
    const refused = desired.create(kept, "op-k5");
    await expect(refused).rejects.toBeInstanceOf(DatabaseConflictError);
    await expect(refused).rejects.toThrow(/kept backups \(1,.*POST \/v1\/databases\/kept\/restores/);
    expect((await queries.database("kept"))?.state).toBe("deleted");
    expect((await queries.backups("kept")).map((b) => b.backupId)).toEqual(["b-bad", "b-ok"]);

    // Once none is completed (retention took it): accepted, and the failed row of the old one is gone.
    await progress.backupsPruned("kept", ["b-ok"]);
    expect(await desired.create(kept, "op-k6")).toMatchObject({ outcome: "accepted", version: 3 });
    expect(await queries.backups("kept")).toEqual([]);
    expect((await queries.database("kept"))?.incarnation).toBe(2);
  });
});

describe("remove-shard in the desired state", () => {
  const ledger = () => spec({ name: "ledger", shards: 3 });
  const owners = (version: number, shards: number[]) =>
    recordShardOwners(db.pool, t, {
      database: "ledger",
      version,
      ranges: shards.map((shard) => ({ shard })),
    });

  it("refuses a shard that is not the last, or when no map of the database was seen", async () => {
    expect(await desired.create(ledger(), "rm-1")).toMatchObject({ outcome: "accepted", version: 1 });
    await expect(desired.removeShard("ledger", 1, "rm-2")).rejects.toThrow(/only the last shard/);
    await expect(desired.removeShard("ledger", 5, "rm-2")).rejects.toBeInstanceOf(InvalidChangeError);
    await expect(desired.removeShard("ledger", 2, "rm-2")).rejects.toThrow(/no shard map/);
    await expect(desired.removeShard("nope", 2, "rm-2")).rejects.toBeInstanceOf(DatabaseNotFoundError);
  });

  it("refuses the last shard while the newest map gives it a range; an older map changes nothing", async () => {
    expect(await owners(2, [0, 1, 2])).toBe(true);
    expect(await owners(1, [0, 1])).toBe(false);
    await expect(desired.removeShard("ledger", 2, "rm-3")).rejects.toThrow(
      /owns a range in shard map version 2/,
    );
    expect((await queries.database("ledger"))?.spec.shards).toBe(3);
  });

  it("accepts the last shard once it owns none: the next version has one shard fewer", async () => {
    expect(await owners(3, [0, 1])).toBe(true);
    expect(await desired.removeShard("ledger", 2, "rm-4")).toMatchObject({ outcome: "accepted", version: 2 });
    expect(await desired.removeShard("ledger", 2, "rm-4")).toMatchObject({ outcome: "unchanged" });
    expect((await queries.database("ledger"))?.spec.shards).toBe(2);
    expect((await queries.shards("ledger")).map((s) => [s.shard, s.state])).toEqual([
      [0, "provisioning"],
      [1, "provisioning"],
      [2, "deleting"],
    ]);
    expect((await queries.operation("rm-4"))?.kind).toBe("remove-shard");
    // The shard's servers are gone (the driver's part): its row goes and shard.removed is announced.
    await progress.shardRemoved("ledger", 2, 2, "rm-4");
    expect((await queries.shards("ledger")).map((s) => s.shard)).toEqual([0, 1]);
    expect((await outbox()).filter((e) => e.type.endsWith("shard.removed.v1"))).toEqual([
      { type: expect.any(String), msg_id: "ledger:2:v2:removed" },
    ]);
    // Shard 1 is the last one now, but it owns a range.
    await expect(desired.removeShard("ledger", 1, "rm-5")).rejects.toThrow(/owns a range/);
  });
});

describe("quotas in the desired state", () => {
  let small: TestSchema;
  let limited: DesiredState;
  const quotas: Quotas = {
    maxDatabases: 2,
    maxShards: 3,
    maxReplicas: 1,
    maxStorage: "100Gi",
    storageClasses: ["fast"],
  };
  const refusal = (work: Promise<unknown>) =>
    work.then(
      () => expect.fail("accepted"),
      (err: unknown) => {
        expect(err).toBeInstanceOf(QuotaExceededError);
        const e = err as QuotaExceededError;
        return { kind: e.kind, field: e.issues[0]?.field, message: e.message };
      },
    );

  beforeAll(async () => {
    small = await createTestSchema("provq");
    await migrate(small.pool, small.name);
    limited = createDesiredState(small.pool, provisionerTables(small.name), quotas);
  });
  afterAll(() => small?.drop());

  it("refuses a spec beyond a quota, naming the field (422)", async () => {
    expect(await refusal(limited.create(spec({ shards: 4 }), "q-1"))).toMatchObject({
      kind: "unprocessable",
      field: "shards",
    });
    expect(await refusal(limited.create(spec({ replicasPerShard: 2 }), "q-2"))).toMatchObject({
      field: "replicasPerShard",
    });
    const big = await refusal(limited.create(spec({ storage: { size: "101Gi" } }), "q-3"));
    expect(big).toMatchObject({ field: "storage.size" });
    expect(big.message).toContain("100Gi");
    expect(
      await refusal(limited.create(spec({ storage: { size: "1Gi", storageClass: "slow" } }), "q-4")),
    ).toMatchObject({ field: "storage.storageClass" });
    const { rows } = await small.pool.query(`SELECT name FROM "${small.name}".databases`);
    expect(rows).toEqual([]);
  });

  it("accepts up to the limits; one database more is a conflict (409), the same request again is not", async () => {
    const at = spec({
      name: "a",
      shards: 3,
      replicasPerShard: 1,
      storage: { size: "100Gi", storageClass: "fast" },
    });
    expect((await limited.create(at, "q-a")).outcome).toBe("accepted");
    expect((await limited.create(spec({ name: "b" }), "q-b")).outcome).toBe("accepted");
    expect(await refusal(limited.create(spec({ name: "c" }), "q-c"))).toMatchObject({
      kind: "conflict",
      field: "name",
    });
    expect((await limited.create(at, "q-a-again")).outcome).toBe("unchanged");
  });

  it("lets only one of many creates at once take the last place", async () => {
    const fleet = await createTestSchema("provq2");
    try {
      await migrate(fleet.pool, fleet.name);
      const one = createDesiredState(fleet.pool, provisionerTables(fleet.name), {
        ...quotas,
        maxDatabases: 1,
      });
      const tries = await Promise.allSettled(
        ["p", "q", "r", "s"].map((name) => one.create(spec({ name }), `race-${name}`)),
      );
      expect(tries.filter((t) => t.status === "fulfilled")).toHaveLength(1);
      for (const t of tries) if (t.status === "rejected") expect(t.reason).toBeInstanceOf(QuotaExceededError);
    } finally {
      await fleet.drop();
    }
  });

  it("refuses shards added or replicas scaled beyond a quota", async () => {
    expect(await refusal(limited.addShards("a", 1, "q-add"))).toMatchObject({
      kind: "unprocessable",
      field: "count",
    });
    expect(await refusal(limited.scaleReplicas("a", 0, 2, "q-scale"))).toMatchObject({ field: "replicas" });
  });
});
