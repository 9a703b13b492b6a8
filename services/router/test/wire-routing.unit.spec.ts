// The wire endpoint's pure parts: where a planned statement goes, and how the shards' answers
// become the client's one answer.
import { backendMessage, MessageFramer, type WireMessage } from "@dbplane/pgwire";
import { equalRanges, hashShardKey, RangeLookup } from "@dbplane/sharding";
import { loadParser, StatementPlanner } from "@dbplane/sqlroute";
import { beforeAll, describe, expect, it } from "vitest";
import type { LiveMap } from "../src/shards/live-map.ts";
import { combineAnswers, commandTag } from "../src/wire/shard-results.ts";
import { startupSetStatements } from "../src/wire/startup-settings.ts";
import { Refusal, type RoutingState, routeStatement } from "../src/wire/statement-route.ts";

const lookup = new RangeLookup(equalRanges(2, [0, 1]));
// Only what routing reads of a map: its lookup and its shard indexes. Shard 2 owns no range yet
// (a reshard's target filling by replication): statements for every shard must not reach it.
const map = {
  database: "shop",
  version: 1,
  lookup,
  shards: new Map([
    [0, {}],
    [1, {}],
    [2, {}],
  ]),
  serving: [0, 1],
} as unknown as LiveMap;
const shardOf = (key: number) => lookup.shardFor(hashShardKey("bigint", String(key)));
const session: RoutingState = { shardKey: undefined, allowScatterWrites: false, pinned: undefined };
let planner: StatementPlanner;

beforeAll(async () => {
  await loadParser();
  planner = new StatementPlanner([{ table: "items", keyColumn: "id", keyType: "bigint" }]);
});

/** Two keys owned by different shards. */
function keysOnBothShards(): [number, number] {
  const first = 1;
  let other = 2;
  while (shardOf(other) === shardOf(first)) other++;
  return [first, other];
}

const route = (sql: string, state = session) => routeStatement(map, planner.planStatement(sql), state);

describe("routeStatement", () => {
  it("sends a keyed statement to the shard owning its key, a bind parameter's too", () => {
    expect(route("SELECT * FROM items WHERE id = 42")).toEqual({ kind: "one", shard: shardOf(42) });
    const plan = planner.planStatement("UPDATE items SET note = 'x' WHERE id = $1");
    expect(routeStatement(map, plan, session, { values: [Buffer.from("77")], formats: [] })).toEqual({
      kind: "one",
      shard: shardOf(77),
    });
    const binary = Buffer.alloc(8);
    binary.writeBigInt64BE(77n);
    expect(routeStatement(map, plan, session, { values: [binary], formats: [1] })).toEqual({
      kind: "one",
      shard: shardOf(77),
    });
  });

  it("reads keys of two shards from both and merges; writes them on both and adds the counts", () => {
    const [a, b] = keysOnBothShards();
    expect(route(`SELECT * FROM items WHERE id IN (${a}, ${b})`)).toMatchObject({
      kind: "many",
      shards: [0, 1],
      combine: { kind: "merge" },
    });
    expect(route(`DELETE FROM items WHERE id IN (${a}, ${b})`)).toMatchObject({
      kind: "many",
      shards: [0, 1],
      combine: { kind: "sum" },
    });
  });

  it("refuses a keyless write to a sharded table (0A000) unless scatter writes are allowed", () => {
    expect(() => route("UPDATE items SET note = 'x'")).toThrow(Refusal);
    try {
      route("UPDATE items SET note = 'x'");
    } catch (error) {
      expect((error as Refusal).fields.code).toBe("0A000");
    }
    expect(route("UPDATE items SET note = 'x'", { ...session, allowScatterWrites: true })).toMatchObject({
      kind: "many",
      shards: [0, 1],
      combine: { kind: "sum" },
    });
  });

  it("runs DDL on every shard, a read of no sharded table on one, the pinned one in a transaction", () => {
    expect(route("CREATE TABLE t (a int)")).toMatchObject({
      kind: "many",
      shards: [0, 1],
      combine: { kind: "first" },
    });
    expect(route("SELECT 1")).toEqual({ kind: "one", shard: 0 });
    expect(route("SELECT 1", { ...session, pinned: 1 })).toEqual({ kind: "one", shard: 1 });
  });

  it("sends keyless statements to the shard of SET dbplane.shard_key", () => {
    expect(route("SELECT count(*) FROM items", { ...session, shardKey: "42" })).toEqual({
      kind: "one",
      shard: shardOf(42),
    });
  });
});

/** Messages as a shard would send them. */
function answer(...messages: Buffer[]): WireMessage[] {
  const framed: WireMessage[] = [];
  new MessageFramer().push(Buffer.concat(messages), (m) =>
    framed.push({ type: m.type, bytes: Buffer.from(m.bytes) }),
  );
  return framed;
}

describe("combineAnswers", () => {
  it("adds the counts of a write's parts into one CommandComplete", () => {
    const combined = combineAnswers(
      [
        answer(backendMessage.commandComplete("INSERT 0 3")),
        answer(backendMessage.commandComplete("INSERT 0 2")),
      ],
      { kind: "sum" },
    );
    expect(combined.failed).toBe(false);
    expect(combined.body.map((bytes) => commandTag({ type: bytes[0]!, bytes }))).toEqual(["INSERT 0 5"]);
  });

  it("answers with a shard's error when any shard failed", () => {
    const error = backendMessage.errorResponse({
      severity: "ERROR",
      code: "23505",
      message: "duplicate key",
    });
    const combined = combineAnswers([answer(backendMessage.commandComplete("INSERT 0 1")), answer(error)], {
      kind: "sum",
    });
    expect(combined.failed).toBe(true);
    expect(combined.body).toEqual([error]);
  });

  it("joins COPY TO STDOUT of every shard: one CopyOutResponse, all the data, one CopyDone, the total", () => {
    const start = backendMessage.copyOutResponse({ format: 0, columnFormats: [0] });
    const shard = (...rows: string[]) =>
      answer(
        start,
        ...rows.map((row) => backendMessage.copyData(Buffer.from(`${row}\n`))),
        backendMessage.copyDone(),
        backendMessage.commandComplete(`COPY ${rows.length}`),
      );
    const combined = combineAnswers([shard("1", "2"), shard("3")], { kind: "sum" });
    expect(combined.body).toEqual([
      start,
      backendMessage.copyData(Buffer.from("1\n")),
      backendMessage.copyData(Buffer.from("2\n")),
      backendMessage.copyData(Buffer.from("3\n")),
      backendMessage.copyDone(),
      backendMessage.commandComplete("COPY 3"),
    ]);
  });
});

describe("startupSetStatements", () => {
  it("turns startup settings and options' -c/-- assignments into SETs, escapes kept, odd names dropped", () => {
    const statements = startupSetStatements({
      user: "app",
      TimeZone: "Europe/Paris",
      options: "-c statement_timeout=5s --lock-timeout=2s -csearch_path=a\\,\\ b -c bad;name=1",
    });
    expect(Object.fromEntries(statements)).toEqual({
      timezone: "SET TimeZone = 'Europe/Paris'",
      statement_timeout: "SET statement_timeout = '5s'",
      lock_timeout: "SET lock_timeout = '2s'",
      search_path: "SET search_path = 'a, b'",
    });
  });
});
