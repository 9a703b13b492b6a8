import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { connectBus } from "@dbplane/bus";
import { shardMapPublished } from "@dbplane/contracts";
import { RangeMove, type ShardConnection } from "@dbplane/reshard";
import { createLogger } from "@dbplane/service-kit";
import { type HttpClient, httpClient, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProvisionerWorld, operationSucceeded, type ProvisionerWorld } from "./provisioner-world.ts";

// Real PostgreSQL 15 clusters from the local driver (2 shards), backed up while a range move
// (packages/reshard, as the router's split runs it) copies part of shard 0's range to shard 1 and
// replicates it: the restore must not carry the move's subscription, publication, role, policies
// or copied rows.
let world: ProvisionerWorld;
let api: HttpClient;

const KEYS = 400;
/** Shard 0 owns [-2^63, 0) in map version 1; the move takes its lower half to shard 1. */
const MOVED = { from: -(2n ** 63n), to: -(2n ** 62n) };

beforeAll(async () => {
  world = await createProvisionerWorld();
  const replica = await world.startReplica();
  api = httpClient(replica.base, world.token());
}, 90_000);
afterAll(() => world?.dispose(), 180_000);

const succeeded = (operationId: string) => operationSucceeded(api, operationId);

/** Each shard primary of `db` as a superuser login, as the provisioner reports them. */
async function shardLogins(db: string): Promise<ShardConnection[]> {
  const { body } = await api.call("GET", `/v1/databases/${db}`);
  const shards = body.shards as { primary: { port: number }; passwordRef: { path: string } }[];
  const ca = await readFile(join(world.dataDir, "tls", "ca.crt"), "utf8");
  return Promise.all(
    shards.map(async (s) => ({
      host: "127.0.0.1",
      port: s.primary.port,
      database: db,
      user: "dbplane",
      password: (await readFile(s.passwordRef.path, "utf8")).trim(),
      ssl: { ca, rejectUnauthorized: true },
    })),
  );
}

