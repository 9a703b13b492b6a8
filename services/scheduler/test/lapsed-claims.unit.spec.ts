import { PassThrough } from "node:stream";
import { createLogger } from "@dbplane/service-kit";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LAPSE_REPORT_MS, LapsedClaims } from "../src/firing/lapsed-claims.ts";

interface Line {
  readonly level: number;
  readonly msg: string;
  readonly occurrences?: number;
  readonly jobIds?: string[];
}

function capturedLogger() {
  const lines: Line[] = [];
  const destination = new PassThrough();
  destination.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
  });
  return { logger: createLogger({ name: "test", destination }), lines };
}

const written = () => new Promise((resolve) => setImmediate(resolve));

describe("LapsedClaims", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("reports thousands of lapsed occurrences as one warning with their count", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { logger, lines } = capturedLogger();
    const lapsed = new LapsedClaims(logger);
    for (let i = 0; i < 5_000; i++) lapsed.add(`job-${i}`);
    await written();
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(LAPSE_REPORT_MS);
    await written();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      occurrences: 5_000,
      jobIds: ["job-0", "job-1", "job-2", "job-3", "job-4"],
    });
    expect(lines[0]!.msg).toMatch(/lease ran out/);
    // A later lapse is a new report; nothing is said when nothing lapsed.
    lapsed.add("job-late");
    lapsed.flush();
    lapsed.flush();
    vi.advanceTimersByTime(LAPSE_REPORT_MS);
    await written();
    expect(lines.map((l) => l.occurrences)).toEqual([5_000, 1]);
  });
});
