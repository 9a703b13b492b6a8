// NATS restarted (hard) under two running replicas: the stream readers resume from where they
// were, events published after the restart are projected, and each event is applied once.
import { type PrivateNatsServer, startPrivateNatsServer, waitFor } from "@dbplane/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CoordinatorWorld, createCoordinatorWorld } from "./coordinator-world.ts";

const AGGREGATES = 100;

describe("a NATS restart under running replicas", () => {
  let server: PrivateNatsServer;
  let world: CoordinatorWorld;
  beforeEach(async () => {
    server = await startPrivateNatsServer();
    world = await createCoordinatorWorld({ natsUrl: server.url });
  });
  afterEach(async () => {
    await world?.dispose().catch(() => {});
    await server?.dispose();
  });

  it("keeps projecting after NATS comes back; no event applied twice or lost", async () => {
    await world.startReplicas(2);
    const before = await world.publishTally(3_000, { aggregates: AGGREGATES });
    await waitFor(() => world.caughtUp(before), {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: "first batch applied",
    });

    await server.stop({ hard: true });
    await server.start();
    // The test's own connection reconnects too; publishing waits for it.
    const after = await waitFor(
      async () => {
        try {
          return await world.publishTally(3_000, { aggregates: AGGREGATES });
        } catch {
          return undefined;
        }
      },
      { timeoutMs: 30_000, intervalMs: 250, what: "publishing after the restart" },
    );
    await waitFor(() => world.caughtUp(after), {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: "second batch applied",
    });

    const applied = await world.tallyTable("applied");
    const dup = await world.db.pool.query(
      `SELECT seq FROM ${applied} GROUP BY seq HAVING count(*) > 1 LIMIT 5`,
    );
    expect(dup.rows).toEqual([]);
    const total = await world.db.pool.query(`SELECT count(*)::int AS n FROM ${applied}`);
    expect(total.rows[0].n).toBe(6_000);
    const counts = await world.db.pool.query(
      `SELECT sum(count)::int AS n FROM ${await world.tallyTable("tally")}`,
    );
    expect(counts.rows[0].n).toBe(6_000);
  }, 150_000);
});
