// The provisioner deletes a database → every router replica stops routing to it (404, pools
// closed), the router forgets its maps and migrations, and a database created again under the
// same name starts over at version 1.
import { databaseDeleted } from "@dbplane/contracts";
import { uniqueName, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

const DB = "shortlived";
let world: RouterWorld;
let routers: string[];

beforeAll(async () => {
  world = await createRouterWorld(2);
  routers = [(await world.startReplica()).base, (await world.startReplica()).base];
  await world.announce(DB);
  for (const url of routers) await waitForMap(url, world.token(), DB);
});
afterAll(async () => {
  await world?.dispose();
});

const query = (base: string) =>
  api(base, world.token(), "POST", `/v1/databases/${DB}/query`, {
    sql: "SELECT current_database() AS db",
    key: { type: "bigint", value: 42 },
  });

async function storedRows(table: "shard_maps" | "migrations"): Promise<number> {
  const pool = new pg.Pool({ connectionString: world.schema.url, max: 1 });
  try {
    const res = await pool.query(
      `SELECT count(*)::int AS n FROM "${world.schema.name}".${table} WHERE database = $1`,
      [DB],
    );
    return res.rows[0].n;
  } finally {
    await pool.end();
  }
}

describe("database.deleted", () => {
  it("withdraws the map on every replica, forgets it, and lets the name be used again", async () => {
    const migration = await api(routers[0]!, world.token(), "POST", `/v1/databases/${DB}/migrations`, {
      id: "001",
      statements: ["CREATE TABLE gone_soon (id int)"],
    });
    expect(migration.status).toBe(200);
    for (const url of routers) expect((await query(url)).status).toBe(200);

    await world.bus.publish(
      databaseDeleted,
      { name: DB, volumesKept: false },
      { subject: DB, id: uniqueName("deleted") },
    );
    for (const url of routers) {
      await waitFor(
        async () => (await api(url, world.token(), "GET", `/v1/databases/${DB}/shards`)).status === 404,
        {
          what: `${url} to withdraw ${DB}`,
          timeoutMs: 10_000,
        },
      );
      const res = await query(url);
      expect(res.status).toBe(404);
      expect(res.body.detail).toContain(DB);
    }
    expect(await storedRows("shard_maps")).toBe(0);
    expect(await storedRows("migrations")).toBe(0);

    // Created again: a new database, version 1, no migrations to replay.
    await world.announce(DB);
    for (const url of routers) {
      const map = await waitForMap(url, world.token(), DB);
      expect(map.version).toBe(1);
      expect((await query(url)).status).toBe(200);
    }
    const list = await api(routers[1]!, world.token(), "GET", `/v1/databases/${DB}/migrations`);
    expect(list.status).toBe(200);
    expect(list.body.migrations).toHaveLength(0);
  });
});
