import { describe, expect, it } from "vitest";
import { ConcurrencyLimit } from "../src/index.ts";

describe("ConcurrencyLimit", () => {
  it("runs at most `limit` tasks at once, the rest in arrival order, and reports idle", async () => {
    const limit = new ConcurrencyLimit(3);
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
    const limit = new ConcurrencyLimit(1);
    const failing = limit.run(() => Promise.reject(new Error("boom")));
    const next = limit.run(() => Promise.resolve("ok"));
    await expect(failing).rejects.toThrow("boom");
    expect(await next).toBe("ok");
  });

  it("lets acquire() callers wait for a slot and answers false to them all on close", async () => {
    const limit = new ConcurrencyLimit(1);
    expect(await limit.acquire()).toBe(true);
    const waiting = [limit.acquire(), limit.acquire()];
    expect(limit.waiting).toBe(2);
    limit.close();
    expect(await Promise.all(waiting)).toEqual([false, false]);
    await expect(limit.run(() => Promise.resolve(1))).rejects.toThrow("closed");
    limit.release();
    await limit.idle();
    expect(limit.active).toBe(0);
  });
});
