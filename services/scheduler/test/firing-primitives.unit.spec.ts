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

  it("hands over every millisecond that came due while the event loop was busy in one callback, in order", async () => {
    const calls: string[][] = [];
    const timers = new DueTimers<string>((items) => calls.push(items));
    const start = Date.now();
    timers.add(start + 12, "c");
    timers.add(start + 5, "a");
    timers.add(start + 9, "b");
    timers.add(start + 60_000, "later");
    while (Date.now() < start + 20) {
      // the event loop held past all three
    }
    await sleep(10);
    expect(calls).toEqual([["a", "b", "c"]]);
    expect(timers.buckets).toBe(1);
    timers.cancel(start + 60_000, "later");
    expect(timers.buckets).toBe(0);
  });

  it("never hands over before the due millisecond, a key cancelled and added again once", async () => {
    const calls: { at: number; items: string[] }[] = [];
    const timers = new DueTimers<string>((items) => calls.push({ at: Date.now(), items }));
    const due = Date.now() + 15;
    const key = timers.add(due, "x");
    timers.cancel(key, "x");
    timers.add(due, "y");
    timers.add(due + 10, "z");
    await sleep(60);
    expect(calls.map((c) => c.items)).toEqual([["y"], ["z"]]);
    expect(calls[0]!.at).toBeGreaterThanOrEqual(due);
    expect(calls[1]!.at).toBeGreaterThanOrEqual(due + 10);
  });

  it("fireDue hands over what came due inside a long task of the caller's, at once, and nothing twice", async () => {
    const calls: string[][] = [];
    const timers = new DueTimers<string>((items) => calls.push(items));
    const start = Date.now();
    timers.add(start + 5, "a");
    timers.add(start + 8, "b");
    const later = timers.add(start + 60_000, "later");
    expect(timers.fireDue()).toBe(false);
    while (Date.now() < start + 10) {
      // a long task
    }
    expect(timers.fireDue()).toBe(true);
    expect(calls).toEqual([["a", "b"]]);
    expect(timers.fireDue()).toBe(false);
    await sleep(20);
    expect(calls).toEqual([["a", "b"]]);
    expect(timers.buckets).toBe(1);
    timers.cancel(later, "later");
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
