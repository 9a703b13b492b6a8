import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { RangeMove, type ShardConnection } from "@dbplane/reshard";
import { createLogger } from "@dbplane/service-kit";
import { type HttpClient, httpClient, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProvisionerWorld, type ProvisionerWorld } from "./provisioner-world.ts";

// Real PostgreSQL 15 clusters from the local driver (2 shards), backed up while a range move
// (packages/reshard, as the router's split runs it) copies part of shard 0's range to shard 1 and
// replicates it: the restore must not carry the move's subscription, publication, role, policies
// or copied rows.
let world: ProvisionerWorld;
let api: HttpClient;

const name = "ledger";
const KEYS = 400;
/** Shard 0 owns [-2^63, 0) in map version 1; the move takes its lower half to shard 1. */
const MOVED = { from: -(2n ** 63n), to: -(2n ** 62n) };

beforeAll(async () => {
  world = await createProvisionerWorld();
  const replica = await world.startReplica();
  api = httpClient(replica.base, world.token());
}, 90_000);
afterAll(() => world?.dispose(), 180_000);

const succeeded = async (operationId: string) => {
  const op = await waitFor(
    async () => {
      const r = await api.call("GET", `/v1/operations/${operationId}`);
      return r.body.state !== "pending" && r.body;
    },
    { timeoutMs: 180_000, what: `operation ${operationId} to finish` },
  );
  expect(op).toMatchObject({ state: "succeeded" });
};

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
const OWNER = "CASE WHEN hashint8extended(id, 0) < 0 THEN 0 ELSE 1 END";

describe("restore of a backup taken mid-reshard (local driver)", () => {
  let source: ShardConnection[] = [];
  let move: RangeMove | undefined;
  afterAll(async () => {
    // The live move's slot and objects go before the clusters stop.
    await move?.cancel().catch(() => {});
  }, 60_000);

  it("restores every shard without the move's subscription, publication, policies or copied rows", async () => {
    const created = await api.call("POST", "/v1/databases", {
      name,
      shards: 2,
      postgresVersion: 15,
      resources: { memory: "128Mi" },
      shardedTables: [{ table: "items", keyColumn: "id", keyType: "bigint" }],
      backup: { schedule: { cron: "0 0 1 1 *" }, retain: { count: 10 } },
    });
    expect(created.status).toBe(202);
    await succeeded(created.body.operationId);
    source = await shardLogins(name);
    for (const [shard, login] of source.entries()) {
      await query(login, "CREATE TABLE items (id bigint PRIMARY KEY, shard int)");
      await query(
        login,
        `INSERT INTO items SELECT g, $1 FROM generate_series(1, ${KEYS}) g
          WHERE ${OWNER.replaceAll("id", "g::bigint")} = $1`,
        [shard],
      );
    }

    // The move as a split runs it, stopped in its window: copied, replicating, not cut over.
    move = new RangeMove(
      {
        id: "restore17",
        source: source[0]!,
        target: source[1]!,
        sourceFromTarget: { host: "127.0.0.1", port: source[0]!.port },
        tables: [{ table: "items", key: { column: "id", type: "bigint" } }],
        from: MOVED.from,
        to: MOVED.to,
        targetServes: true,
      },
      createLogger({ name: "reshard", level: "silent" }),
    );
    await move.start();
    const live = move;
    await waitFor(async () => (await live.progress()).tables.every((t) => t.state === "replicating"), {
      timeoutMs: 60_000,
      what: "the move to replicate",
    });
    // A write after the copy reaches the target by the subscription, as it does mid-move.
    await query(source[0]!, "UPDATE items SET shard = 10 WHERE hashint8extended(id, 0) < $1::bigint", [
      MOVED.to.toString(),
    ]);
    await move.waitApplied(await move.sourceLsn(), 30_000);
    const copied = await query<{ n: string }>(source[1]!, "SELECT count(*) AS n FROM items WHERE shard = 10");
    expect(Number(copied[0]!.n)).toBeGreaterThan(0);

    const backup = await api.call("POST", `/v1/databases/${name}/backups`, { backupId: "mid" });
    expect(backup.status).toBe(202);
    await succeeded(backup.body.operationId);
    const restore = await api.call("POST", `/v1/databases/${name}/restores`, {
      backupId: "mid",
      into: "ledger-back",
    });
    expect(restore.status).toBe(202);
    await succeeded(restore.body.operationId);

    const restored = await shardLogins("ledger-back");
    const leftovers = await Promise.all(
      restored.map(async (login) => {
        const [objects] = await query<Record<string, string>>(
          login,
          `SELECT (SELECT count(*) FROM pg_subscription) AS subscriptions,
                  (SELECT count(*) FROM pg_publication) AS publications,
                  (SELECT count(*) FROM pg_policy) AS policies,
                  (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'dbplane\\_rs\\_%') AS roles,
                  (SELECT count(*) FROM pg_replication_slots WHERE slot_type = 'logical') AS slots,
                  (SELECT relrowsecurity::text FROM pg_class WHERE oid = 'items'::regclass) AS rls,
                  current_setting('max_logical_replication_workers') AS workers`,
        );
        return objects;
      }),
    );
    const clean = {
      subscriptions: "0",
      publications: "0",
      policies: "0",
      roles: "0",
      slots: "0",
      rls: "false",
      // Back to the normal settings after the clean-up.
      workers: "8",
    };
    expect(leftovers).toEqual([clean, clean]);
    // Every row on the shard the restored map (version 1) owns, each key once, the moved rows'
    // update kept where they belong.
    const rows = await Promise.all(
      restored.map((login) =>
        query<{ misplaced: string; n: string; updated: string }>(
          login,
          `SELECT count(*) FILTER (WHERE ${OWNER} <> $1) AS misplaced, count(*) AS n,
                  count(*) FILTER (WHERE shard = 10) AS updated FROM items`,
          [restored.indexOf(login)],
        ),
      ),
    );
    expect(rows.map((r) => Number(r[0]!.misplaced))).toEqual([0, 0]);
    expect(rows.reduce((sum, r) => sum + Number(r[0]!.n), 0)).toBe(KEYS);
    expect(Number(rows[0]![0]!.updated)).toBe(Number(copied[0]!.n));
    expect(Number(rows[1]![0]!.updated)).toBe(0);

    // The live source serves only the live move: no walsender for a restored server, and the
    // live target still receives what the source writes.
    const walsenders = await query<{ application_name: string }>(
      source[0]!,
      "SELECT application_name FROM pg_stat_replication",
    );
    expect(walsenders.filter((w) => w.application_name === move!.name)).toHaveLength(1);
    await query(source[0]!, "UPDATE items SET shard = 20 WHERE hashint8extended(id, 0) < $1::bigint", [
      MOVED.to.toString(),
    ]);
    await move.waitApplied(await move.sourceLsn(), 30_000);
    const live20 = await query<{ n: string }>(source[1]!, "SELECT count(*) AS n FROM items WHERE shard = 20");
    expect(Number(live20[0]!.n)).toBe(Number(copied[0]!.n));
  }, 600_000);
});
