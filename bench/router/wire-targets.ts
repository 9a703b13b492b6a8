// The router's wire endpoint as pgbench targets: a 1-shard database on the same PostgreSQL
// database the direct and PgBouncer runs use, and a 2-shard database whose shards hold only the
// pgbench rows they own. Both are published as `database.ready` with the pgbench tables sharded
// and an application role, as the provisioner would (WIRE.md, B).

import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Bus } from "@dbplane/bus";
import { databaseReady } from "@dbplane/contracts";
import { createTestDatabase, type TestDatabase, testServerUrls, uniqueName, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { initPgbench, type PgbenchMode } from "./pgbench.ts";

/** pgbench's tables as the issue declares them sharded. */
export const PGBENCH_SHARDED_TABLES = [
  { table: "pgbench_accounts", keyColumn: "aid", keyType: "integer" },
  { table: "pgbench_branches", keyColumn: "bid", keyType: "integer" },
  { table: "pgbench_tellers", keyColumn: "tid", keyType: "integer" },
  { table: "pgbench_history", keyColumn: "aid", keyType: "integer" },
] as const;

export interface WireTarget {
  readonly name: string;
  readonly url: string;
  readonly password?: string;
  /** pgbench -M modes to run; the wire section's default set when absent. */
  readonly modes?: readonly PgbenchMode[];
  /** The pooler's process, whose CPU time per transaction is reported (none for direct). */
  readonly pid?: number | undefined;
  /** The router's /metrics: the wire path counters are scraped around each run. */
  readonly metricsUrl?: string | undefined;
}

export interface WireDatabases {
  /** The router targets that answered as pgbench needs. */
  readonly targets: WireTarget[];
  /** The others, each with why (pgbench would fail on them). */
  readonly skipped: string[];
  cleanup(): Promise<void>;
}

/**
 * Creates the application role and the 2-shard database's shards, publishes both databases and
 * waits until the router answers on its wire port for each.
 */
export async function setUpWireDatabases(o: {
  bus: Bus;
  wirePort: number;
  /** The pgbench-initialised database the direct runs use: the 1-shard database's shard. */
  oneShard: TestDatabase;
  scale: number;
  /** The router's DBPLANE_DATA_DIR: it reads password and verifier files only inside it. */
  dataDir: string;
}): Promise<WireDatabases> {
  const admin = testServerUrls().postgres;
  const serverPort = Number(new URL(admin).port || 5432);
  const role = uniqueName("bench_app");
  const password = randomBytes(18).toString("base64url");
  const dir = await mkdtemp(join(o.dataDir, "wire-"));
  const twoShards: TestDatabase[] = [];
  const cleanup = async () => {
    await Promise.all(twoShards.map((s) => s.drop()));
    await sql(o.oneShard.url, `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "${role}"`).catch(() => {});
    await sql(admin, `DROP ROLE IF EXISTS "${role}"`);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // PostgreSQL hashes the password itself (password_encryption = scram-sha-256); the verifier
    // file gets what it stored, as the provisioner's would.
    await sql(admin, `CREATE ROLE "${role}" LOGIN PASSWORD '${password}'`);
    const verifier = await sql(admin, `SELECT rolpassword FROM pg_authid WHERE rolname = '${role}'`);
    await writeFile(join(dir, "password"), `${password}\n`, { mode: 0o600 });
    await writeFile(join(dir, "verifier"), `${verifier.rows[0].rolpassword}\n`, { mode: 0o600 });
    for (const i of [0, 1]) {
      const shard = await createTestDatabase(`bench_wire2_${i}`);
      twoShards.push(shard);
      await initPgbench(shard.url, o.scale);
      // Keep only what this shard owns under two equal ranges: shard 0 the negative hashes.
      for (const t of PGBENCH_SHARDED_TABLES) {
        await sql(
          shard.url,
          `DELETE FROM ${t.table} WHERE (hashint8extended(${t.keyColumn}::int8, 0) < 0) <> ${i === 0}`,
        );
      }
      await sql(shard.url, "VACUUM ANALYZE");
    }
    for (const db of [o.oneShard, ...twoShards]) {
      await sql(db.url, `GRANT ALL ON ALL TABLES IN SCHEMA public TO "${role}"`);
    }
    const application = {
      user: role,
      passwordRef: { kind: "file", path: join(dir, "password") },
      verifierRef: { kind: "file", path: join(dir, "verifier") },
    };
    const shardOf = (db: TestDatabase, shard: number) => ({
      shard,
      primary: { host: "127.0.0.1", port: serverPort },
      replicas: [],
      dbname: db.name,
      user: role,
      passwordRef: application.passwordRef,
    });
    const databases = [
      { name: "bench-wire-1", shards: [shardOf(o.oneShard, 0)] },
      { name: "bench-wire-2", shards: twoShards.map((db, i) => shardOf(db, i)) },
    ];
    for (const d of databases) {
      // shardedTables and application are B's additions to database.ready (WIRE.md).
      const data = {
        name: d.name,
        version: 1,
        postgresVersion: 15,
        shards: d.shards,
        shardedTables: PGBENCH_SHARDED_TABLES,
        application,
      } as unknown as Parameters<typeof o.bus.publish<typeof databaseReady>>[1];
      await o.bus.publish(databaseReady, data, { subject: d.name });
    }
    const targets = databases.map((d) => ({
      name: `router ${d.shards.length} shard${d.shards.length > 1 ? "s" : ""}`,
      url: `postgres://${role}@127.0.0.1:${o.wirePort}/${d.name}`,
      password,
    }));
    const ready: WireTarget[] = [];
    const skipped: string[] = [];
    for (const t of targets) {
      try {
        await waitFor(() => serves(t, o.scale), {
          what: `the router's wire endpoint to serve ${t.url}`,
          timeoutMs: 30_000,
        });
        ready.push(t);
      } catch (err) {
        const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : "";
        skipped.push(`${t.name}: ${(err as Error).message}${cause}`);
      }
    }
    return { targets: ready, skipped, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** True once `t` answers pgbench's first query, a scatter count(*), with one row holding the scale. */
async function serves(t: WireTarget, scale: number): Promise<boolean> {
  // pg lets the URL's (absent) password override a `password` option: put it in the URL.
  const withPassword = new URL(t.url);
  withPassword.password = t.password ?? "";
  const client = new pg.Client({ connectionString: withPassword.toString() });
  try {
    await client.connect();
    const { rows } = await client.query("SELECT count(*) AS n FROM pgbench_branches");
    if (rows.length !== 1 || rows[0].n !== String(scale)) {
      throw new Error(
        `count(*) of pgbench_branches answered ${JSON.stringify(rows)}, not one row of ${scale}`,
      );
    }
    return true;
  } finally {
    await client.end().catch(() => {});
  }
}

async function sql(url: string, text: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}
