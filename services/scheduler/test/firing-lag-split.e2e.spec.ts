import { waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJobDefinition } from "../src/domain/job-validation.ts";
import { createSchedulerWorld, type SchedulerWorld } from "./scheduler-world.ts";

// Where an occurrence's lateness came from: claimed after its due time (the claim: PostgreSQL, a
// slow claim round) or claimed ahead and started late (the replica's event loop). One job is due
// 3 s before the replica starts (claimed late by construction), one 5 s after (claimed ahead).
let world: SchedulerWorld;
let metrics = "";

/** A bucket's cumulative count of a scheduler histogram (unforced occurrences). */
function bucket(name: string, le: string): number {
  const line = new RegExp(
    `^dbplane_scheduler_${name}_seconds_bucket\\{le="${le.replace("+", "\\+")}",manual="false"\\} (\\d+)$`,
    "m",
  );
  return Number(line.exec(metrics)?.[1] ?? Number.NaN);
}

beforeAll(async () => {
  world = await createSchedulerWorld();
  const now = (await world.dbNow()).getTime();
  const job = (id: string, at: number) =>
    parseJobDefinition({
      id,
      schedule: { kind: "at", at: new Date(at).toISOString() },
      target: { subject: world.targetSubject(id) },
    });
  await world.store.upsertMany([job("overdue", now - 3_000), job("ahead", now + 5_000)]);
  const replica = await world.startReplica();
  await waitFor(async () => (await world.readTarget()).length === 2, {
    what: "both jobs fired",
    timeoutMs: 30_000,
  });
  metrics = await fetch(`${replica.base}/metrics`).then((r) => r.text());
}, 60_000);
afterAll(() => world?.dispose());

describe("the firing lag split in the metrics", () => {
  it("counts the occurrence claimed after its due time apart from the one claimed ahead", () => {
    expect(bucket("claim_lead", "+Inf")).toBe(2);
    expect(bucket("claim_lead", "0")).toBe(1);
    // Claimed about 3 s after it was due: at least a second late.
    expect(bucket("claim_lead", "-1")).toBe(1);
  });

  it("counts when each publish started: the overdue one more than 2.5 s after its time", () => {
    expect(bucket("timer_lateness", "+Inf")).toBe(2);
    expect(bucket("timer_lateness", "2.5")).toBeLessThanOrEqual(1);
  });
});
