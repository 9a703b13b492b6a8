import { type Bus, type BusKv, connectBus, KvConflictError } from "@dbplane/bus";
import { createLogger } from "@dbplane/service-kit";
import { createTestNats, type TestNats } from "@dbplane/testkit";
import { afterEach, describe, expect, it } from "vitest";
import type { DatabaseRecord, Inventory } from "../src/domain/inventory-types.ts";
import { createFactPublisher } from "../src/facts/fact-publisher.ts";
import { type FactRecord, factKey, factRecord } from "../src/facts/fact-record.ts";
import { shopDatabase } from "./records.ts";

const logger = createLogger({ name: "discovery-test", level: "silent" });
const db: DatabaseRecord = shopDatabase();
const withDb: Inventory = { databases: [db], apps: [] };
const empty: Inventory = { databases: [], apps: [] };

let nats: TestNats | undefined;
let bus: Bus | undefined;
afterEach(async () => {
  await bus?.close();
  await nats?.cleanup();
  bus = undefined;
  nats = undefined;
});

async function world() {
  nats = await createTestNats();
  bus = await connectBus({ servers: nats.url, name: "prune-test", logger, namespace: nats.namespace });
  await bus.ensureTopology();
  const kv: BusKv<FactRecord> = await bus.kv<FactRecord>("discovery_facts", { schema: factRecord });
  const seen: string[] = [];
  const replica = () =>
    createFactPublisher({
      bus: bus!,
      kv,
      scope: "kubernetes",
      logger,
      onPublished: (kind, type) => seen.push(`${kind}.${type}`),
    });
  return { kv, seen, replica, key: factKey("kubernetes", "database", "db1") };
}

describe("lost facts past their retention", () => {
  it("leave the bucket and every replica's memory; a fact seen again is discovered anew", async () => {
    const { kv, seen, replica, key } = await world();
    const a = replica();
    const b = replica();
    await a.load();
    await a.reconcile(withDb, 1);
    await b.load();
    await a.reconcile(empty, 2);
    expect(seen).toEqual(["database.discovered", "database.lost"]);
    expect((await kv.get(key))?.value.state).toBe("lost");

    // Within the retention nothing goes; a present fact is never pruned.
    expect(await a.prune(60_000)).toBe(0);
    expect(await kv.keys()).toEqual([key]);

    expect(await a.prune(0)).toBe(1);
    expect(await kv.get(key)).toBeUndefined();
    expect(await kv.keys()).toEqual([]);
    // The other replica finds it gone and forgets it too; nothing is published for it.
    expect(await b.prune(0)).toBe(0);
    await b.reconcile(empty, 3);
    expect(seen).toEqual(["database.discovered", "database.lost"]);

    await b.reconcile(withDb, 4);
    expect(seen).toEqual(["database.discovered", "database.lost", "database.discovered"]);
    expect((await kv.get(key))?.value.state).toBe("present");
    expect(await a.prune(0)).toBe(0);
  });

  it("a fact that came back between the read and the delete is kept (compare-and-delete)", async () => {
    const { kv, replica, key } = await world();
    const a = replica();
    await a.load();
    await a.reconcile(withDb, 1);
    await a.reconcile(empty, 2);
    const lost = (await kv.get(key))!;
    // Another replica sees it again first: the delete at the old revision must fail.
    await replica().reconcile(withDb, 3);
    await expect(kv.delete(key, lost.revision)).rejects.toBeInstanceOf(KvConflictError);
    expect((await kv.get(key))?.value.state).toBe("present");
    expect(await a.prune(0)).toBe(0);
    expect((await kv.get(key))?.value.state).toBe("present");
  });
});
