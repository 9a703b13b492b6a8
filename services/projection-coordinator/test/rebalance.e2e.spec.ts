import { desiredOwner } from "@dbplane/projections";
import { waitFor } from "@dbplane/testkit";
import { describe, expect, it } from "vitest";
import { json, type ProjectionsView } from "./api-types.ts";
import { type CoordinatorWorld, eachTestWorld } from "./coordinator-world.ts";

interface Move {
  readonly id: number;
  readonly partition: number;
  readonly worker: string;
  readonly token: number;
  readonly action: "assigned" | "released" | "lost";
  readonly at: Date;
}

describe("rebalancing", () => {
  let world: CoordinatorWorld;
  eachTestWorld((w) => {
    world = w;
  });

  const moves = async (): Promise<Move[]> =>
    (
      await world.db.pool.query<Move>(
        `SELECT id::float8 AS id, partition, worker, token::float8 AS token, action, at FROM "${world.db.name}".unit_moves
         WHERE projection = 'tally' ORDER BY id`,
      )
    ).rows;

  /** True once every unit is owned by the member rendezvous hashing picks among the live ones. */
  const settled = async (expectedMembers: number) => {
    const { rows: members } = await world.db.pool.query(
      `SELECT id, capabilities FROM "${world.db.name}".members`,
    );
    if (members.length !== expectedMembers) return false;
    const units = await world.units();
    return units.every(
      (u) =>
        u.owner ===
        desiredOwner(
          { projection: "tally", generation: u.generation, partition: u.partition },
          "tally@1",
          members,
        ),
    );
  };

  it("three replicas started at the same instant agree on one assignment, each unit owned once", async () => {
    const replicas = await world.startReplicas(3);
    await waitFor(() => settled(3), { timeoutMs: 30_000, what: "the rendezvous assignment over 3 members" });
    const units = await world.units();
    expect(new Set(units.map((u) => u.owner))).toEqual(new Set(replicas.map((r) => r.memberId)));

    // Ownership history per unit: assigned/released alternate and tokens only grow, so no unit
    // ever had two owners at once.
    const history = new Map<number, Move[]>();
    for (const m of await moves()) history.set(m.partition, [...(history.get(m.partition) ?? []), m]);
    expect(history.size).toBe(units.length);
    for (const list of history.values()) {
      expect(list.map((m) => m.action)).toEqual(list.map((_, i) => (i % 2 === 0 ? "assigned" : "released")));
      const tokens = list.filter((m) => m.action === "assigned").map((m) => m.token);
      expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
    }
    // Every replica reports the same owners.
    const views = await Promise.all(
      replicas.map((r) => json<ProjectionsView>(fetch(`${r.base}/v1/projections`))),
    );
    const owners = (v: ProjectionsView) => v.items[0]!.generations[0]!.units.map((u) => u.owner);
    for (const v of views) expect(owners(v)).toEqual(units.map((u) => u.owner));
  });

  it("a fourth replica joining mid-stream pauses only the units it takes; the others keep committing", async () => {
    await world.startReplicas(3);
    await waitFor(() => settled(3), { timeoutMs: 30_000, what: "the assignment over 3 members" });
    const before = (await moves()).at(-1)!.id;

    let publishing = true;
    let last = 0;
    const publisher = (async () => {
      while (publishing) {
        last = await world.publishTally(100);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    try {
      const applied = await world.tallyTable("applied");
      await waitFor(
        async () =>
          (await world.db.pool.query(`SELECT count(*)::int AS n FROM ${applied}`)).rows[0].n > 2_000,
        {
          timeoutMs: 30_000,
          what: "events flowing",
        },
      );
      const fourth = await world.startReplica({ name: "joiner" });
      await waitFor(() => settled(4), { timeoutMs: 30_000, what: "the assignment over 4 members" });
      await waitFor(
        async () =>
          (await world.units()).filter((u) => u.owner === fourth.memberId).every((u) => u.checkpoint > 0),
        { timeoutMs: 30_000, what: "the joiner to commit on its units" },
      );
    } finally {
      publishing = false;
      await publisher;
    }
    await waitFor(() => world.caughtUp(last), { timeoutMs: 60_000, what: "all events applied" });

    const after = (await moves()).filter((m) => m.id > before);
    const moved = new Set(after.map((m) => m.partition));
    const units = await world.units();
    const joiner = units.filter((u) => u.owner?.startsWith("joiner")).map((u) => u.partition);
    expect(joiner.length).toBeGreaterThan(0);
    expect([...moved].sort()).toEqual([...joiner].sort());
    expect(after.filter((m) => m.action === "lost")).toEqual([]);

    // Each moved unit's pause: from its last commit on the old owner to its first on the joiner.
    // While any moved unit was paused, every unit that did not move kept committing events.
    const applied = await world.tallyTable("applied");
    const windows: { from: Date; to: Date }[] = [];
    for (const partition of moved) {
      const released = after.find((m) => m.partition === partition && m.action === "released")!.at;
      const { rows } = await world.db.pool.query(
        `SELECT (SELECT max(applied_at) FROM ${applied} WHERE partition = $1 AND applied_at <= $2) AS "from",
                (SELECT min(applied_at) FROM ${applied} WHERE partition = $1 AND applied_at > $2) AS "to"`,
        [partition, released],
      );
      windows.push(rows[0]);
    }
    const from = new Date(Math.min(...windows.map((w) => w.from.getTime())));
    const to = new Date(Math.max(...windows.map((w) => w.to.getTime())));
    const { rows: active } = await world.db.pool.query(
      `SELECT partition, count(*)::int AS n FROM ${applied} WHERE applied_at > $1 AND applied_at < $2 GROUP BY partition`,
      [from, to],
    );
    const committed = new Set(active.map((r) => r.partition));
    const unmoved = units.map((u) => u.partition).filter((p) => !moved.has(p));
    expect(unmoved.length).toBeGreaterThan(0);
    expect(unmoved.filter((p) => !committed.has(p))).toEqual([]);
    const dup = await world.db.pool.query(
      `SELECT seq FROM ${applied} GROUP BY seq HAVING count(*) > 1 LIMIT 5`,
    );
    expect(dup.rows).toEqual([]);
  }, 120_000);
});
