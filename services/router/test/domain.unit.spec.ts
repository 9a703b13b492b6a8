import type { DatabaseReady } from "@dbplane/contracts";
import { KEYSPACE_END, KEYSPACE_MIN } from "@dbplane/sharding";
import { describe, expect, it } from "vitest";
import { hotShards, median, SustainedHeat } from "../src/domain/hot-shards.ts";
import { compareValues, mergeRows, missingOrderColumns } from "../src/domain/merge-rows.ts";
import { classifyPostgresError } from "../src/domain/postgres-errors.ts";
import {
  canonicalJson,
  initialShardMap,
  refreshedShardMap,
  shardMapDocument,
} from "../src/domain/shard-map.ts";

const endpoint = (shard: number, port = 5432) => ({
  shard,
  primary: { host: "127.0.0.1", port },
  replicas: [],
  dbname: `db_${shard}`,
  user: "postgres",
  passwordRef: { kind: "file" as const, path: "/tmp/pw" },
});
const ready = (shards: ReturnType<typeof endpoint>[], extra: Partial<DatabaseReady> = {}): DatabaseReady => ({
  name: "shop",
  version: 1,
  postgresVersion: 17,
  shards,
  shardedTables: [],
  ...extra,
});
const application = {
  user: "app",
  passwordRef: { kind: "file" as const, path: "/data/clusters/shop/app/password" },
  verifierRef: { kind: "file" as const, path: "/data/clusters/shop/app/verifier" },
};
const orders = { table: "orders", keyColumn: "customer_id", keyType: "bigint" as const };
const now = new Date("2026-01-01T00:00:00Z");

describe("shard map documents", () => {
  it("a restored database's first map has the ranges its database.ready carries", () => {
    const ranges = [
      { shard: 0, from: "-9223372036854775808", to: "-4611686018427387904" },
      { shard: 1, from: "-4611686018427387904", to: "9223372036854775808" },
    ];
    const doc = initialShardMap(ready([endpoint(0), endpoint(1)], { ranges }), now);
    expect(doc).toMatchObject({ version: 1, ranges });
    // Unchanged by a later database.ready (it carries them again).
    expect(refreshedShardMap(doc, ready([endpoint(0), endpoint(1)], { ranges }), now)).toBeUndefined();
  });
  it("version 1 has equal ranges over the shards in index order and validates", () => {
    const doc = initialShardMap(ready([endpoint(1), endpoint(0)]), now);
    expect(doc.version).toBe(1);
    expect(doc.ranges.map((r) => r.shard)).toEqual([0, 1]);
    expect(doc.ranges[0]!.from).toBe(KEYSPACE_MIN.toString());
    expect(doc.ranges[1]!.to).toBe(KEYSPACE_END.toString());
    expect(shardMapDocument.safeParse(doc).success).toBe(true);
  });

  it("a repeated database.ready changes nothing; new endpoints or shards make the next version", () => {
    const v1 = initialShardMap(ready([endpoint(0), endpoint(1)]), now);
    const reordered = JSON.parse(
      JSON.stringify(v1, [
        "shards",
        "shard",
        "user",
        "dbname",
        "replicas",
        "primary",
        "port",
        "host",
        "passwordRef",
        "path",
        "kind",
      ]),
    );
    expect(canonicalJson(reordered.shards)).toBe(canonicalJson(v1.shards));
    expect(refreshedShardMap(v1, ready([endpoint(0), endpoint(1)]), now)).toBeUndefined();
    const moved = refreshedShardMap(v1, ready([endpoint(0), endpoint(1, 6543)]), now);
    expect(moved?.version).toBe(2);
    expect(moved?.ranges).toEqual(v1.ranges);
    const grown = refreshedShardMap(v1, ready([endpoint(0), endpoint(1), endpoint(2)]), now);
    expect(grown?.shards.map((s) => s.shard)).toEqual([0, 1, 2]);
    expect(shardMapDocument.safeParse(grown).success).toBe(true);
  });

  it("version 1 carries the sharded tables and the application role; neither is required", () => {
    const doc = initialShardMap(ready([endpoint(0)], { shardedTables: [orders], application }), now);
    expect(doc.shardedTables).toEqual([orders]);
    expect(doc.application).toEqual(application);
    expect(shardMapDocument.parse(doc)).toEqual(doc);
    const bare = initialShardMap(ready([endpoint(0)]), now);
    expect(bare.shardedTables).toEqual([]);
    expect("application" in bare).toBe(false);
    // A document stored before these fields existed still reads, with no sharded tables.
    const { shardedTables: _, ...old } = bare;
    expect(shardMapDocument.parse(old).shardedTables).toEqual([]);
  });

  it("a new application role or changed sharded tables make the next version with the same ranges", () => {
    const v1 = initialShardMap(ready([endpoint(0), endpoint(1)]), now);
    const withRole = refreshedShardMap(v1, ready([endpoint(0), endpoint(1)], { application }), now);
    expect(withRole?.version).toBe(2);
    expect(withRole?.application).toEqual(application);
    expect(withRole?.ranges).toEqual(v1.ranges);
    expect(
      refreshedShardMap(withRole!, ready([endpoint(0), endpoint(1)], { application }), now),
    ).toBeUndefined();
    // An event without the role (an older provisioner's) does not take it away.
    expect(refreshedShardMap(withRole!, ready([endpoint(0), endpoint(1)]), now)).toBeUndefined();
    const tables = refreshedShardMap(
      withRole!,
      ready([endpoint(0), endpoint(1)], { application, shardedTables: [orders] }),
      now,
    );
    expect(tables?.version).toBe(3);
    expect(tables?.shardedTables).toEqual([orders]);
    expect(tables?.application).toEqual(application);
    const rotated = { ...application, passwordRef: { kind: "file" as const, path: "/elsewhere/password" } };
    const moved = refreshedShardMap(
      tables!,
      ready([endpoint(0), endpoint(1)], { application: rotated, shardedTables: [orders] }),
      now,
    );
    expect(moved?.version).toBe(4);
    expect(moved?.application).toEqual(rotated);
  });

  it("rejects a document whose ranges leave a gap or name an unlisted shard", () => {
    const doc = initialShardMap(ready([endpoint(0), endpoint(1)]), now);
    const gap = { ...doc, ranges: [doc.ranges[0]!, { ...doc.ranges[1]!, from: "1" }] };
    expect(shardMapDocument.safeParse(gap).error?.issues[0]?.message).toMatch(/gap/);
    const stranger = { ...doc, ranges: [doc.ranges[0]!, { ...doc.ranges[1]!, shard: 7 }] };
    expect(shardMapDocument.safeParse(stranger).error?.issues[0]?.message).toMatch(/shard 7 is not listed/);
  });
});

