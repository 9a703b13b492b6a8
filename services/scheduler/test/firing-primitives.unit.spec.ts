import { describe, expect, it } from "vitest";
import { DueTimers } from "../src/firing/due-timers.ts";
import { WorkLimit } from "../src/firing/work-limit.ts";

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

describe("WorkLimit", () => {
  it("runs at most `limit` tasks at once, the rest in arrival order, and reports idle", async () => {
    const limit = new WorkLimit(3);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const tasks = Array.from({ length: 10_000 }, (_, i) =>
      limit.run(async () => {
        running++;
        most = Math.max(most, running);
        order.push(i);
        await Promise.resolve();
        running--;
        return i;
      }),
    );
    expect(limit.size).toBe(10_000);
    expect(await Promise.all(tasks)).toEqual(order);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(most).toBe(3);
    await limit.idle();
    expect(limit.size).toBe(0);
  });

  it("passes a task's failure to its caller and keeps going", async () => {
    const limit = new WorkLimit(1);
    const failing = limit.run(() => Promise.reject(new Error("boom")));
    const next = limit.run(() => Promise.resolve("ok"));
    await expect(failing).rejects.toThrow("boom");
    expect(await next).toBe("ok");
  });
});
