import { waitFor } from "@dbplane/testkit";
import { describe, expect, it } from "vitest";
import { type AuditPage, json, type ProjectionsView } from "./api-types.ts";
import { type CoordinatorWorld, eachTestWorld } from "./coordinator-world.ts";
import { TALLY_TYPE } from "./fixtures/tally-projection.ts";

describe("rebuilding a projection into a new generation", () => {
  let world: CoordinatorWorld;
  eachTestWorld((w) => {
    world = w;
  });

  it("keeps serving the old generation until the new one caught up, then switches with no gap", async () => {
    const replica = await world.startReplica({ env: { DBPLANE_PROJECTIONS: "audit" } });
    const last = await world.publishTally(3_000, { aggregates: 10 });
    await waitFor(() => world.caughtUp(last, world.db.name, "audit"), {
      timeoutMs: 30_000,
      what: "audit to catch up",
    });
    const query = `${replica.base}/v1/audit?type=${TALLY_TYPE}&subject=agg-7&limit=1000`;
    const read = async () => {
      const res = await fetch(query);
      expect(res.status).toBe(200);
      const page = await json<AuditPage>(res);
      return { generation: page.generation, count: page.items.length };
    };
    const initial = await read();
    expect(initial).toEqual({ generation: 1, count: 300 });

    const rebuild = `${replica.base}/v1/projections/audit/rebuild`;
    expect((await fetch(rebuild, { method: "POST" })).status).toBe(401);
    const auth = { authorization: `Bearer ${world.token()}` };
    const accepted = await fetch(rebuild, { method: "POST", headers: auth });
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toMatchObject({ projection: "audit", generation: 2, state: "building" });
    expect((await fetch(rebuild, { method: "POST", headers: auth })).status).toBe(409);

    // Readers poll throughout while events keep coming.
    const seen: { generation: number; count: number }[] = [];
    let published = 3_000;
    await waitFor(
      async () => {
        seen.push(await read());
        if (published < 6_000) {
          await world.publishTally(100, { aggregates: 10 });
          published += 100;
        }
        return seen.at(-1)!.generation === 2 && published >= 6_000 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 20, what: "generation 2 to serve reads" },
    );
    expect(seen.some((s) => s.generation === 1)).toBe(true);
    // Never fewer events than before, never going back, never back to the old generation.
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]!.count).toBeGreaterThanOrEqual(seen[i - 1]!.count);
      expect(seen[i]!.generation).toBeGreaterThanOrEqual(seen[i - 1]!.generation);
    }
    expect(seen[0]!.count).toBeGreaterThanOrEqual(initial.count);
    const overview = await json<ProjectionsView>(fetch(`${replica.base}/v1/projections`));
    const audit = overview.items.find((p) => p.name === "audit")!;
    expect(
      audit.generations.map((g: { generation: number; state: string }) => [g.generation, g.state]),
    ).toEqual([[2, "active"]]);
  });

  it("builds a new projection version beside the old one, which serves until the switch", async () => {
    const v1Replica = await world.startReplica();
    const first = await world.publishTally(2_000, { aggregates: 50 });
    await waitFor(() => world.caughtUp(first), { timeoutMs: 30_000, what: "version 1 to catch up" });
    const generations = async () =>
      (
        await world.db.pool.query(
          `SELECT generation, version, state FROM "${world.db.name}".generations ORDER BY generation`,
        )
      ).rows;

    // A replica with version 2 of the code (a rolling deploy): it builds generation 2 alone.
    const v2Replica = await world.startReplica({ env: { TALLY_VERSION: "2" }, name: "v2" });
    const states: string[] = [];
    let last = first;
    let extra = 0;
    const unitRows = async () =>
      (
        await world.db.pool.query<{
          generation: number;
          partition: number;
          owner: string | null;
          checkpoint: string;
        }>(`SELECT generation, partition, owner, checkpoint FROM "${world.db.name}".units ORDER BY 1, 2`)
      ).rows;
    // Fail fast, with the state it stands in, when generation 2 stops moving: its slowest unit's
    // checkpoint (or, before it has units, the generation rows) unchanged for STALL_MS.
    const STALL_MS = 15_000;
    let progress = "";
    let progressAt = Date.now();
    let stalled = false;
    const takeOver = waitFor(
      async () => {
        const g = await generations();
        states.push(g.map((r) => `${r.generation}:${r.state}`).join(","));
        if (g.some((r) => r.generation === 2 && r.state === "active")) return true;
        const building = (await unitRows()).filter((u) => u.generation === 2);
        const now = `${states.at(-1)} ${building.map((u) => `${u.owner ?? "-"}@${u.checkpoint}`).join(" ")}`;
        if (now !== progress) [progress, progressAt] = [now, Date.now()];
        else if (Date.now() - progressAt > STALL_MS) {
          stalled = true;
          return true;
        }
        // Readers use the active generation: it always exists and has every event published before.
        const tally = await world.tallyTable("tally");
        const { rows } = await world.db.pool.query(`SELECT sum(count)::int AS n FROM ${tally}`);
        expect(rows[0].n).toBeGreaterThanOrEqual(2_000);
        if (extra < 20) {
          last = await world.publishTally(1, { aggregates: 50 });
          extra++;
        }
        return undefined;
      },
      { timeoutMs: 90_000, intervalMs: 20, what: "version 2 to take over" },
    );
    const report = async (why: string) => {
      const units = await unitRows();
      const views = await Promise.all(
        [v1Replica, v2Replica].map(async (r) => {
          const res = await fetch(`${r.base}/v1/projections`).catch(() => undefined);
          return res?.ok ? await res.json() : `unreachable ${r.base}`;
        }),
      );
      return new Error(
        `${why}; generations ${states.at(-1)}; last event ${last}; units ${JSON.stringify(units)}; replicas ${JSON.stringify(views)}`,
      );
    };
    await takeOver.catch(async (err: unknown) => {
      throw await report(String(err));
    });
    if (stalled) throw await report(`generation 2 made no progress for ${STALL_MS} ms`);
    expect(states).toContain("1:active,2:building");
    expect(await generations()).toEqual([
      { generation: 1, version: 1, state: "retired" },
      { generation: 2, version: 2, state: "active" },
    ]);
    await waitFor(() => world.caughtUp(last), {
      timeoutMs: 30_000,
      what: "version 2 to apply the last events",
    });
    const model = async (generation: number): Promise<{ aggregate: string; count: number }[]> =>
      (
        await world.db.pool.query(
          `SELECT aggregate, count, chain FROM "${world.db.name}".tally_g${generation}_tally ORDER BY aggregate`,
        )
      ).rows;
    const v2 = await model(2);
    expect(v2).toHaveLength(50);
    expect(v2.reduce((sum, r) => sum + r.count, 0)).toBe(2_000 + extra);
  }, 150_000);
});
