import { PassThrough } from "node:stream";
import { createLogger } from "@dbplane/service-kit";
import { waitFor } from "@dbplane/testkit";
import { describe, expect, it } from "vitest";
import { RepeatingRound } from "../src/firing/repeating-round.ts";

function capturedLogger() {
  const lines: { level: number; msg: string }[] = [];
  const destination = new PassThrough();
  destination.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
  });
  return { logger: createLogger({ name: "test", destination }), lines };
}

describe("RepeatingRound", () => {
  it("runs a round at start, the next one a period after it ended, never two at once", async () => {
    const { logger } = capturedLogger();
    let running = 0;
    let overlapped = false;
    let rounds = 0;
    const round = new RepeatingRound(
      "step",
      5,
      async () => {
        running++;
        overlapped ||= running > 1;
        await new Promise((resolve) => setTimeout(resolve, 15));
        running--;
        rounds++;
      },
      logger,
    );
    round.start();
    expect(running).toBe(1);
    await waitFor(() => rounds >= 3, { what: "three rounds" });
    await round.stop();
    expect(overlapped).toBe(false);
  });

  it("stop waits for the round in progress and starts no other; stopped is set at once", async () => {
    const { logger } = capturedLogger();
    let release: () => void = () => {};
    let started = 0;
    let finished = 0;
    const round = new RepeatingRound(
      "step",
      1,
      async () => {
        started++;
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        finished++;
      },
      logger,
    );
    round.start();
    const stopped = round.stop();
    expect(round.stopped).toBe(true);
    release();
    await stopped;
    expect(finished).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(started).toBe(1);
  });

  it("logs a failed round and runs the next one", async () => {
    const { logger, lines } = capturedLogger();
    let rounds = 0;
    const round = new RepeatingRound(
      "renew",
      1,
      async () => {
        rounds++;
        if (rounds === 1) throw new Error("database away");
      },
      logger,
    );
    round.start();
    await waitFor(() => rounds >= 2, { what: "a second round" });
    await round.stop();
    expect(lines.some((l) => l.level === 50 && l.msg === "renew failed; retrying next round")).toBe(true);
  });
});
