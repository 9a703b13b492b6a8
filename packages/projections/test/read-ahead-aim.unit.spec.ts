import { describe, expect, it } from "vitest";
import { aimAhead, READ_AHEAD, READ_AHEAD_MAX } from "../src/generation-runner.ts";
import { unitId } from "../src/rendezvous.ts";

const unit = (partition: number, checkpoint: number) => ({
  projection: "p",
  generation: 1,
  partition,
  checkpoint,
});
const seen = (...units: ReturnType<typeof unit>[]) => new Map(units.map((u) => [unitId(u), u.checkpoint]));

describe("how far ahead a joiner's read-ahead is aimed", () => {
  it("READ_AHEAD at the first look, and while the owners move less than that", () => {
    expect(aimAhead([unit(0, 5_000)], undefined)).toBe(READ_AHEAD);
    expect(aimAhead([unit(0, 15_000)], seen(unit(0, 5_000)))).toBe(READ_AHEAD);
  });

  it("half as far again as the owners just moved when that is more (catching up, they overtook the last aim)", () => {
    // One owner moved 20,000 since the last look, another 24,000: the next aim is 36,000 ahead.
    expect(
      aimAhead([unit(0, 30_000), unit(1, 34_000), unit(2, 1_000)], seen(unit(0, 10_000), unit(1, 10_000))),
    ).toBe(36_000);
    expect(aimAhead([unit(0, 36_000)], seen(unit(0, 10_000)))).toBe(39_000);
  });

  it("never past READ_AHEAD_MAX, below the distance past which an owner releases at once", () => {
    expect(aimAhead([unit(0, 200_000)], seen(unit(0, 0)))).toBe(READ_AHEAD_MAX);
  });
});