async function query<T extends pg.QueryResultRow>(
  login: ShardConnection,
  sql: string,
  params: unknown[] = [],
) {
  const client = new pg.Client({ ...login, ssl: login.ssl && { ...login.ssl } });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** The shard map version 1 gives `id` (bigint key): 0 below hash 0, else 1. */
const OWNER_V1 = "CASE WHEN hashint8extended(id, 0) < 0 THEN 0 ELSE 1 END";
/** Version 2, after the move's cut-over: the moved range is shard 1's too. */
const OWNER_V2 = `CASE WHEN hashint8extended(id, 0) >= '${MOVED.to}'::bigint AND hashint8extended(id, 0) < 0 THEN 0 ELSE 1 END`;
const IN_MOVED = `hashint8extended(id, 0) < '${MOVED.to}'::bigint`;

/** The restored shards' objects and settings, and what a shard without leftovers has. */
const LEFTOVERS = `SELECT (SELECT count(*) FROM pg_subscription) AS subscriptions,
         (SELECT count(*) FROM pg_publication) AS publications,
         (SELECT count(*) FROM pg_policy) AS policies,
         (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'dbplane\\_rs\\_%') AS roles,
         (SELECT count(*) FROM pg_replication_slots WHERE slot_type = 'logical') AS slots,
         (SELECT relrowsecurity::text FROM pg_class WHERE oid = 'items'::regclass) AS rls,
         current_setting('max_logical_replication_workers') AS workers`;
const CLEAN = {
  subscriptions: "0",
  publications: "0",
  policies: "0",
  roles: "0",
  slots: "0",
  rls: "false",
  // Back to the normal settings after the clean-up.
  workers: "8",
};

describe("restore of a backup taken mid-reshard (local driver)", () => {
  const moves: RangeMove[] = [];
  afterAll(async () => {
    // The live moves' slots and objects go before the clusters stop.
    for (const move of moves) await move.cancel().catch(() => {});
  }, 60_000);

  /** A 2-shard database with KEYS rows of `items`, each on its shard of map version 1. */
  const createWithRows = async (db: string) => {
    const created = await api.call("POST", "/v1/databases", {
      name: db,
      shards: 2,
      postgresVersion: 15,
      resources: { memory: "128Mi" },
      shardedTables: [{ table: "items", keyColumn: "id", keyType: "bigint" }],
      backup: { schedule: { cron: "0 0 1 1 *" }, retain: { count: 10 } },
    });
    expect(created.status).toBe(202);
    await succeeded(created.body.operationId);
    const logins = await shardLogins(db);
    for (const [shard, login] of logins.entries()) {
      await query(login, "CREATE TABLE items (id bigint PRIMARY KEY, shard int)");
      await query(
        login,
        `INSERT INTO items SELECT g, $1 FROM generate_series(1, ${KEYS}) g
          WHERE ${OWNER_V1.replaceAll("id", "g::bigint")} = $1`,
        [shard],
      );
    }
    return logins;
  };

  /** The move of MOVED from shard 0 to shard 1 as a split runs it, copied and replicating. */
  const replicatingMove = async (id: string, logins: ShardConnection[]) => {
    const move = new RangeMove(
      {
        id,
        source: logins[0]!,
        target: logins[1]!,
        sourceFromTarget: { host: "127.0.0.1", port: logins[0]!.port },
        tables: [{ table: "items", key: { column: "id", type: "bigint" } }],
        from: MOVED.from,
        to: MOVED.to,
        targetServes: true,
      },
      createLogger({ name: "reshard", level: "silent" }),
    );
    moves.push(move);
    await move.start();
    await waitFor(async () => (await move.progress()).tables.every((t) => t.state === "replicating"), {
      timeoutMs: 60_000,
      what: "the move to replicate",
    });
    // A write after the copy reaches the target by the subscription, as it does mid-move.
    await query(logins[0]!, `UPDATE items SET shard = 10 WHERE ${IN_MOVED}`);
    await move.waitApplied(await move.sourceLsn(), 30_000);
    const [copied] = await query<{ n: string }>(
      logins[1]!,
      "SELECT count(*) AS n FROM items WHERE shard = 10",
    );
    expect(Number(copied!.n)).toBeGreaterThan(0);
    return { move, moved: Number(copied!.n) };
  };

  /** Backs `db` up, restores that backup into `into`; its shards' logins. */
  const backupAndRestore = async (db: string, into: string) => {
    const backup = await api.call("POST", `/v1/databases/${db}/backups`, { backupId: "mid" });
    expect(backup.status).toBe(202);
    await succeeded(backup.body.operationId);
    const restore = await api.call("POST", `/v1/databases/${db}/restores`, { backupId: "mid", into });
    expect(restore.status).toBe(202);
    await succeeded(restore.body.operationId);
    return shardLogins(into);
  };

  /** Per restored shard: rows, rows its map (`owner`) gives to another shard, rows of the update. */
  const rowsOf = (restored: ShardConnection[], owner: string) =>
    Promise.all(
      restored.map(async (login, shard) => {
        const [row] = await query<{ misplaced: string; n: string; updated: string }>(
          login,
          `SELECT count(*) FILTER (WHERE ${owner} <> $1) AS misplaced, count(*) AS n,
                  count(*) FILTER (WHERE shard = 10) AS updated FROM items`,
          [shard],
        );
        return { n: Number(row!.n), misplaced: Number(row!.misplaced), updated: Number(row!.updated) };
      }),
    );

  it("before the cut-over: no subscription, publication, role, policy or copied row comes back", async () => {
    const source = await createWithRows("ledger");
    const { move, moved } = await replicatingMove("copying", source);

    const restored = await backupAndRestore("ledger", "ledger-back");
    expect(await Promise.all(restored.map(async (l) => (await query(l, LEFTOVERS))[0]))).toEqual([
      CLEAN,
      CLEAN,
    ]);
    // Map version 1 (the move was not cut over): the copy on shard 1 is gone, shard 0 keeps its rows.
    const rows = await rowsOf(restored, OWNER_V1);
    expect(rows.map((r) => r.misplaced)).toEqual([0, 0]);
    expect(rows[0]!.n + rows[1]!.n).toBe(KEYS);
    expect(rows.map((r) => r.updated)).toEqual([moved, 0]);

    // The live source serves only the live move: one walsender for its slot, and the live target
    // still receives what the source writes.
    const walsenders = await query<{ application_name: string }>(
      source[0]!,
      "SELECT application_name FROM pg_stat_replication",
    );
    expect(walsenders.filter((w) => w.application_name === move.name)).toHaveLength(1);
    await query(source[0]!, `UPDATE items SET shard = 20 WHERE ${IN_MOVED}`);
    await move.waitApplied(await move.sourceLsn(), 30_000);
    const [live] = await query<{ n: string }>(source[1]!, "SELECT count(*) AS n FROM items WHERE shard = 20");
    expect(Number(live!.n)).toBe(moved);
  }, 600_000);

  it("after the cut-over, before the clean-up: the moved rows stay on the target only, nothing hidden", async () => {
    const source = await createWithRows("till");
    const { move, moved } = await replicatingMove("cutover", source);
    // The cut-over as a split does it (DESIGN.md, router): apply stopped, the rows hidden on the
    // source and revealed on the target, the new map published; finish() and deleteFromSource()
    // have not run yet.
    await move.stopApplying();
    await move.hideOnSource();
    await move.revealOnTarget();
    const router = await connectBus({
      servers: world.nats.url,
      name: "router",
      logger: createLogger({ name: "router", level: "silent" }),
      namespace: world.nats.namespace,
    });
    try {
      const ranges = [
        { shard: 1, from: MOVED.from.toString(), to: MOVED.to.toString() },
        { shard: 0, from: MOVED.to.toString(), to: "0" },
        { shard: 1, from: "0", to: (2n ** 63n).toString() },
      ];
      await router.publish(
        shardMapPublished,
        { database: "till", version: 2, ranges, createdAt: new Date().toISOString() },
        { subject: "till", id: "till:map:2" },
      );
      await waitFor(async () => (await api.call("GET", "/v1/databases/till")).body.shardMap?.version === 2, {
        timeoutMs: 20_000,
        what: "the provisioner to see map version 2",
      });
    } finally {
      await router.close();
    }

    const restored = await backupAndRestore("till", "till-back");
    expect(await Promise.all(restored.map(async (l) => (await query(l, LEFTOVERS))[0]))).toEqual([
      CLEAN,
      CLEAN,
    ]);
    // Map version 2: the moved rows (hidden on the source) are deleted there, the target keeps them.
    const rows = await rowsOf(restored, OWNER_V2);
    expect(rows.map((r) => r.misplaced)).toEqual([0, 0]);
    expect(rows[0]!.n + rows[1]!.n).toBe(KEYS);
    expect(rows.map((r) => r.updated)).toEqual([0, moved]);
  }, 600_000);
});
