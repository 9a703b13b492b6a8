import { describe, expect, it, vi } from "vitest";
import { DueTimers } from "../src/firing/due-timers.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("DueTimers", () => {
  it("hands over everything due in the same millisecond in one callback, never early", async () => {
    const calls: { at: number; items: string[] }[] = [];
    const timers = new DueTimers<string>((items) => calls.push({ at: Date.now(), items }));
    const due = Date.now() + 30;
    for (const item of ["a", "b", "c"]) timers.add(due, item);
    timers.add(due + 20, "d");
    expect(timers.buckets).toBe(2);
    await sleep(80);
    expect(calls.map((c) => c.items)).toEqual([["a", "b", "c"], ["d"]]);
    expect(calls[0]!.at).toBeGreaterThanOrEqual(due);
    expect(timers.buckets).toBe(0);
  });

  it("cancels one item, and the bucket's timer with its last item", async () => {
    const fired: string[] = [];
    const timers = new DueTimers<string>((items) => fired.push(...items));
    const due = Date.now() + 20;
    const k1 = timers.add(due, "kept");
    timers.add(due, "dropped");
    timers.cancel(k1, "dropped");
    const k2 = timers.add(due + 5, "alone");
    timers.cancel(k2, "alone");
    timers.cancel(k2, "alone"); // twice: a no-op
    expect(timers.buckets).toBe(1);
    await sleep(60);
    expect(fired).toEqual(["kept"]);
  });

  it("hands a burst over in slices, yielding the event loop between them", async () => {
    const handed: number[] = [];
    const turns: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const timers = new DueTimers<number>(
      (items) => {
        if (handed.length === 0) {
          // Work that arrives while the burst is being handed over (an ack, a request, the
          // claim round) must run before the burst's end, not after it.
          setImmediate(() => turns.push(`other work after ${handed.length}`));
        }
        turns.push(`chunk of ${items.length}`);
        handed.push(...items);
        if (handed.length === 1_000) done();
      },
      { sliceItems: 300, sliceMs: Number.POSITIVE_INFINITY, chunkItems: 100 },
    );
    const due = Date.now() + 10;
    for (let i = 0; i < 1_000; i++) timers.add(due, i);
    await finished;
    expect(handed).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    expect(turns).toEqual([
      "chunk of 100",
      "chunk of 100",
      "chunk of 100",
      "other work after 300",
      ...Array.from({ length: 7 }, () => "chunk of 100"),
    ]);
    expect(timers.buckets).toBe(0);
  });

  it("never hands over an item cancelled while it waited for a later slice", async () => {
    const handed: string[] = [];
    let key = 0;
    const timers = new DueTimers<string>(
      (items) => {
        if (handed.length === 0) timers.cancel(key, "cancelled");
        handed.push(...items);
      },
      { sliceItems: 10, sliceMs: Number.POSITIVE_INFINITY, chunkItems: 10 },
    );
    const due = Date.now() + 10;
    const burst = Array.from({ length: 100 }, (_, i) => `b${i}`);
    for (const item of burst) timers.add(due, item);
    key = timers.add(due, "cancelled");
    await vi.waitFor(() => expect(handed).toHaveLength(100));
    await new Promise((resolve) => setImmediate(resolve));
    expect(handed).toEqual(burst);
    expect(timers.buckets).toBe(0);
  });
});
