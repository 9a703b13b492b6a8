import { waitFor } from "@dbplane/testkit";
import { describe, expect, it } from "vitest";
import { type CoordinatorWorld, eachTestWorld } from "./coordinator-world.ts";

const EVENTS = 100_000;
const AGGREGATES = 1_000;

describe("exactly-once projection across a replica crash", () => {
  let world: CoordinatorWorld;
  eachTestWorld((w) => {
    world = w;
  });

  it(`${EVENTS} events, 3 replicas, one SIGKILLed mid-stream: same read model as one replica from scratch`, async () => {
    const last = await world.publishTally(EVENTS, { aggregates: AGGREGATES });
    const replicas = await world.startReplicas(3);
    const applied = await world.tallyTable("applied");
    const appliedCount = async () =>
      Number((await world.db.pool.query(`SELECT count(*) FROM ${applied}`)).rows[0].count);
    await waitFor(
      async () => {
        const units = await world.units();
        return new Set(units.map((u) => u.owner)).size === 3 && (await appliedCount()) >= EVENTS / 4;
      },
      { timeoutMs: 60_000, intervalMs: 20, what: "3 owners and a quarter of the events applied" },
    );
    const victim = replicas[0]!;
    await victim.stop("SIGKILL");
    const atKill = await appliedCount();
    expect(atKill).toBeLessThan(EVENTS);

    await waitFor(() => world.caughtUp(last), {
      timeoutMs: 90_000,
      intervalMs: 200,
      what: "survivors to apply every event",
    });
    const owners = new Set((await world.units()).map((u) => u.owner));
    expect(owners.has(victim.memberId)).toBe(false);

    // No event applied twice, none missed.
    const dup = await world.db.pool.query(
      `SELECT seq FROM ${applied} GROUP BY seq HAVING count(*) > 1 LIMIT 5`,
    );
    expect(dup.rows).toEqual([]);
    expect(await appliedCount()).toBe(EVENTS);

    // The same projection built by a single replica from scratch, in its own schema.
    const scratch = await world.newSchema();
    await world.startReplica({ name: "scratch", env: { DBPLANE_PROJECTION_SCHEMA: scratch } });
    await waitFor(() => world.caughtUp(last, scratch), {
      timeoutMs: 90_000,
      intervalMs: 200,
      what: "scratch replica to finish",
    });
    const model = async (schema: string) =>
      (
        await world.db.pool.query(
          `SELECT aggregate, count, chain, last_seq::float8 FROM ${await world.tallyTable("tally", schema)} ORDER BY aggregate`,
        )
      ).rows;
    const [crashed, single] = await Promise.all([model(world.db.name), model(scratch)]);
    expect(crashed).toHaveLength(AGGREGATES);
    expect(crashed).toEqual(single);
    expect(crashed.reduce((sum, r) => sum + r.count, 0)).toBe(EVENTS);
  }, 170_000);
});
