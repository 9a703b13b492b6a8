// Security suite (issue 16, item 1): the projections checked no `ce-source`, so an event on the
// collector's subject sent as the router, or as anyone, went into the read models. Now they
// refuse it as the bus's consumers do: parked with reason untrusted-source, never applied, and
// a retry cannot apply it either.
import { serviceSource } from "@dbplane/contracts";
import { waitFor } from "@dbplane/testkit";
import { describe, expect, it } from "vitest";
import { json, type ParkedList, type Problem } from "../api-types.ts";
import { type CoordinatorWorld, eachTestWorld } from "../coordinator-world.ts";

describe("events from an untrusted ce-source", () => {
  let world: CoordinatorWorld;
  eachTestWorld((w) => {
    world = w;
  });

  it("are parked with reason untrusted-source, counted, and never projected", async () => {
    const replica = await world.startReplica();
    const forged = new Map([
      [7, serviceSource("router")],
      [9, "evil/attacker"],
    ]);
    // 20 events over 2 aggregates: agg-1 gets the odd ones, two of them forged.
    const last = await world.publishTally(20, {
      aggregates: 2,
      source: (n) => forged.get(n) ?? serviceSource("collector"),
    });
    await waitFor(() => world.caughtUp(last), { what: "units to pass the last event" });

    const tally = await world.tallyTable("tally");
    const count = async () =>
      (await world.db.pool.query(`SELECT count FROM ${tally} WHERE aggregate = 'agg-1'`)).rows[0].count;
    expect(await count()).toBe(8);

    const listed = await json<ParkedList>(fetch(`${replica.base}/v1/parked?projection=tally`));
    expect(listed.items.map((p) => p.event.data)).toEqual([{ n: 7 }, { n: 9 }]);
    for (const parked of listed.items) {
      expect(parked).toMatchObject({ state: "parked", attempts: 0 });
      expect(parked.reason).toMatch(
        /^untrusted-source: ce-source "(dbplane\/router|evil\/attacker)" may not send/,
      );
      expect(parked.reason).toContain("expected dbplane/collector");
    }
    const metrics = await (await fetch(`${replica.base}/metrics`)).text();
    expect(metrics).toContain(
      'dbplane_projection_events_parked_total{projection="tally",reason="untrusted-source"} 2',
    );

    // Retrying a forged event does not apply it.
    const retried = await fetch(`${replica.base}/v1/parked/${listed.items[0]!.id}/retry`, {
      method: "POST",
      headers: { authorization: `Bearer ${world.token()}` },
    });
    expect(retried.status).toBe(422);
    expect((await json<Problem>(retried)).detail).toContain("untrusted-source");
    expect(await count()).toBe(8);
  });
});
