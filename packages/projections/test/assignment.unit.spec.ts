import { describe, expect, it } from "vitest";
import { desiredOwner, fnv1a32, partitionOf } from "../src/index.ts";

const units = Array.from({ length: 64 }, (_, partition) => ({
  projection: "tally",
  generation: 1,
  partition,
}));
const member = (id: string) => ({ id, capabilities: ["tally@1"] });
const assign = (members: ReturnType<typeof member>[]) =>
  units.map((u) => desiredOwner(u, "tally@1", members));

describe("partitioning", () => {
  it("is FNV-1a of the UTF-8 bytes: stable known values, non-ASCII included", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
    expect(fnv1a32("ü")).toBe(fnv1a32("\u00fc"));
    expect(partitionOf("agg-1", 12)).toBe(fnv1a32("agg-1") % 12);
  });
});

describe("rendezvous assignment", () => {
  it("is the same whatever order the members are listed in", () => {
    const abc = [member("a"), member("b"), member("c")];
    expect(assign(abc)).toEqual(assign([...abc].reverse()));
  });

  it("moves only the units the joining member takes when a member joins", () => {
    const before = assign([member("a"), member("b"), member("c")]);
    const after = assign([member("a"), member("b"), member("c"), member("d")]);
    const moved = units.filter((_, i) => before[i] !== after[i]);
    expect(moved.length).toBeGreaterThan(0);
    for (const u of moved) expect(after[u.partition]).toBe("d");
  });

  it("moves only the leaving member's units when a member leaves", () => {
    const before = assign([member("a"), member("b"), member("c")]);
    const after = assign([member("a"), member("c")]);
    units.forEach((_, i) => {
      if (before[i] !== "b") expect(after[i]).toBe(before[i]);
      else expect(after[i]).not.toBe("b");
    });
  });

  it("only considers members whose code runs the projection's version", () => {
    const owners = new Set(
      units.map((u) => desiredOwner(u, "tally@2", [member("a"), { id: "b", capabilities: ["tally@2"] }])),
    );
    expect(owners).toEqual(new Set(["b"]));
  });
});
