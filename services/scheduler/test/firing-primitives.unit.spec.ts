import { describe, expect, it } from "vitest";
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
});
