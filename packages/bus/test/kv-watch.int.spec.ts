import {
  createTestNats,
  type PrivateNatsServer,
  startPrivateNatsServer,
  type TestNats,
  waitFor,
} from "@dbplane/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterEach, describe, expect, it } from "vitest";
import type { Bus, BusKv, KvChange } from "../src/index.ts";
import { openTestBus } from "./test-bus.ts";

type Value = { v: number };

/** Follows `kv.watch` into an array until `abort`. */
function follow(kv: BusKv<Value>, filter: string, options: { stallAfterMs?: number } = {}) {
  const seen: KvChange<Value>[] = [];
  const abort = new AbortController();
  const watch = kv.watch(filter, { signal: abort.signal, ...options });
  const done = (async () => {
    for await (const change of watch) seen.push(change);
  })();
  return {
    seen,
    watch,
    values: () => seen.map((c) => [c.key, c.operation, c.value?.v]),
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}

/** Deletes every consumer of the bucket's stream: what a watcher's server-side consumer loss looks like. */
async function deleteWatchConsumers(bus: Bus, kv: BusKv<Value>): Promise<number> {
  const jsm = await jetstreamManager(bus.nc);
  const stream = `KV_${kv.bucket}`;
  const names: string[] = [];
  for await (const info of jsm.consumers.list(stream)) names.push(info.name);
  await Promise.all(names.map((name) => jsm.consumers.delete(stream, name)));
  return names.length;
}

describe("kv watch under failure", () => {
  let t: TestNats | undefined;
  let bus: Bus | undefined;
  let server: PrivateNatsServer | undefined;
  afterEach(async () => {
    await bus?.close();
    await t?.cleanup();
    await server?.dispose();
    t = bus = server = undefined;
  });

  it("resumes after its server-side consumer is lost, from the last revision it delivered", async () => {
    t = await createTestNats();
    bus = await openTestBus(t.url, t.namespace);
    const kv = await bus.kv<Value>("watched");
    await kv.put("a.one", { v: 1 });
    const w = follow(kv, "a.>", { stallAfterMs: 500 });
    await waitFor(() => w.seen.length === 1);
    expect(await deleteWatchConsumers(bus, kv)).toBe(1);
    await kv.put("a.one", { v: 2 });
    await kv.put("a.two", { v: 3 });
    // nats.js's ordered consumer notices a lost consumer only after two missed idle heartbeats
    // (60 s); the bus's watch sees the bucket ahead of what it delivered and resumes.
    await waitFor(() => w.seen.length >= 3, { timeoutMs: 15_000 }).catch(() => undefined);
    expect(w.values()).toEqual([
      ["a.one", "PUT", 1],
      ["a.one", "PUT", 2],
      ["a.two", "PUT", 3],
    ]);
    expect(w.watch.restarts).toBeGreaterThanOrEqual(1);
    expect(w.watch.delivered).toBe(await w.watch.latest());
    await w.stop();
  });

  it("sees every change made while the server was down and after it came back", async () => {
    server = await startPrivateNatsServer();
    bus = await openTestBus(server.url, "w");
    const kv = await bus.kv<Value>("watched");
    await kv.put("k", { v: 1 });
    const w = follow(kv, ">", { stallAfterMs: 500 });
    await waitFor(() => w.seen.length === 1);
    await server.stop({ hard: true });
    await server.start();
    await waitFor(() => bus?.status().connected === true, { timeoutMs: 15_000 });
    // Writes right after the restart, before or while the watch finds its consumer again.
    for (let v = 2; v <= 5; v++) await kv.put("k", { v });
    await waitFor(() => w.seen.at(-1)?.value?.v === 5, { timeoutMs: 15_000 }).catch(() => undefined);
    // History 1: a resumed watch may skip values that were overwritten meanwhile, never the last,
    // never out of order, never twice.
    const versions = w.seen.map((c) => c.value?.v ?? 0);
    expect(versions.at(-1)).toBe(5);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(w.seen.map((c) => c.revision)).size).toBe(w.seen.length);
    await w.stop();
  });

  it("reports how far it is behind the bucket", async () => {
    t = await createTestNats();
    bus = await openTestBus(t.url, t.namespace);
    const kv = await bus.kv<Value>("watched");
    const w = follow(kv, "a.>");
    expect(await w.watch.latest()).toBe(0);
    await kv.put("b.other", { v: 9 });
    const rev = await kv.put("a.one", { v: 1 });
    await kv.put("b.other", { v: 10 });
    await waitFor(() => w.seen.length === 1);
    // The bucket's latest revision among the keys the watch follows, not the bucket's last.
    expect(await w.watch.latest()).toBe(rev);
    expect(w.watch.delivered).toBe(rev);
    expect(w.watch.behindMs()).toBe(0);
    await w.stop();
  });
});
