import { httpClient, waitFor } from "@dbplane/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { createSchedulerWorld, type SchedulerWorld } from "./scheduler-world.ts";

let world: SchedulerWorld | undefined;
afterEach(async () => {
  await world?.dispose();
  world = undefined;
});

interface Replica {
  id: string;
  claims: number;
  held: number;
  lastTickAt: string | null;
  clockOffsetMs: number;
  publishBacklog: number;
  expiresAt: string;
}

const JOBS = 40;
const LEASE_MS = 3_000;

describe("GET /v1/replicas", () => {
  it("shows both replicas and their claims; a SIGKILLed one leaves after its lease, a stopped one at once", async () => {
    world = await createSchedulerWorld();
    const w = world;
    const [victim, survivor] = await w.startReplicas(2, {
      env: { DBPLANE_SCHEDULER_LEASE_MS: String(LEASE_MS) },
    });
    const api = httpClient(survivor!.base, w.token());
    // Every 5 s, phases spread over the 5 s: each occurrence is claimed by whichever replica
    // ticks first and released after it fired, so both replicas hold some as time goes on.
    for (let i = 0; i < JOBS; i++) {
      const res = await api.call("POST", "/v1/jobs", {
        id: `spread-${i}`,
        schedule: { kind: "every", everyMs: 5_000, phaseMs: Math.floor((i * 5_000) / JOBS) },
        target: { subject: w.targetSubject("spread") },
      });
      expect(res.status).toBe(201);
    }
    const pidOf = (r: Replica) => Number(r.id.split(":").at(-2));
    const list = async () => (await api.call("GET", "/v1/replicas")).body.items as Replica[];

    // Each replica's claims as listed are the jobs the database says it holds.
    const seenClaiming = new Set<number>();
    await waitFor(
      async () => {
        const replicas = await list();
        const claimed = await w.db.pool.query<{ claimed_by: string; n: string }>(
          `SELECT claimed_by, count(*) AS n FROM "${w.db.name}".jobs
           WHERE claimed_by IS NOT NULL AND claim_expires_at > now() GROUP BY claimed_by`,
        );
        const inDb = new Map(claimed.rows.map((r) => [r.claimed_by, Number(r.n)]));
        if (replicas.length !== 2) return false;
        for (const r of replicas) {
          expect(r.lastTickAt).not.toBeNull();
          expect(Number.isFinite(r.clockOffsetMs)).toBe(true);
          if (r.claims > 0 && r.claims === inDb.get(r.id)) seenClaiming.add(pidOf(r));
        }
        return seenClaiming.size === 2;
      },
      { what: "both replicas listed, each seen holding claims", timeoutMs: 30_000, intervalMs: 100 },
    );
    const before = await list();
    expect(before.map(pidOf).sort()).toEqual([victim!.svc.process.pid, survivor!.svc.process.pid].sort());

    expect(await victim!.stop("SIGKILL")).toBe("SIGKILL");
    const killedAt = Date.now();
    await waitFor(async () => (await list()).map(pidOf).join() === String(survivor!.svc.process.pid), {
      what: "the killed replica gone from the list",
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    // Not before its last beat's lease ran out (the heartbeat is every third of a lease).
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(LEASE_MS - LEASE_MS / 3 - 500);
    const alone = await list();
    expect(alone).toHaveLength(1);

    await survivor!.stop("SIGTERM");
    expect(await w.store.listReplicas()).toEqual([]);
  }, 90_000);
});
