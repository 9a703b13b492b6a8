import { createTestSchema, testServerUrls } from "@dbplane/testkit";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { latestSchemaVersion, migrate } from "../src/store/migrations.ts";

const allVersions = Array.from({ length: latestSchemaVersion }, (_, i) => i + 1);

describe("migrations", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("apply once; a second run applies nothing", async () => {
    const db = await createTestSchema("sched");
    cleanups.push(() => db.drop());
    expect(await migrate(db.pool, db.name)).toEqual(allVersions);
    expect(await migrate(db.pool, db.name)).toEqual([]);
    const tables = await db.pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
      [db.name],
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual([
      "deliveries",
      "delivery_attempts",
      "jobs",
      "replicas",
      "runs",
      "schema_migrations",
    ]);
  });

  it("replicas starting together: each migration is applied exactly once, nobody fails", async () => {
    const db = await createTestSchema("sched");
    cleanups.push(() => db.drop());
    // Separate pools, as separate pods would have.
    const pools = Array.from(
      { length: 6 },
      () => new pg.Pool({ connectionString: testServerUrls().postgres, max: 1 }),
    );
    cleanups.push(async () => {
      await Promise.all(pools.map((p) => p.end()));
    });
    const applied = await Promise.all(pools.map((p) => migrate(p, db.name)));
    expect(applied.flat()).toEqual(allVersions);
    const rows = await db.pool.query(`SELECT version FROM "${db.name}".schema_migrations`);
    expect(rows.rowCount).toBe(latestSchemaVersion);
  });

  it("creates its schema when it does not exist yet, and refuses a schema name that needs quoting", async () => {
    const db = await createTestSchema("sched");
    cleanups.push(() => db.drop());
    const fresh = `${db.name}_new`;
    cleanups.push(async () => {
      await db.pool.query(`DROP SCHEMA IF EXISTS "${fresh}" CASCADE`);
    });
    expect(await migrate(db.pool, fresh)).toEqual(allVersions);
    await expect(migrate(db.pool, 'x"; DROP TABLE y; --')).rejects.toThrow(/identifier/);
  });
});
