import { createTestSchema, testServerUrls } from "@dbplane/testkit";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { parseJobDefinition } from "../src/domain/job-validation.ts";
import { latestSchemaVersion, migrate } from "../src/store/migrations.ts";
import { createSchedulerStore } from "../src/store/scheduler-store.ts";

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

  it("5 gives NATS targets saved without a kind theirs: re-sending such a job is unchanged", async () => {
    const db = await createTestSchema("sched");
    cleanups.push(() => db.drop());
    await migrate(db.pool, db.name);
    // As version 4 left a job: its target has no kind. Then version 5 runs over it.
    const old = {
      id: "old",
      schedule: { kind: "every", everyMs: 60_000, phaseMs: 0 },
      target: { subject: "a.b", payload: null },
      misfire: "once",
      maxLatenessMs: 60_000,
    };
    await db.pool.query(
      `INSERT INTO "${db.name}".jobs (id, definition, state) VALUES ('old', $1, 'paused')`,
      [JSON.stringify(old)],
    );
    await db.pool.query(
      `DELETE FROM "${db.name}".schema_migrations WHERE version = 5;
       DROP TABLE "${db.name}".delivery_attempts, "${db.name}".deliveries;`,
    );
    expect(await migrate(db.pool, db.name)).toEqual([5]);
    const store = createSchedulerStore(db.pool, { schema: db.name });
    const again = await store.upsert(
      parseJobDefinition({ id: "old", schedule: old.schedule, target: old.target }),
    );
    expect(again.outcome).toBe("unchanged");
    expect(again.job.definition.target).toEqual({ kind: "nats", subject: "a.b", payload: null });
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
