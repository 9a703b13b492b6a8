import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { CountedHistogram } from "../src/index.ts";

/** A registry's exposition as a set of `name{sorted labels} value` lines, HELP/TYPE included. */
async function exposition(registry: Registry): Promise<string[]> {
  const text = await registry.metrics();
  return text
    .trim()
    .split("\n")
    .map((line) => {
      const m = /^([^{ ]+)\{([^}]*)\} (.+)$/.exec(line);
      if (!m) return line;
      const labels = m[2]!.split(/,(?=[a-z_]+=")/).sort();
      return `${m[1]}{${labels.join(",")}} ${m[3]}`;
    })
    .sort();
}

describe("CountedHistogram", () => {
  it("exposes what prom-client's Histogram exposes for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const config = {
      name: "dbplane_test_duration_seconds",
      help: "Test durations",
      labelNames: ["database", "shard"] as const,
      buckets: [0.001, 0.01, 0.1, 1],
    };
    const counted = new CountedHistogram({ ...config, registers: [ours] });
    const reference = new Histogram({ ...config, registers: [theirs] });
    const series = counted.series({ database: "shop", shard: "0" });
    for (const v of [0.0005, 0.001, 0.002, 0.05, 0.5, 3, 0]) {
      series.observe(v);
      reference.observe({ database: "shop", shard: "0" }, v);
    }
    counted.observe({ database: "shop", shard: "1" }, 0.02);
    reference.observe({ database: "shop", shard: "1" }, 0.02);
    expect(await exposition(ours)).toEqual(await exposition(theirs));

    // After a reset a series is gone until observed again, through a series kept from before too.
    counted.reset();
    reference.reset();
    expect(await exposition(ours)).toEqual(await exposition(theirs));
    series.observe(0.003);
    reference.observe({ database: "shop", shard: "0" }, 0.003);
    expect(await exposition(ours)).toEqual(await exposition(theirs));
    expect(() => series.observe(Number.NaN)).toThrow(TypeError);
  });
});
