import { spawnSync } from "node:child_process";
import { createPostgresServer, type PostgresServer } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAppSecret } from "../src/domain/application-role.ts";
import { reshardSql, roleSql } from "../src/drivers/kubernetes/app-role-container.ts";

let server: PostgresServer;

beforeAll(async () => {
  server = await createPostgresServer({ walLevel: "replica" });
  await query("CREATE DATABASE shop");
}, 60_000);
afterAll(async () => server?.stop());

async function query<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** What the shard pod's app-role container does on the primary: the SQL on psql's stdin. */
function runRoleSql(appVerifier: string, monitorVerifier: string): void {
  const out = spawnSync(
    "psql",
    [
      ...["-h", "127.0.0.1", "-p", String(server.port), "-U", "postgres", "-d", "postgres"],
      ...["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", `verifier=${appVerifier}`],
      ...["-v", `monitor_verifier=${monitorVerifier}`],
    ],
    { input: roleSql("shop"), encoding: "utf8", timeout: 30_000 },
  );
  // psql's own words only: its command line holds the verifiers.
  if (out.status !== 0) throw new Error(`psql failed (${out.status}): ${out.stderr}`);
}

describe("the shard pod's role script against a real server", () => {
  it("makes the application owner and the pg_monitor role from their verifiers, and again when they change", async () => {
    for (let pass = 0; pass < 2; pass++) {
      const app = newAppSecret();
      const monitor = newAppSecret();
      runRoleSql(app.verifier, monitor.verifier);
      const roles = await query<Record<string, unknown>>(
        `SELECT rolname, rolpassword, rolsuper, rolcreaterole, rolcanlogin,
                pg_has_role(oid, 'pg_monitor', 'MEMBER') AS monitor
           FROM pg_authid WHERE rolname IN ('app', 'dbplane_monitor') ORDER BY rolname`,
      );
      expect(roles).toEqual([
        {
          rolname: "app",
          rolpassword: app.verifier,
          rolsuper: false,
          rolcreaterole: false,
          rolcanlogin: true,
          monitor: false,
        },
        {
          rolname: "dbplane_monitor",
          rolpassword: monitor.verifier,
          rolsuper: false,
          rolcreaterole: false,
          rolcanlogin: true,
          monitor: true,
        },
      ]);
      const [owner] = await query<{ owner: string }>(
        "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'shop'",
      );
      expect(owner?.owner).toBe("app");
    }
  }, 60_000);

  it("makes the reshard role and its wrappers in the database, allowing only this database's shards as publishers", async () => {
    runRoleSql(newAppSecret().verifier, newAppSecret().verifier);
    const reshard = newAppSecret();
    const out = spawnSync(
      "psql",
      [
        ...["-h", "127.0.0.1", "-p", String(server.port), "-U", "postgres", "-d", "shop"],
        ...["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", `reshard_verifier=${reshard.verifier}`],
      ],
      { input: reshardSql("shop", "default", 5432), encoding: "utf8", timeout: 30_000 },
    );
    if (out.status !== 0) throw new Error(`psql failed (${out.status}): ${out.stderr}`);
    const [role] = await query<Record<string, unknown>>(
      `SELECT rolpassword = '${reshard.verifier}' AS verifier, rolsuper, rolreplication, rolbypassrls,
              pg_has_role(oid, 'app', 'MEMBER') AS owner_member
         FROM pg_authid WHERE rolname = 'dbplane_reshard'`,
    );
    expect(role).toEqual({
      verifier: true,
      rolsuper: false,
      rolreplication: true,
      rolbypassrls: true,
      owner_member: true,
    });
    const shop = new pg.Client({ connectionString: server.url.replace(/\/postgres$/, "/shop") });
    await shop.connect();
    try {
      const allowed = await shop.query<{ ok: boolean }>(
        `SELECT bool_or(h ~ host_pattern AND port = 5432) AS ok
           FROM dbplane_reshard.publishers, unnest($1::text[]) h GROUP BY h ORDER BY h`,
        [
          [
            "shop-shard-3.default.svc",
            "bank-shard-0.default.svc",
            "shop-shard-3.other.svc",
            "shop-shard-3xdefault.svc",
          ],
        ],
      );
      expect(allowed.rows.map((r) => r.ok)).toEqual([false, true, false, false]);
    } finally {
      await shop.end();
    }
  }, 60_000);
});
