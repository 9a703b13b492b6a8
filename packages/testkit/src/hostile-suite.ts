// The security suite's hostile-input tests as vitest `it`s (a separate entry point: the rest of
// the testkit is also used by benchmarks, outside vitest).
import type { NatsConnection } from "@nats-io/transport-node";
import { expect, it } from "vitest";
import { sendHostileHttp, sendHostileMessages } from "./hostile-input.ts";

/** What {@link hostileInputSuite} needs of a running service. */
export interface HostileTarget {
  /** `http://127.0.0.1:<port>` of one ready replica. */
  readonly base: string;
  /** A bearer token that may call every route. */
  readonly token: string;
  readonly nc: NatsConnection;
  readonly namespace: string;
}

/**
 * The inputs' seed: fixed, so CI sends the same inputs every run (a finding is a bug to fix, never
 * a flake); `DBPLANE_HOSTILE_SEED=<n>` explores others by hand.
 */
const seed = Number(process.env.DBPLANE_HOSTILE_SEED ?? "20261204");

/**
 * The security suite's hostile-input tests for one service (vitest `it`s in the calling file):
 * HTTP bodies, then NATS messages, each expecting no finding. `target` is called after the
 * file's `beforeAll` has started the service.
 */
export function hostileInputSuite(
  target: () => HostileTarget,
  options: {
    readonly skipRoutes?: readonly string[];
    readonly settleTimeoutMs?: number;
    /** False for a service that reads the streams without durable consumers (see sendHostileMessages). */
    readonly durables?: boolean;
  } = {},
): void {
  it("answers hostile HTTP bodies and paths with 4xx problem+json, never 5xx, and stays ready", async () => {
    const { base, token } = target();
    expect(await sendHostileHttp({ base, token, seed, skip: options.skipRoutes ?? [] })).toEqual([]);
  }, 300_000);
  it("dead-letters hostile messages with a reason, and stays ready", async () => {
    const { base, nc, namespace } = target();
    const findings = await sendHostileMessages({
      nc,
      namespace,
      seed,
      ...(options.settleTimeoutMs !== undefined && { settleTimeoutMs: options.settleTimeoutMs }),
      ...(options.durables !== undefined && { durables: options.durables }),
    });
    expect(findings).toEqual([]);
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
  }, 300_000);
}
