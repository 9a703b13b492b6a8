import { PassThrough } from "node:stream";
import { createLogger } from "@dbplane/service-kit";
import { Counter, Registry } from "prom-client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RunPruner } from "../src/jobs/run-pruner.ts";
import type { SchedulerStore } from "../src/store/scheduler-store.ts";
import { fileStoreFixture, type StoreFixture } from "./store-fixture.ts";

let f: StoreFixture;
fileStoreFixture((fixture) => {
  f = fixture;
});

const logger = createLogger({ name: "test", destination: new PassThrough() });

/** The fixture's store, counting the pruner's first step (the age pass). */
function countingStore(store: SchedulerStore): { store: SchedulerStore; ageRounds: () => number } {
  let n = 0;
  const counted: SchedulerStore = {
    ...store,
    pruneRuns: (before, batch) => {
      n++;
      return store.pruneRuns(before, batch);
    },
  };
  return { store: counted, ageRounds: () => n };
}

describe("RunPruner", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("starts at the random offset within its period, not at once: replicas started together do not prune together", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { store, ageRounds } = countingStore(f.store);
    const everyMs = 60_000;
    const pruner = new RunPruner({
      store,
      retention: { count: null, ageMs: 86_400_000 },
      everyMs,
      random: () => 0.5,
      pruned: new Counter({
        name: "pruned",
        help: "pruned",
        labelNames: ["reason"],
        registers: [new Registry()],
      }),
      logger,
    });
    pruner.start();
    expect(ageRounds()).toBe(0);
    await vi.advanceTimersByTimeAsync(everyMs / 2 - 1);
    expect(ageRounds()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(ageRounds()).toBe(1);
    vi.useRealTimers();
    await pruner.stop();
  });
});
