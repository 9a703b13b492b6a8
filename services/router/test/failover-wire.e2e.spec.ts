// The router's wire endpoint across a local-driver failover (real provisioner, 1 shard with one
// replica): a transaction open on the primary when its postmaster is killed fails once with
// 08006 (connection_failure), never hangs, and the session lives on; a new session's write,
// retried as a client would, lands on the promoted replica.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProvisionedWorld, FAST_FAILOVER_ENV, type ProvisionedWorld } from "./provisioned-world.ts";
import { type RouterWorld, waitForMap } from "./router-world.ts";

const DB = "wirefo";
let world: ProvisionedWorld;
let routers: RouterWorld;
let dataDir: string;
let wirePort: number;
let routerBase: string;

beforeAll(async () => {
  wirePort = await freePort();
  world = await createProvisionedWorld({
    dataDirPrefix: "dbplane-wire-failover-",
    provisionerEnv: FAST_FAILOVER_ENV,
    routerEnv: { DBPLANE_ROUTER_PG_PORT: String(wirePort) },
  });
  ({ routers, dataDir, routerBase } = world);
}, 120_000);
afterAll(() => world?.dispose(), 120_000);

describe("the wire endpoint across a failover", () => {
  it("fails a transaction open on the killed primary at once, then a new session writes to the new one", async () => {
    const provisioner = world.provisioner;
    const created = await provisioner.call("POST", "/v1/databases", {
      name: DB,
      shards: 1,
      replicasPerShard: 1,
      postgresVersion: 15,
      storage: { size: "1Gi" },
      shardedTables: [{ table: "orders", keyColumn: "id", keyType: "bigint" }],
    });
    expect(created.status).toBe(202);
    await waitForMap(routerBase, routers.token(), DB, 1, 90_000);
    const router = world.router;
    const migration = await router.call("POST", `/v1/databases/${DB}/migrations`, {
      id: "001-orders",
      statements: ["CREATE TABLE orders (id bigint PRIMARY KEY, amount integer NOT NULL)"],
    });
    expect(migration.status).toBe(200);

    const app = join(dataDir, "clusters", DB, "app");
    const user = (await readFile(join(app, "username"), "utf8")).trim();
    const password = (await readFile(join(app, "password"), "utf8")).trim();
    const client = new pg.Client({ host: "127.0.0.1", port: wirePort, user, password, database: DB });
    const sessionErrors: { code?: string; message: string }[] = [];
    client.on("error", (err: { code?: string; message: string }) => sessionErrors.push(err));
    await client.connect();
    try {
      await client.query("BEGIN");
      await client.query("INSERT INTO orders (id, amount) VALUES (1, 1)");
      const shardDir = join(dataDir, "clusters", DB, "shard-0");
      const pid = Number(
        (await readFile(join(shardDir, "primary", "postmaster.pid"), "utf8")).split("\n")[0],
      );
      process.kill(pid, "SIGKILL");
      // Once the shard has failed over (the killed postmaster's backends are surely gone too), the
      // transaction has failed: the session got an error, and COMMIT fails at once, never hangs.
      await waitFor(
        async () => (await routers.events("dbplane.evt.provisioner.shard.failed-over")).length > 0,
        { what: "the failover", timeoutMs: 60_000, intervalMs: 200 },
      );
      // The shard's own FATAL (57P01, "terminating connection due to unexpected postmaster exit")
      // is not passed on: the client's session is the router's and lives. The COMMIT fails once,
      // with 08006 naming the reason, and the session is usable again at once.
      const commit = await client.query("COMMIT").then(
        () => undefined,
        (err: { code?: string; message: string }) => err,
      );
      expect(commit).toMatchObject({
        code: "08006",
        message: expect.stringMatching(/server connection closed: terminating connection/),
      });
      expect(sessionErrors).toEqual([]);
      // The session lives on: a statement on it fails (08xxx, "cannot reach the shard") only while
      // the router's map still names the dead primary — the failover event can be out before the
      // router applied it — and the same session answers once the map names the new one.
      await waitFor(
        async () => {
          try {
            return (await client.query("SELECT 1 AS one")).rows[0].one === 1;
          } catch (err) {
            expect((err as { code?: string }).code).toMatch(/^08/);
            return false;
          }
        },
        { what: "a statement on the same session", timeoutMs: 60_000, intervalMs: 200 },
      );
      expect(sessionErrors).toEqual([]);
      // A new session, retried as a client would until the router follows, writes to the new primary.
      await waitFor(
        async () => {
          const retry = new pg.Client({ host: "127.0.0.1", port: wirePort, user, password, database: DB });
          retry.on("error", () => {});
          try {
            await retry.connect();
            await retry.query("INSERT INTO orders (id, amount) VALUES (2, 2)");
            return true;
          } catch (err) {
            expect((err as { code?: string }).code).toMatch(/^(40001|08006|57P01|23505)$/);
            return (err as { code?: string }).code === "23505";
          } finally {
            await retry.end().catch(() => {});
          }
        },
        { what: "a write through a new session after the failover", timeoutMs: 60_000, intervalMs: 200 },
      );
      const check = new pg.Client({ host: "127.0.0.1", port: wirePort, user, password, database: DB });
      await check.connect();
      const { rows } = await check.query("SELECT id FROM orders ORDER BY id");
      await check.end();
      // The uncommitted row died with the old primary.
      expect(rows.map((r) => Number(r.id))).toEqual([2]);
    } finally {
      await client.end().catch(() => {});
    }
  }, 180_000);
});
