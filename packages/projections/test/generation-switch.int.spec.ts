import { createTestSchema, type TestSchema } from "@dbplane/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type CoordinationTables,
  coordinationMigrations,
  coordinationTables,
  GenerationStore,
} from "../src/index.ts";

describe("switching to a caught-up generation", () => {
  let db: TestSchema;
  let t: CoordinationTables;
  beforeEach(async () => {
    db = await createTestSchema("genswitch");
    t = coordinationTables(db.name);
    for (const m of coordinationMigrations) await db.pool.query(m.sql(t));
    // Generation 1 active, generation 2 building and level with it (both at checkpoint 10).
    await db.pool.query(
      `INSERT INTO ${t.generations} (projection, generation, version, partitions, state, catch_up_to)
       VALUES ('tally', 1, 1, 2, 'active', 10), ('tally', 2, 2, 2, 'building', 10)`,
    );
    await db.pool.query(
      `INSERT INTO ${t.units} (projection, generation, partition, checkpoint)
       SELECT 'tally', g, p, 10 FROM generate_series(1, 2) g, generate_series(0, 1) p`,
    );
  });
  afterEach(async () => {
    await db.drop();
  });

  const states = async () =>
    (await db.pool.query(`SELECT generation, state FROM ${t.generations} ORDER BY generation`)).rows;

  it("every replica switching at once leaves exactly the new generation active", async () => {
    // Each replica runs the switch on its own tick; on a busy machine they coincide. Both see
    // generation 2 caught up; the second must not retire the generation the first just activated.
    const replicas = Array.from({ length: 4 }, () => new GenerationStore(db.pool, t, db.name));
    const switched = await Promise.all(replicas.map((r) => r.switchCaughtUp()));
    expect(await states()).toEqual([
      { generation: 1, state: "retired" },
      { generation: 2, state: "active" },
    ]);
    expect(switched.flat()).toEqual([{ projection: "tally", generation: 2 }]);
  });

  it("a generation that is no longer building is not switched to", async () => {
    const store = new GenerationStore(db.pool, t, db.name);
    await db.pool.query(`UPDATE ${t.generations} SET state = 'retired' WHERE generation = 2`);
    expect(await store.switchCaughtUp()).toEqual([]);
    expect(await states()).toEqual([
      { generation: 1, state: "active" },
      { generation: 2, state: "retired" },
    ]);
  });
});
