import { createTestNats, type TestNats, waitFor } from "@dbplane/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type Bus, type KvChange, KvConflictError } from "../src/index.ts";
import { openTestBus } from "./test-bus.ts";

const shardMap = z.object({ version: z.number().int(), shards: z.array(z.string()) });
type ShardMap = z.infer<typeof shardMap>;

describe("kv", () => {
  let t: TestNats;
  let bus: Bus;
  beforeEach(async () => {
    t = await createTestNats();
    bus = await openTestBus(t.url, t.namespace);
  });
  afterEach(async () => {
    await bus.close();
    await t.cleanup();
  });

  it("names the bucket after the namespace and round-trips JSON values", async () => {
    const kv = await bus.kv("shardmaps", { schema: shardMap });
    expect(kv.bucket).toBe(`${t.namespace}_dbplane_shardmaps`);
    const jsm = await jetstreamManager(t.nc);
    await expect(jsm.streams.info(`KV_${t.namespace}_dbplane_shardmaps`)).resolves.toBeDefined();

    expect(await kv.get("orders")).toBeUndefined();
    const revision = await kv.put("orders", { version: 1, shards: ["s0"] });
    expect(await kv.get("orders")).toEqual({
      key: "orders",
      value: { version: 1, shards: ["s0"] },
      revision,
      created: expect.any(Date),
    });
    expect(await kv.keys()).toEqual(["orders"]);
    expect(await kv.entry("orders")).toMatchObject({ value: { version: 1, shards: ["s0"] }, revision });
    await kv.delete("orders");
    expect(await kv.get("orders")).toBeUndefined();
    // The delete is an entry of its own: what a re-created key follows.
    expect(await kv.entry("orders")).toMatchObject({ value: undefined, revision: revision + 1 });
    expect(await kv.entry("never-written")).toBeUndefined();
    // @ts-expect-error — the schema guards writes too
    await expect(kv.put("orders", { version: "x" })).rejects.toThrow();
  });

  it("raises KvConflictError when a compare-and-set loses", async () => {
    const kv = await bus.kv<ShardMap>("shardmaps", { schema: shardMap });
    const first = await kv.create("orders", { version: 1, shards: ["s0"] });
    await expect(kv.create("orders", { version: 9, shards: [] })).rejects.toBeInstanceOf(KvConflictError);
    const second = await kv.update("orders", { version: 2, shards: ["s0", "s1"] }, first);
    const stale = kv.update("orders", { version: 3, shards: [] }, first);
    await expect(stale).rejects.toBeInstanceOf(KvConflictError);
    await expect(stale).rejects.toMatchObject({ key: "orders", bucket: kv.bucket, code: "KV_CONFLICT" });
    expect((await kv.get("orders"))?.revision).toBe(second);
    // Compare-and-delete: only at the current revision.
    await expect(kv.delete("orders", first)).rejects.toBeInstanceOf(KvConflictError);
    expect((await kv.get("orders"))?.value).toEqual({ version: 2, shards: ["s0", "s1"] });
    await kv.delete("orders", second);
    expect(await kv.get("orders")).toBeUndefined();
  });

  it("updateWith retries until its compare-and-set wins under contention", async () => {
    const kv = await bus.kv<{ n: number }>("counters");
    // 20 concurrent increments: every one must land exactly once.
    await Promise.all(
      Array.from({ length: 20 }, () => kv.updateWith("hits", (current) => ({ n: (current?.n ?? 0) + 1 }))),
    );
    expect((await kv.get("hits"))?.value).toEqual({ n: 20 });
    const unchanged = await kv.updateWith("hits", () => undefined);
    expect(unchanged?.value).toEqual({ n: 20 });
  });

  it("watch sees the current value and every later change", async () => {
    const kv = await bus.kv<{ v: number }>("watched");
    await kv.put("a.one", { v: 1 });
    await kv.put("b.one", { v: 100 });
    const seen: KvChange<{ v: number }>[] = [];
    const abort = new AbortController();
    const watching = (async () => {
      for await (const change of kv.watch("a.>", { signal: abort.signal })) seen.push(change);
    })();
    await waitFor(() => seen.length === 1);
    await kv.put("a.one", { v: 2 });
    await kv.put("a.two", { v: 3 });
    await kv.put("b.one", { v: 101 });
    await kv.delete("a.two");
    // At least, not exactly, and on a timeout still to the assertion: a duplicate, a stray or a
    // missing change must show as what was seen, not as a timeout that hides it.
    await waitFor(() => seen.length >= 4).catch(() => undefined);
    abort.abort();
    await watching;
    expect(seen.map((c) => [c.key, c.operation, c.value])).toEqual([
      ["a.one", "PUT", { v: 1 }],
      ["a.one", "PUT", { v: 2 }],
      ["a.two", "PUT", { v: 3 }],
      ["a.two", "DEL", undefined],
    ]);
  });
});
