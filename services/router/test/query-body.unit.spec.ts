import { describe, expect, it } from "vitest";
import { commonQueryBody } from "../src/http/query-body.ts";
import { queryBody } from "../src/http/router-schemas.ts";

const SQL = "SELECT id, note FROM items WHERE id = $1";

/** Bodies the shortcut takes: its answer must be zod's, value for value. */
const common: unknown[] = [
  { sql: SQL, params: [7], key: { type: "bigint", value: 7 } },
  { sql: SQL, params: ["7"], key: { type: "bigint", value: "7" } },
  { sql: SQL, params: [null, true, "x", -1.5], key: { type: "text", value: "ü".repeat(10_000) } },
  { sql: SQL, key: { type: "uuid", value: "0b6a6c7e-3d55-4b8e-9a49-1c6f0e0c9d11" }, readOnly: true },
  { sql: "SELECT 1" },
  { sql: "x".repeat(1_000_000), params: [], readOnly: false },
];

/** Bodies it must leave to zod: invalid ones (zod's 400) and valid ones beyond the common shape. */
const leftToZod: unknown[] = [
  null,
  [],
  "SELECT 1",
  {},
  { sql: "" },
  { sql: "x".repeat(1_000_001) },
  { sql: 1 },
  { sql: SQL, params: 7 },
  { sql: SQL, params: [{ a: 1 }] },
  { sql: SQL, params: [[1, 2]] },
  { sql: SQL, params: new Array(65_536).fill(1) },
  { sql: SQL, readOnly: "yes" },
  { sql: SQL, key: { type: "bigint" } },
  { sql: SQL, key: { type: "float", value: 1 } },
  { sql: SQL, key: { type: "text", value: "x".repeat(10_001) } },
  { sql: SQL, key: { type: "bigint", value: Number.POSITIVE_INFINITY } },
  { sql: SQL, key: { type: "bigint", value: 1, extra: 1 } },
  { sql: SQL, key: null },
  { sql: SQL, typo: 1 },
  { sql: SQL, allowWrites: true },
  { sql: SQL, orderBy: [{ column: "id" }], limit: 10 },
  { sql: SQL, params: [Number.NaN] },
];

describe("the query route's common body", () => {
  it.each(common.map((body, i) => [i, body]))("body %i parses as queryBody does", (_i, body) => {
    const zod = queryBody.safeParse(body);
    expect(zod.success).toBe(true);
    expect(commonQueryBody(body)).toStrictEqual(zod.data);
  });

  it.each(leftToZod.map((body, i) => [i, body]))("body %i is left to queryBody", (_i, body) => {
    expect(commonQueryBody(body)).toBeUndefined();
  });
});
