import { busNames } from "@dbplane/bus";
import { waitFor } from "@dbplane/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { type CoordinatorWorld, eachTestWorld } from "./coordinator-world.ts";

describe("graceful shutdown", () => {
  let world: CoordinatorWorld;
  eachTestWorld((w) => {
    world = w;
  });

  it("stores checkpoints, releases every unit and announces it, then exits 0", async () => {
    const replica = await world.startReplica();
    const last = await world.publishTally(1_000, { aggregates: 100 });
    await waitFor(() => world.caughtUp(last), { timeoutMs: 30_000, what: "units to catch up" });

    expect(await replica.stop("SIGTERM")).toBe(0);
    const units = await world.units();
    expect(units.every((u) => u.owner === null && u.checkpoint >= last)).toBe(true);
    const { rows } = await world.db.pool.query(`SELECT count(*)::int AS n FROM "${world.db.name}".members`);
    expect(rows[0].n).toBe(0);

    const names = busNames(world.nats.namespace);
    const jsm = await jetstreamManager(world.nats.nc);
    const announced = async (event: string) => {
      const info = await jsm.streams.info(names.stream("evt"), {
        subjects_filter: names.subject(`dbplane.evt.projection-coordinator.unit.${event}`),
      });
      return Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
    };
    expect(await announced("assigned")).toBe(units.length);
    expect(await announced("released")).toBe(units.length);
  });
});
