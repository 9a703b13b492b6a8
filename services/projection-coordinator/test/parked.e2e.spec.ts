import { waitFor } from "@dbplane/testkit";
import { describe, expect, it } from "vitest";
import { json, type ParkedItem, type ParkedList, type Problem } from "./api-types.ts";
import { type CoordinatorWorld, eachTestWorld } from "./coordinator-world.ts";

describe("poison events", () => {
  let world: CoordinatorWorld;
  eachTestWorld((w) => {
    world = w;
  });

  it("parks the failing event, keeps its unit going, and re-applies it after the fix", async () => {
    const replica = await world.startReplica({ env: { DBPLANE_PROJECTION_MAX_ATTEMPTS: "3" } });
    // 200 events over 5 aggregates; n = 42 (aggregate agg-2) fails until fixed.
    const last = await world.publishTally(200, { aggregates: 5, poison: (n) => n === 42 });
    await waitFor(() => world.caughtUp(last), { timeoutMs: 30_000, what: "units to pass the last event" });

    const listed = await json<ParkedList>(fetch(`${replica.base}/v1/parked?projection=tally`));
    expect(listed.items).toHaveLength(1);
    const parked = listed.items[0]!;
    expect(parked).toMatchObject({ projection: "tally", state: "parked", attempts: 3 });
    expect(parked.reason).toContain("poison event");
    expect(parked.event.data).toEqual({ n: 42, poison: true });

    // The unit went on: every other event of agg-2, including the ones after n = 42, is applied.
    const tally = await world.tallyTable("tally");
    const count = async () =>
      (await world.db.pool.query(`SELECT count FROM ${tally} WHERE aggregate = 'agg-2'`)).rows[0].count;
    expect(await count()).toBe(39);

    const auth = { authorization: `Bearer ${world.token()}` };
    const url = `${replica.base}/v1/parked/${parked.id}/retry`;
    expect((await fetch(url, { method: "POST" })).status).toBe(401);
    const stillBroken = await fetch(url, { method: "POST", headers: auth });
    expect(stillBroken.status).toBe(422);
    expect((await json<Problem>(stillBroken)).detail).toContain("poison event");

    await world.db.pool.query(`INSERT INTO ${await world.tallyTable("fixes")} (id) VALUES ($1)`, [
      parked.event.id,
    ]);
    const retried = await fetch(url, { method: "POST", headers: auth });
    expect(retried.status).toBe(200);
    expect(await json<ParkedItem>(retried)).toMatchObject({ id: parked.id, state: "resolved" });
    expect(await count()).toBe(40);
    expect((await fetch(url, { method: "POST", headers: auth })).status).toBe(409);
    expect(
      (await fetch(`${replica.base}/v1/parked/999999/retry`, { method: "POST", headers: auth })).status,
    ).toBe(404);
    const resolved = await json<ParkedList>(fetch(`${replica.base}/v1/parked?state=parked`));
    expect(resolved.items).toHaveLength(0);
  });
});
