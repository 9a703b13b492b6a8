import { KEYSPACE_END, KEYSPACE_MIN } from "@dbplane/sharding";
import { describe, expect, it } from "vitest";
import { quotedTable, rangeFilter, rangeWhere } from "../src/range-sql.ts";

const accounts = { table: "accounts", key: { column: "id", type: "bigint" } } as const;

describe("range SQL", () => {
  it("quotes a table name and its schema separately", () => {
    expect(quotedTable("accounts")).toBe('"accounts"');
    expect(quotedTable("billing.Accounts")).toBe('"billing"."Accounts"');
  });

  it("bounds the hash by quoted bigint literals, -2^63 included", () => {
    expect(rangeFilter(accounts, KEYSPACE_MIN + 1n, 0n)).toBe(
      `hashint8extended("id", 0) >= '-9223372036854775807'::bigint AND hashint8extended("id", 0) < '0'::bigint`,
    );
  });

  it("leaves out a bound at an end of the keyspace: 2^63 fits no bigint, and no hash is below -2^63", () => {
    expect(rangeFilter(accounts, 0n, KEYSPACE_END)).toBe(`hashint8extended("id", 0) >= '0'::bigint`);
    expect(rangeFilter(accounts, KEYSPACE_MIN, 0n)).toBe(`hashint8extended("id", 0) < '0'::bigint`);
    expect(rangeFilter(accounts, KEYSPACE_MIN, KEYSPACE_END)).toBeNull();
    expect(rangeWhere(accounts, KEYSPACE_MIN, KEYSPACE_END)).toBe("");
  });

  it("hashes each key type with PostgreSQL's function and quotes the column", () => {
    expect(rangeFilter({ table: "u", key: { column: "E-mail", type: "text" } }, 0n, 1n)).toContain(
      'hashtextextended("E-mail", 0)',
    );
    expect(rangeFilter({ table: "u", key: { column: "id", type: "uuid" } }, 0n, 1n)).toContain(
      'uuid_hash_extended("id", 0)',
    );
    expect(rangeFilter({ table: "u", key: { column: "id", type: "integer" } }, 0n, 1n)).toContain(
      'hashint8extended("id", 0)',
    );
  });

  it("selects every row of an unsharded table", () => {
    expect(rangeFilter({ table: "plans" }, 0n, 1n)).toBeNull();
    expect(rangeWhere({ table: "plans" }, 0n, 1n)).toBe("");
  });
});
