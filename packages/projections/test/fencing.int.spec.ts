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

  it("a batch's checkpoint write goes with its BEGIN: fenced, the batch's work never runs; quoted values are written as given", async () => {
    const owner = "o'brien\\1";
    await membership.heartbeat(owner, ["tally@1"], {});
    const own = (await ownership.acquire(key, owner))!;
    const at = "2026-12-07T01:02:03.000Z";
    let ran = 0;
    await ownership.advanceInTransaction(
      own,
      { from: own.checkpoint, to: 3, applied: 2, lastEventTime: at },
      async (tx) => {
        ran++;
        // The work runs in the transaction that wrote the checkpoint: it sees it.
        const { rows } = await tx.query(`SELECT checkpoint::int FROM ${t.units}`);
        expect(rows).toEqual([{ checkpoint: 3 }]);
      },
    );
    const { rows } = await db.pool.query(
      `SELECT owner, checkpoint::int, applied_events::int, last_event_time FROM ${t.units}`,
    );
    expect(rows).toEqual([{ owner, checkpoint: 3, applied_events: 2, last_event_time: new Date(at) }]);

    await db.pool.query(`UPDATE ${t.units} SET token = token + 1`);
    const fenced = ownership.advanceInTransaction(
      { ...own, checkpoint: 3 },
      { from: 3, to: 9, applied: 1, lastEventTime: undefined },
      async () => {
        ran++;
      },
    );
    await expect(fenced).rejects.toBeInstanceOf(FencedError);
    expect(ran).toBe(1);
    expect((await db.pool.query(`SELECT checkpoint::int FROM ${t.units}`)).rows).toEqual([{ checkpoint: 3 }]);
  });

  it("two replicas racing for a free unit: exactly one wins", async () => {
    const results = await Promise.all(["a", "b", "c", "d"].map((id) => ownership.acquire(key, id)));
    expect(results.filter((r) => r !== null)).toHaveLength(1);
  });
});
