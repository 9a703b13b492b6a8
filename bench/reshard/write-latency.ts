// The writer's latencies in the windows that matter: before the split (baseline), during it, and
// the writes a fence held (those in flight at any moment a fence was up).
import type { FenceWindow } from "./fence-windows.ts";
import type { WriteSample } from "./keyed-writer.ts";

export interface LatencyStats {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export function latencyStats(samples: readonly WriteSample[]): LatencyStats {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  if (ms.length === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
  const pct = (p: number) => ms[Math.min(ms.length - 1, Math.ceil(ms.length * p) - 1)]!;
  return { count: ms.length, p50: pct(0.5), p99: pct(0.99), max: ms.at(-1)! };
}

/** Samples that started in [from, to) (ms since the epoch). */
export function startedBetween(samples: readonly WriteSample[], from: number, to: number): WriteSample[] {
  return samples.filter((s) => s.startedAt >= from && s.startedAt < to);
}

/** Samples whose [start, end] overlaps a fence window: the writes a fence held (or could have). */
export function heldByFences(
  samples: readonly WriteSample[],
  windows: readonly FenceWindow[],
): WriteSample[] {
  return samples.filter((s) =>
    windows.some((w) => s.startedAt <= w.liftedAt && s.startedAt + s.ms >= w.raisedAt),
  );
}
