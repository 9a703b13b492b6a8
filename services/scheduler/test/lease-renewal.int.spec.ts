import { createLogger } from "@dbplane/service-kit";
import { describe, expect, it } from "vitest";
import { DbClock } from "../src/firing/db-clock.ts";
import { LeaseRenewal } from "../src/firing/lease-renewal.ts";
import { PendingOccurrences } from "../src/firing/pending-occurrences.ts";
import { fileStoreFixture, job, type StoreFixture } from "./store-fixture.ts";

let f: StoreFixture;
fileStoreFixture((fixture) => {
  f = fixture;
});

const LEASE_MS = 3_000;

/** Claims `id` (due now) for `owner` and holds its occurrence, as the firing loop does. */
async function hold(owner: string, id: string, pending: PendingOccurrences, clock: DbClock) {
  const at = new Date((await f.dbNow()).getTime() + 500).toISOString();
  await f.store.upsert(job({ id, schedule: { kind: "at", at } }));
  const sentAt = Date.now();
  const claim = await f.store.claimDue(owner, { horizonMs: 2_000, leaseMs: LEASE_MS, limit: 10 });
  clock.observe(claim.dbNow, sentAt);
  const claimed = claim.jobs.find((j) => j.id === id)!;
  pending.add(id, claimed.definition, claimed.next!);
  return claimed.claimExpiresAt.getTime();
}

describe("lease renewal", () => {
  it("renews a claim that would run out before the next round could renew it, though not yet past half its lease", async () => {
    const owner = "renewing";
    const clock = new DbClock();
    const pending = new PendingOccurrences(() => {});
    const expiry = await hold(owner, "renew-soon", pending, clock);
    // Two-thirds of the lease left: more than half, less than two rounds (a third each) away.
    const held = clock.now() + (2 * LEASE_MS) / 3;
    pending.holdUntil("renew-soon", held);
    const renewal = new LeaseRenewal({
      store: f.store,
      owner,
      leaseMs: LEASE_MS,
      logger: createLogger({ name: "test", level: "silent" }),
      clock,
      pending,
    });
    renewal.start();
    await renewal.stop();
    const stored = await f.store.get("renew-soon");
    expect(stored!.claimExpiresAt!.getTime()).toBeGreaterThan(expiry);
    expect(pending.expiryOf("renew-soon")).toBeGreaterThan(held);
  });
});
