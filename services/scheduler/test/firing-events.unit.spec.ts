import type { Bus } from "@dbplane/bus";
import { createLogger } from "@dbplane/service-kit";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EVENT_HOLD_MAX_MS, FiringEvents } from "../src/firing/firing-events.ts";

afterEach(() => {
  vi.useRealTimers();
});

function eventsWithFakeBus() {
  const published: string[] = [];
  const bus = {
    publish: async (_def: unknown, data: { jobId: string }) => {
      published.push(data.jobId);
      return { stream: "EVT", seq: published.length, duplicate: false, id: data.jobId };
    },
  } as unknown as Bus;
  return { events: new FiringEvents(bus, createLogger({ name: "test", level: "silent" })), published };
}

const fired = (jobId: string) => ({ jobId, scheduledAt: new Date(0), firedAt: new Date(5) });

describe("FiringEvents", () => {
  it("holds job.fired while the firing path is busy, then publishes them all", async () => {
    vi.useFakeTimers();
    const { events, published } = eventsWithFakeBus();
    let busy = true;
    events.holdWhile(() => busy);
    events.fired(fired("a"));
    events.fired(fired("b"));
    await vi.advanceTimersByTimeAsync(EVENT_HOLD_MAX_MS / 2);
    expect(published).toEqual([]);
    busy = false;
    await vi.advanceTimersByTimeAsync(100);
    await events.idle();
    expect(published).toEqual(["a", "b"]);
  });

  it("holds them no longer than EVENT_HOLD_MAX_MS however busy", async () => {
    vi.useFakeTimers();
    const { events, published } = eventsWithFakeBus();
    events.holdWhile(() => true);
    events.fired(fired("late"));
    await vi.advanceTimersByTimeAsync(EVENT_HOLD_MAX_MS - 100);
    expect(published).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    await events.idle();
    expect(published).toEqual(["late"]);
  });

  it("publishes at once when not busy", async () => {
    const { events, published } = eventsWithFakeBus();
    events.fired(fired("now"));
    await new Promise((resolve) => setImmediate(resolve));
    await events.idle();
    expect(published).toEqual(["now"]);
  });
});
