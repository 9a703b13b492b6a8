import { describe, expect, it } from "vitest";
import { counterDeltas, counterIncrease, sumRates } from "../src/domain/counter-rates.ts";
import { assignTargets, movedTargets, ownerOf } from "../src/domain/rendezvous.ts";

describe("counter rates", () => {
  it("turns two readings into increases and per-second rates", () => {
    const d = counterDeltas(
      { atMs: 0, values: { commits: 100, rows: 5 } },
      { atMs: 2_000, values: { commits: 160, rows: 5 } },
    );
    expect(d).toEqual({ seconds: 2, increases: { commits: 60, rows: 0 }, rates: { commits: 30, rows: 0 } });
  });

  it("survives a counter reset: the new value is what was counted since", () => {
    expect(counterIncrease(1_000, 40)).toBe(40);
    const d = counterDeltas({ atMs: 0, values: { c: 1_000 } }, { atMs: 10_000, values: { c: 40 } });
    expect(d?.rates.c).toBe(4);
  });

  it("treats a changed reset marker (restart, stats reset) as a reset even when values grew", () => {
    const d = counterDeltas(
      { atMs: 0, values: { c: 10 }, resetMarker: "start-1" },
      { atMs: 1_000, values: { c: 50 }, resetMarker: "start-2" },
    );
    expect(d?.increases.c).toBe(50);
  });

  it("gives no rate without a previous reading, for a new counter, or for a clock that did not move", () => {
    expect(counterDeltas(undefined, { atMs: 1, values: { c: 1 } })).toBeUndefined();
    expect(counterDeltas({ atMs: 5, values: { c: 1 } }, { atMs: 5, values: { c: 2 } })).toBeUndefined();
    expect(counterDeltas({ atMs: 0, values: {} }, { atMs: 1_000, values: { c: 2 } })?.rates).toEqual({});
  });

  it("sums only the known rates of a group", () => {
    expect(sumRates({ a: 1, b: 2 }, ["a", "b", "c"])).toBe(3);
    expect(sumRates({ a: 1 }, ["x"])).toBeUndefined();
  });
});

describe("rendezvous placement", () => {
  const targets = Array.from({ length: 3_000 }, (_, i) => `target-${i}`);
  const three = ["m-a", "m-b", "m-c"];

  it("places every target on exactly one member, evenly, the same way on every leader", () => {
    const shares = assignTargets(targets, three);
    const sizes = [...shares.values()].map((s) => s.length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(targets.length);
    for (const size of sizes) expect(size).toBeGreaterThan(900);
    expect(assignTargets(targets, [...three].reverse())).toEqual(shares);
  });

  it("moves only about a quarter of the targets, all to the newcomer, when a fourth member joins", () => {
    const before = assignTargets(targets, three);
    const after = assignTargets(targets, [...three, "m-d"]);
    const moved = movedTargets(before, after);
    expect(moved / targets.length).toBeGreaterThan(0.2);
    expect(moved / targets.length).toBeLessThan(0.3);
    expect(moved).toBe(after.get("m-d")?.length);
  });

  it("moves only the leaver's targets when a member leaves", () => {
    const before = assignTargets(targets, three);
    const after = assignTargets(targets, ["m-a", "m-c"]);
    expect(movedTargets(before, after)).toBe(before.get("m-b")?.length);
  });

  it("has no owner without members", () => {
    expect(ownerOf("t", [])).toBeUndefined();
  });
});
