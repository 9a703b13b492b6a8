import { describe, expect, it } from "vitest";
import {
  type HashHalves,
  hashInt8Extended,
  hashInt8HalvesOf,
  hashSafeIntegerExtended,
  hashSafeIntegerHalves,
  hashShardKey,
  InvalidShardKeyError,
  uuidBytes,
} from "../src/index.ts";

// Values PostgreSQL 15 returned for these keys (SELECT hashint8extended(5, 0) etc.).
describe("hashShardKey", () => {
  it("matches known PostgreSQL results", () => {
    expect(hashShardKey("bigint", 5)).toBe(-9138765687874534020n);
    expect(hashShardKey("smallint", "5")).toBe(-9138765687874534020n);
    expect(hashShardKey("bigint", -5)).toBe(-9082176226831438310n);
    expect(hashShardKey("bigint", "4294967296")).toBe(-3670598878359251130n);
    expect(hashShardKey("text", "")).toBe(-6939563903564495251n);
    expect(hashShardKey("text", "abc")).toBe(-6747756470228489321n);
    expect(hashShardKey("uuid", "00000000-0000-0000-0000-000000000000")).toBe(-6859010066814654381n);
  });

  it("the number fast path equals the bigint path for safe integers", () => {
    for (const k of [
      0,
      -1,
      1,
      2 ** 32,
      -(2 ** 32),
      2 ** 53 - 1,
      -(2 ** 53) + 1,
      123456789012,
      -987654321098,
    ]) {
      expect(hashSafeIntegerExtended(k)).toBe(hashInt8Extended(BigInt(k)));
    }
  });

  it("the halves paths give the bigint path's hash, split in two", () => {
    const join = (h: HashHalves) => (BigInt(h.hi) << 32n) | BigInt(h.lo);
    const out: HashHalves = { hi: 0, lo: 0 };
    const safe = [0, -1, 1, 5, -5, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, -(2 ** 32), 2 ** 53 - 1, -(2 ** 53) + 1];
    for (let i = 0; i < 2_000; i++) safe.push(Math.floor((Math.random() - 0.5) * 2 ** 54));
    for (const k of safe) {
      hashSafeIntegerHalves(k, out);
      expect(join(out), String(k)).toBe(hashInt8Extended(BigInt(k)));
    }
    const int8s = [0n, -1n, 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 32n, -(2n ** 32n), 2n ** 53n + 7n];
    for (let i = 0; i < 2_000; i++)
      int8s.push(BigInt.asIntN(64, BigInt(Math.floor(Math.random() * 2 ** 52)) << 12n));
    for (const k of int8s) {
      hashInt8HalvesOf(Number(BigInt.asIntN(32, k >> 32n)), Number(BigInt.asUintN(32, k)), out);
      expect(join(out), String(k)).toBe(hashInt8Extended(k));
    }
  });

  it("decimal text hashes as its integer, on either side of the 15-digit fast path", () => {
    for (const text of [
      "0",
      "-0",
      "007",
      "-42",
      "999999999999999",
      "-999999999999999",
      "1000000000000000",
      " 12 ",
    ]) {
      expect(hashShardKey("bigint", text), text).toBe(hashInt8Extended(BigInt(text.trim())));
    }
    expect(() => hashShardKey("integer", "999999999999999")).toThrow(/out of range for type integer/);
    expect(() => hashShardKey("smallint", "-32769")).toThrow(/out of range for type smallint/);
  });

  it("rejects values that do not fit the declared type", () => {
    expect(() => hashShardKey("smallint", 32768)).toThrow(InvalidShardKeyError);
    expect(() => hashShardKey("integer", "2147483648")).toThrow(/out of range for type integer/);
    expect(() => hashShardKey("bigint", "9223372036854775808")).toThrow(InvalidShardKeyError);
    expect(() => hashShardKey("bigint", "12abc")).toThrow(/must be an integer/);
    expect(() => hashShardKey("bigint", 1.5)).toThrow(InvalidShardKeyError);
    expect(() => hashShardKey("text", 42)).toThrow(/must be a string/);
    expect(() => hashShardKey("uuid", "not-a-uuid")).toThrow(/is not a uuid/);
  });

  it("accepts int64 extremes as decimal strings", () => {
    expect(hashShardKey("bigint", "-9223372036854775808")).toBe(hashInt8Extended(-(2n ** 63n)));
    expect(hashShardKey("bigint", "9223372036854775807")).toBe(hashInt8Extended(2n ** 63n - 1n));
  });

  it("parses unhyphenated and upper-case uuids like PostgreSQL", () => {
    expect(uuidBytes("A0EEBC999C0B4EF8BB6D6BB9BD380A11")).toEqual(
      uuidBytes("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    );
  });
});
