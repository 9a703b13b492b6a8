import { createTestSchema, type TestSchema } from "@dbplane/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type CoordinationTables,
  coordinationMigrations,
  coordinationTables,
  FencedError,
} from "../src/index.ts";
import { MembershipStore } from "../src/membership-store.ts";
import { OwnershipStore } from "../src/ownership-store.ts";

const key = { projection: "tally", generation: 1, partition: 0 };

describe("fenced ownership", () => {
  let db: TestSchema;
  let t: CoordinationTables;
  let ownership: OwnershipStore;
  let membership: MembershipStore;
  beforeEach(async () => {
    db = await createTestSchema("fence");
    t = coordinationTables(db.name);
    for (const m of coordinationMigrations) await db.pool.query(m.sql(t));
    await db.pool.query(
      `INSERT INTO ${t.generations} (projection, generation, version, partitions, state) VALUES ('tally', 1, 1, 1, 'active')`,
    );
    await db.pool.query(`INSERT INTO ${t.units} (projection, generation, partition) VALUES ('tally', 1, 0)`);
    ownership = new OwnershipStore(db.pool, t);
    membership = new MembershipStore(db.pool, t);
  });
  afterEach(async () => {
    await db.drop();
  });

  const commit = (own: NonNullable<Awaited<ReturnType<OwnershipStore["acquire"]>>>, to: number) =>
    ownership.inTransaction((tx) =>
      ownership.advance(tx, own, { from: own.checkpoint, to, applied: 1, lastEventTime: undefined }),
    );

  it("a replica removed as stale while paused cannot commit after the unit moved on", async () => {
    await membership.heartbeat("old", ["tally@1"], {});
    const old = (await ownership.acquire(key, "old"))!;
    await commit(old, 0);
    // "old" stops heart-beating (a long GC pause, a SIGSTOP): it is removed and the unit freed.
    await db.pool.query(
      `UPDATE ${t.members} SET heartbeat_at = now() - interval '1 minute' WHERE id = 'old'`,
    );
    expect(await membership.removeStale(10_000)).toEqual(["old"]);
    await membership.heartbeat("new", ["tally@1"], {});
    const taken = (await ownership.acquire(key, "new"))!;
    expect(taken.token).toBe(old.token + 1);
    await commit(taken, 5);

    await expect(commit(old, 7)).rejects.toBeInstanceOf(FencedError);
    expect(await ownership.release(old)).toBe(false);
    const { rows } = await db.pool.query(`SELECT owner, checkpoint::int FROM ${t.units}`);
    expect(rows).toEqual([{ owner: "new", checkpoint: 5 }]);
  });

  it("two replicas racing for a free unit: exactly one wins", async () => {
    const results = await Promise.all(["a", "b", "c", "d"].map((id) => ownership.acquire(key, id)));
    expect(results.filter((r) => r !== null)).toHaveLength(1);
  });
});
