import { createLogger } from "@dbplane/service-kit";
import { describe, expect, it } from "vitest";
import { parseJobDefinition } from "../src/domain/job-validation.ts";
import { occurrenceMessageId } from "../src/domain/message-id.ts";
import { DbClock } from "../src/firing/db-clock.ts";
import { LeaseRenewal, RENEW_SLICE } from "../src/firing/lease-renewal.ts";
import { PendingOccurrences } from "../src/firing/pending-occurrences.ts";
import type { SchedulerStore } from "../src/store/scheduler-store.ts";

const LEASE_MS = 15_000;

describe("lease renewal of a burst's claims", () => {
  it("renews them in slices, soonest expiry first, and drops the timers of a claim a slice no longer holds", async () => {
    const clock = new DbClock();
    const pending = new PendingOccurrences(() => {});
    const total = 2 * RENEW_SLICE + 500;
    const now = clock.now();
    // Held in id order, expiring in reverse: the soonest is the last id.
    for (let i = 0; i < total; i++) {
      const id = `burst-${String(i).padStart(5, "0")}`;
      const definition = parseJobDefinition({
        id,
        schedule: { kind: "at", at: new Date(now + 60_000).toISOString() },
        target: { subject: "t" },
      });
      const scheduledAt = new Date(now + 60_000);
      pending.add(id, definition, {
        scheduledAt,
        fireBy: scheduledAt,
        messageId: occurrenceMessageId(id, scheduledAt),
        manual: false,
      });
      pending.holdUntil(id, now + 1_000 + (total - i));
    }
    const lost = "burst-01500";
    const calls: string[][] = [];
    const store = {
      renewClaims: async (_owner: string, _leaseMs: number, ids?: readonly string[]) => {
        calls.push([...(ids ?? [])]);
        return (ids ?? []).filter((id) => id !== lost);
      },
    } as unknown as SchedulerStore;
    const renewal = new LeaseRenewal({
      store,
      owner: "o",
      leaseMs: LEASE_MS,
      logger: createLogger({ name: "test", level: "silent" }),
      clock,
      pending,
    });
    renewal.start();
    await renewal.stop();

    expect(calls.map((c) => c.length)).toEqual([RENEW_SLICE, RENEW_SLICE, 500]);
    expect(new Set(calls.flat()).size).toBe(total);
    // Soonest expiry first: the last ids (held the shortest) go in the first slice.
    expect(calls[0]![0]).toBe(`burst-${String(total - 1).padStart(5, "0")}`);
    expect(pending.expiryOf(lost)).toBe(0);
    expect(pending.jobIds()).not.toContain(lost);
    expect(pending.expiryOf("burst-00000")).toBeGreaterThan(now + LEASE_MS - 1_000);
  });
});