describe("scatter merge", () => {
  it("orders int8 and numeric strings by value, NULLs last ascending and first descending", () => {
    const shards = [
      [{ id: "10" }, { id: null }],
      [{ id: "9" }, { id: "-2" }],
      [{ id: "9223372036854775807" }],
    ];
    expect(mergeRows(shards, [{ column: "id", direction: "asc" }]).map((r) => r.id)).toEqual([
      "-2",
      "9",
      "10",
      "9223372036854775807",
      null,
    ]);
    expect(mergeRows(shards, [{ column: "id", direction: "desc" }], 3).map((r) => r.id)).toEqual([
      null,
      "9223372036854775807",
      "10",
    ]);
  });

  it("breaks ties with later terms and compares numbers, dates and text", () => {
    const rows = [
      [{ a: 1, b: "y" }],
      [
        { a: 1, b: "x" },
        { a: 0, b: "z" },
      ],
    ];
    const merged = mergeRows(rows, [
      { column: "a", direction: "desc" },
      { column: "b", direction: "asc" },
    ]);
    expect(merged).toEqual([
      { a: 1, b: "x" },
      { a: 1, b: "y" },
      { a: 0, b: "z" },
    ]);
    expect(compareValues(new Date(1), new Date(2))).toBeLessThan(0);
    expect(compareValues("1.5", "10")).toBeLessThan(0);
    expect(missingOrderColumns([{ a: 1 }], [{ column: "nope", direction: "asc" }])).toEqual(["nope"]);
  });
});

describe("hot shards", () => {
  it("finds shards above multiple × median and the absolute floor", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([1, 2, 3, 4])).toBe(2.5);
    const policy = { multiple: 3, minRate: 5 };
    expect(
      hotShards(
        [
          { shard: 0, rate: 100 },
          { shard: 1, rate: 10 },
          { shard: 2, rate: 12 },
        ],
        policy,
      ),
    ).toEqual([{ shard: 0, rate: 100, medianRate: 12, multiple: 100 / 12 }]);
    // Below the floor nothing is hot, however lopsided.
    expect(
      hotShards(
        [
          { shard: 0, rate: 4 },
          { shard: 1, rate: 0 },
          { shard: 2, rate: 0 },
        ],
        policy,
      ),
    ).toEqual([]);
    // Two shards: the median is their mean, so a multiple ≥ 2 can never be exceeded.
    expect(
      hotShards(
        [
          { shard: 0, rate: 1000 },
          { shard: 1, rate: 0 },
        ],
        policy,
      ),
    ).toEqual([]);
  });

  it("reports a shard only once it stayed hot for the sustain time; a cool check resets it", () => {
    const heat = new SustainedHeat();
    const all = ["db:0", "db:1"];
    expect(heat.observe(new Set(["db:0"]), all, 0, 1_000)).toEqual([]);
    expect(heat.observe(new Set(["db:0"]), all, 999, 1_000)).toEqual([]);
    expect(heat.observe(new Set(["db:0"]), all, 1_000, 1_000)).toEqual(["db:0"]);
    expect(heat.observe(new Set(), all, 1_100, 1_000)).toEqual([]);
    expect(heat.observe(new Set(["db:0"]), all, 1_200, 1_000)).toEqual([]);
  });
});

describe("PostgreSQL error classification", () => {
  it("blames the statement for syntax and constraint errors, keeping code and position", () => {
    expect(classifyPostgresError({ code: "42601", message: "syntax error", position: "8" })).toEqual({
      kind: "statement",
      message: "syntax error",
      sqlstate: "42601",
      position: 8,
    });
    expect(classifyPostgresError({ code: "23505", message: "dup" }).kind).toBe("statement");
  });

  it("blames the shard for socket errors, shutdowns, a missing database and auth failures", () => {
    for (const err of [
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
      new Error("timeout exceeded when trying to connect"),
      { code: "57P01", message: "terminating connection due to administrator command" },
      { code: "3D000", message: "database does not exist" },
      { code: "28P01", message: "password authentication failed" },
      { code: "53300", message: "too many connections" },
    ]) {
      expect(classifyPostgresError(err).kind).toBe("unavailable");
    }
    expect(
      classifyPostgresError({ code: "57014", message: "canceling statement due to statement timeout" }).kind,
    ).toBe("timeout");
  });
});
