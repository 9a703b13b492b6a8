import { describe, expect, it } from "vitest";
import { type Desired, factKey, factOfKey, isSameState, nextRecord } from "../src/facts/fact-record.ts";

const now = new Date("2026-11-23T10:00:00Z");
const desired = (hash: string): Desired => ({
  kind: "app",
  id: "uid-1",
  data: { id: "uid-1", name: "a" },
  hash,
});

describe("fact records", () => {
  it.each([
    [undefined, desired("h1"), 0, "discovered", "uid-1:h1:0"],
    ["lost", desired("h1"), 7, "discovered", "uid-1:h1:7"],
    ["present", desired("h2"), 9, "changed", "uid-1:h2:9"],
    ["present", undefined, 12, "lost", "uid-1:lost:12"],
  ] as const)("after %s, wanting %j at revision %i: %s with id %s", (previous, want, revision, type, id) => {
    const record = nextRecord(
      { kind: "app", id: "uid-1", desired: want, watermark: 5 },
      previous,
      revision,
      now,
    );
    expect(record.event).toMatchObject({ type, id });
    expect(record.event.data.observedAt).toBe(now.toISOString());
    expect(record).toMatchObject({ state: want ? "present" : "lost", published: false, watermark: 5 });
  });

  it("gives a change back to an earlier content a new id (A → B → A is two changes)", () => {
    const first = nextRecord({ kind: "app", id: "uid-1", desired: desired("A"), watermark: 1 }, "present", 3);
    const again = nextRecord({ kind: "app", id: "uid-1", desired: desired("A"), watermark: 1 }, "present", 5);
    expect(first.event.id).not.toBe(again.event.id);
  });

  it.each([
    [undefined, desired("h"), false],
    [undefined, undefined, true],
    ["present/h", desired("h"), true],
    ["present/h", desired("x"), false],
    ["lost/", desired("h"), false],
    ["lost/", undefined, true],
    ["present/h", undefined, false],
  ] as const)("bucket %s vs %j: same=%s", (held, want, same) => {
    const current = held
      ? nextRecord(
          {
            kind: "app",
            id: "uid-1",
            desired: held.startsWith("present") ? desired("h") : undefined,
            watermark: 1,
          },
          undefined,
          0,
        )
      : undefined;
    expect(isSameState(current, want)).toBe(same);
  });

  it("keys are valid NATS KV keys and map back to the fact", () => {
    const key = factKey("local", "database", "local:127.0.0.1:5432/my db");
    expect(key).toMatch(/^[-/_=.a-zA-Z0-9]+$/);
    expect(factOfKey(key)).toEqual({ kind: "database", id: "local:127.0.0.1:5432/my db" });
  });
});
