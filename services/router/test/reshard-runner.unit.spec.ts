import { createLogger } from "@dbplane/service-kit";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RESHARD_TIMINGS, type ReshardMachineDeps } from "../src/reshard/reshard-machine.ts";
import { ReshardRunner, type RunnableReshard } from "../src/reshard/reshard-runner.ts";
import type { Reshard, ReshardPatch, ReshardStore } from "../src/reshard/reshard-store.ts";

const logger = createLogger({ name: "reshard-runner-test", level: "silent" });

const reshard = (): Reshard => ({
  id: "r1",
  database: "shop",
  kind: "split",
  sourceShard: 0,
  targetShard: null,
  targetServes: false,
  toShard: null,
  addedShard: null,
  splitAt: null,
  rangeFrom: null,
  rangeTo: null,
  phase: "copying",
  state: "running",
  cancelRequested: false,
  trigger: { by: "api" },
  rowsCopied: 0,
  rowsTotal: 0,
  lagBytes: null,
  writePauseMs: null,
  verification: null,
  mapVersion: null,
  attempts: 0,
  error: null,
  owner: null,
  createdAt: new Date(),
  updatedAt: new Date(),
  finishedAt: null,
});

/** One reshard row; a claim takes it while it runs (the lease is not modelled: every look claims it). */
function fakeStore() {
  let row = reshard();
  const patches: ReshardPatch[] = [];
  const store = {
    claim: async () => (row.state === "running" ? row : undefined),
    renew: async () => row,
    release: async () => {},
    update: async (_id: string, _owner: string, patch: ReshardPatch) => {
      patches.push(patch);
      row = { ...row, ...patch } as Reshard;
      return row;
    },
  };
  return { store: store as unknown as ReshardStore, patches, row: () => row };
}

let runner: ReshardRunner | undefined;
afterEach(async () => {
  await runner?.stop();
  runner = undefined;
});

describe("reshard runner", () => {
  it("counts an error that escapes the machine as an attempt, and gives up after maxAttempts", async () => {
    const { store, patches, row } = fakeStore();
    const maxAttempts = 4;
    const gaveUp: string[] = [];
    let runs = 0;
    runner = new ReshardRunner({
      deps: {
        owner: "me",
        store,
        timings: { ...RESHARD_TIMINGS, maxAttempts },
      } as unknown as ReshardMachineDeps,
      leaseMs: 300,
      claimEveryMs: 1,
      logger,
      machine: (_deps, claimed): RunnableReshard => ({
        reshard: claimed,
        run: async () => {
          runs++;
          throw new Error("rollback blew up");
        },
        giveUp: async (message) => {
          gaveUp.push(message);
          await store.update(claimed.id, "me", { state: "failed", error: message });
        },
      }),
    });
    runner.start();
    await vi.waitFor(() => expect(row().state).toBe("failed"), { timeout: 5_000 });

    expect(runs).toBe(maxAttempts);
    expect(patches.slice(0, maxAttempts - 1)).toEqual(
      [1, 2, 3].map((attempts) => ({ attempts, error: "rollback blew up" })),
    );
    expect(gaveUp).toEqual(["stopped with an error 4 times in phase copying: rollback blew up"]);
    // Ended: nobody claims it again.
    await new Promise((r) => setTimeout(r, 50));
    expect(runs).toBe(maxAttempts);
  });

  it("does not count a machine stopped because its runner is stopping", async () => {
    const { store, patches } = fakeStore();
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    runner = new ReshardRunner({
      deps: { owner: "me", store, timings: RESHARD_TIMINGS } as unknown as ReshardMachineDeps,
      leaseMs: 300,
      claimEveryMs: 1,
      logger,
      machine: (_deps, claimed, signal): RunnableReshard => ({
        reshard: claimed,
        run: () =>
          new Promise<void>((_resolve, reject) => {
            started();
            signal.addEventListener("abort", () => reject(new Error("stopped")), { once: true });
          }),
        giveUp: async () => {},
      }),
    });
    runner.start();
    await running;
    await runner.stop();
    runner = undefined;
    expect(patches).toEqual([]);
  });
});
