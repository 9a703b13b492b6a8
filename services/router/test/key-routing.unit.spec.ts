// A bound key's shard found from its bytes (no string, no BigInt) must be the one its text finds.
import { equalRanges, RangeLookup, type ShardKeyType } from "@dbplane/sharding";
import { describe, expect, it } from "vitest";
import type { LiveMap } from "../src/shards/live-map.ts";
import { parameterText, shardOfBoundKey, shardOfKey } from "../src/wire/key-routing.ts";

// Only what key routing reads of a map: its lookup, and the serving shards for the default one.
const map = {
  lookup: new RangeLookup(equalRanges(5, [3, 0, 4, 1, 2])),
  shards: new Map([0, 1, 2, 3, 4].map((shard) => [shard, {}])),
  serving: [0, 1, 2, 3, 4],
} as unknown as LiveMap;

const integerTypes: readonly ShardKeyType[] = ["smallint", "integer", "bigint"];

/** The parameter at offset 3 of a larger buffer, as a Bind holds it. */
function inBind(value: Buffer): { bytes: Buffer; start: number } {
  return { bytes: Buffer.concat([Buffer.from("xyz"), value, Buffer.from("\0tail")]), start: 3 };
}

function expectSameShard(keyType: ShardKeyType, value: Buffer, format: number): void {
  const { bytes, start } = inBind(value);
  const expected = shardOfKey(map, keyType, parameterText(bytes, start, value.length, format));
  const what = `${keyType} ${format === 1 ? value.toString("hex") : JSON.stringify(value.toString())}`;
  expect(shardOfBoundKey(map, keyType, bytes, start, value.length, format), what).toBe(expected);
}

describe("shardOfBoundKey", () => {
  it("finds the shard the key's text finds, for decimal text keys", () => {
    const texts = [
      "0",
      "-0",
      "7",
      "-7",
      "007",
      "32767",
      "32768",
      "-32769",
      "2147483647",
      "2147483648",
      "-2147483649",
      "999999999999999",
      "-999999999999999",
      "1000000000000000",
      "9223372036854775807",
      "9223372036854775808",
      "",
      "-",
      "+5",
      " 12 ",
      "12a",
      "1.5",
      "٣",
    ];
    for (let i = 0; i < 500; i++) texts.push(String(Math.floor((Math.random() - 0.5) * 2 ** 50)));
    for (const keyType of [...integerTypes, "text"] as const)
      for (const text of texts) expectSameShard(keyType, Buffer.from(text), 0);
  });

  it("finds the shard the key's text finds, for binary int2, int4 and int8 keys", () => {
    const values: Buffer[] = [];
    for (const n of [0, 1, -1, 32767, -32768, 12345]) values.push(Buffer.from([(n >> 8) & 0xff, n & 0xff]));
    for (const n of [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 40_000, -40_000, 123456789]) {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n);
      values.push(b);
    }
    const int8s = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 31n, -(2n ** 31n) - 1n, 2n ** 53n + 1n];
    for (let i = 0; i < 300; i++)
      int8s.push(BigInt.asIntN(64, BigInt(Math.floor(Math.random() * 2 ** 52)) << 12n));
    for (const n of int8s) {
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(n);
      values.push(b);
    }
    for (const keyType of integerTypes) for (const value of values) expectSameShard(keyType, value, 1);
  });

  it("sends a NULL key to the default shard", () => {
    expect(shardOfBoundKey(map, "integer", Buffer.alloc(0), 0, -1, 0)).toBe(shardOfKey(map, "integer", null));
  });
});
