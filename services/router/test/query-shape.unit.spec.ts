// A simple query's shape: the bytes around its one key literal, so that the same statement for
// another key is routed from its bytes — and nothing that only looks like it is.
import type { StatementPlan } from "@dbplane/sqlroute";
import { serialize } from "pg-protocol";
import { describe, expect, it } from "vitest";
import { queryShape, shapedKey } from "../src/wire/query-shape.ts";

const owner = {};
const keyed = (value: string, keyType = "bigint"): StatementPlan =>
  ({ kind: "keyed", sql: "", keyType, keys: [{ kind: "const", value }], write: false }) as StatementPlan;
const shapeOf = (sql: string, key: string, keyType?: string) =>
  queryShape(serialize.query(sql), keyed(key, keyType), owner);

describe("queryShape and shapedKey", () => {
  const sql = (aid: string) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`;

  it("reads another key from a query that differs only in the key's digits, of any length", () => {
    const shape = shapeOf(sql("77"), "77")!;
    expect(shape).toMatchObject({ owner, keyType: "bigint", write: false });
    expect(shapedKey(serialize.query(sql("123456")), shape)).toBe("123456");
    expect(shapedKey(serialize.query(sql("5")), shape)).toBe("5");
  });

  it("is no match for other text, a sign, a decimal, a name, a longer number or no digits", () => {
    const shape = shapeOf(sql("77"), "77")!;
    for (const other of ["-5", "5.5", "5e3", "a5", "1234567890123456", "", "5 OR true"]) {
      expect(shapedKey(serialize.query(sql(other)), shape)).toBeUndefined();
    }
    expect(
      shapedKey(serialize.query("SELECT bbalance FROM pgbench_branches WHERE bid = 7;"), shape),
    ).toBeUndefined();
  });

  it("takes no shape where the literal is not plainly the key", () => {
    expect(shapeOf("SELECT * FROM t WHERE id = 5 LIMIT 5", "5")).toBeUndefined(); // twice
    expect(shapeOf("SELECT * FROM t WHERE id = -5", "-5")).toBeUndefined(); // a sign
    expect(shapeOf("SELECT * FROM t WHERE id = - 5", "5")).toBeUndefined();
    expect(shapeOf("SELECT * FROM t WHERE id = 5", "5", "text")).toBeUndefined(); // text key
    expect(shapeOf("SELECT * FROM t WHERE id = 1.5", "5")).toBeUndefined();
    expect(shapeOf("SELECT * FROM t WHERE id IN (5)", "5")).toBeDefined();
  });
});
