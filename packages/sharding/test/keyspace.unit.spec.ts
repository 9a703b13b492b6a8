import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  assertTiling,
  equalRanges,
  InvalidRangesError,
  KEYSPACE_END,
  KEYSPACE_MIN,
  type KeyRange,
  midpoint,
  planSplit,
  RangeLookup,
  rangesFromText,
  rangesToText,
  reassignRange,
} from "../src/index.ts";

const randomHash = () => BigInt.asIntN(64, randomBytes(8).readBigUInt64LE());

/** The owner by linear scan: the reference the binary search must agree with. */
const linearOwner = (ranges: readonly KeyRange[], h: bigint) =>
  ranges.find((r) => h >= r.from && h < r.to)?.shard;

describe("equal ranges", () => {
  it.each([1, 2, 3, 7, 64])(
    "%i ranges tile [-2^63, 2^63) exactly, in order, without gaps or overlaps",
    (n) => {
      const ranges = equalRanges(n);
      expect(ranges).toHaveLength(n);
      expect(ranges[0]!.from).toBe(KEYSPACE_MIN);
      expect(ranges.at(-1)!.to).toBe(KEYSPACE_END);
      for (let i = 1; i < n; i++) expect(ranges[i]!.from).toBe(ranges[i - 1]!.to);
      expect(() => assertTiling(ranges)).not.toThrow();
      const sizes = ranges.map((r) => r.to - r.from);
      expect(sizes.every((s) => s - sizes[0]! < BigInt(n))).toBe(true);
    },
  );

  it("survive the decimal-string round trip", () => {
    const ranges = equalRanges(5);
    expect(rangesFromText(rangesToText(ranges))).toEqual(ranges);
    expect(rangesToText(ranges).at(-1)!.to).toBe("9223372036854775808");
  });
});

describe("assertTiling", () => {
  const [a, b] = equalRanges(2) as [KeyRange, KeyRange];
  it("names a gap, an overlap, an empty range and a short end", () => {
    expect(() => assertTiling([a, { ...b, from: b.from + 1n }])).toThrow(/gap/);
    expect(() => assertTiling([a, { ...b, from: b.from - 1n }])).toThrow(/overlap/);
    expect(() => assertTiling([{ ...a, to: KEYSPACE_MIN }, b])).toThrow(InvalidRangesError);
    expect(() => assertTiling([a])).toThrow(/expected 9223372036854775808/);
    expect(() => assertTiling([])).toThrow(InvalidRangesError);
  });
});

describe("RangeLookup", () => {
  it("agrees with a linear scan for random hashes and every boundary", () => {
    const { ranges } = planSplit(equalRanges(7), 3, 7, 123n);
    const lookup = new RangeLookup(ranges);
    const probes = [KEYSPACE_MIN, KEYSPACE_END - 1n, 0n, -1n, ...ranges.flatMap((r) => [r.from, r.to - 1n])];
    for (let i = 0; i < 20_000; i++) probes.push(randomHash());
    for (const h of probes) expect(lookup.shardFor(h)).toBe(linearOwner(ranges, h));
  });

  it("finds the same owner from a hash's 32-bit halves as from the hash", () => {
    // Starts whose high halves are equal and whose low halves differ in the top bit: the low
    // halves must compare unsigned.
    const { ranges } = planSplit(planSplit(equalRanges(7), 3, 7, 123n).ranges, 7, 8, 0x80000000n + 123n);
    const lookup = new RangeLookup(ranges);
    const probes = [
      KEYSPACE_MIN,
      KEYSPACE_END - 1n,
      0n,
      -1n,
      0x7fffffffn,
      0x80000000n,
      0xffffffffn,
      0x100000000n,
      ...ranges.flatMap((r) => [r.from - 1n, r.from, r.from + 1n, r.to - 1n]),
    ].filter((h) => h >= KEYSPACE_MIN && h < KEYSPACE_END);
    for (let i = 0; i < 20_000; i++) probes.push(randomHash());
    for (const h of probes) {
      const hi = Number(BigInt.asIntN(32, h >> 32n));
      const lo = Number(BigInt.asUintN(32, h));
      expect(lookup.shardForHalves(hi, lo), String(h)).toBe(linearOwner(ranges, h));
    }
  });

  it("refuses ranges that do not tile the keyspace", () => {
    expect(() => new RangeLookup(equalRanges(3).slice(1))).toThrow(InvalidRangesError);
  });
});

describe("planSplit", () => {
  it("halves a shard's range and keeps the tiling", () => {
    const ranges = equalRanges(2);
    const plan = planSplit(ranges, 0, 2);
    expect(plan.kept).toEqual({ shard: 0, from: KEYSPACE_MIN, to: midpoint(ranges[0]!) });
    expect(plan.moved).toEqual({ shard: 2, from: midpoint(ranges[0]!), to: ranges[0]!.to });
    expect(plan.ranges).toHaveLength(3);
    expect(() => assertTiling(plan.ranges)).not.toThrow();
  });

  it("splits at a chosen point; every key keeps its owner except those moved", () => {
    const ranges = equalRanges(4);
    const plan = planSplit(ranges, 1, 4, -4000000000000000000n);
    const before = new RangeLookup(ranges);
    const after = new RangeLookup(plan.ranges);
    for (let i = 0; i < 5_000; i++) {
      const h = randomHash();
      const moved = h >= plan.moved.from && h < plan.moved.to;
      expect(after.shardFor(h)).toBe(moved ? 4 : before.shardFor(h));
    }
  });

  it("refuses a point outside the shard, on its edge, or a new shard that already owns keys", () => {
    const ranges = equalRanges(2);
    expect(() => planSplit(ranges, 0, 2, 5n)).toThrow(/not inside a range of shard 0/);
    expect(() => planSplit(ranges, 0, 2, KEYSPACE_MIN)).toThrow(/strictly inside/);
    expect(() => planSplit(ranges, 0, 1)).toThrow(/already owns/);
    expect(() => planSplit(ranges, 9, 2)).toThrow(/owns no range/);
  });
});

describe("reassignRange", () => {
  const three = equalRanges(3, [0, 1, 2]);
  it("moves a piece out of the middle of a range, leaving the owner both ends", () => {
    const r1 = three[1]!;
    const from = r1.from + 10n;
    const to = r1.to - 10n;
    const out = reassignRange(three, from, to, 0);
    assertTiling(out);
    expect(out).toEqual([
      three[0],
      { shard: 1, from: r1.from, to: from },
      { shard: 0, from, to },
      { shard: 1, from: to, to: r1.to },
      three[2],
    ]);
  });
  it("joins the moved range with a neighbour of the same shard (a merge)", () => {
    const out = reassignRange(three, three[1]!.from, three[1]!.to, 0);
    expect(out).toEqual([{ shard: 0, from: three[0]!.from, to: three[1]!.to }, three[2]]);
  });
  it("refuses a range across two ranges, an empty one, and one the shard already owns", () => {
    expect(() => reassignRange(three, three[0]!.from, three[1]!.from + 1n, 2)).toThrow(InvalidRangesError);
    expect(() => reassignRange(three, 5n, 5n, 2)).toThrow(InvalidRangesError);
    expect(() => reassignRange(three, three[0]!.from, three[0]!.to, 0)).toThrow(InvalidRangesError);
  });
});
