/**
 * Cron occurrences, computed by croner in the job's IANA time zone.
 *
 * DST, as croner 11 does it (it follows Vixie cron and croner-rust) and as we keep it — verified
 * by test/cron-schedule.unit.spec.ts:
 *
 * - **Fixed-time jobs** — a single value in each of seconds, minutes and hours, e.g. `0 2 * * *`:
 *   - spring-forward gap (Europe/Berlin 2026-03-29, 02:00–03:00 does not exist): the occurrence
 *     runs **once, at the first valid instant after the gap**, 03:00 CEST (01:00Z). The day is
 *     not skipped; the job still runs once that day.
 *   - fall-back overlap (Europe/Berlin 2026-10-25, 02:00–03:00 happens twice): the occurrence
 *     runs **once, at the first 02:00** (02:00 CEST = 00:00Z), not again at 02:00 CET.
 * - **Interval jobs** — a wildcard, step, range or list in seconds, minutes or hours, e.g.
 *   `*\/30 * * * *`: they keep their rhythm in real time. Wall-clock times inside a gap do not
 *   exist and are skipped (02:00 and 02:30 on 2026-03-29); in an overlap both passes run
 *   (02:00 and 02:30 CEST, then 02:00 and 02:30 CET), because they are different instants.
 *
 * Both are what operators expect from cron (a daily backup neither disappears nor doubles; a
 * half-hourly sweep keeps sweeping half-hourly), so we adopt croner's behaviour unchanged.
 * Occurrences are whole seconds; `after`/`before` bounds are exclusive.
 */
import { Cron } from "croner";

export interface CronSpec {
  readonly expression: string;
  readonly timeZone: string;
}

// Parsing an expression costs ~25 µs; a firing loop computes next occurrences for thousands of
// jobs that share a handful of expressions, so parsed patterns are kept (bounded).
const cache = new Map<string, Cron>();
const cacheLimit = 1_000;

function cronFor(spec: CronSpec): Cron {
  const key = `${spec.timeZone}\u0000${spec.expression}`;
  let cron = cache.get(key);
  if (!cron) {
    if (cache.size >= cacheLimit) cache.delete(cache.keys().next().value as string);
    cron = new Cron(spec.expression, { timezone: spec.timeZone, mode: "5-or-6-parts" });
    cache.set(key, cron);
  }
  return cron;
}

/** The first occurrence strictly after `afterMs`, or `null` when the pattern never matches again. */
export function cronNextAfter(spec: CronSpec, afterMs: number): number | null {
  const next = cronFor(spec).nextRun(new Date(afterMs));
  return next ? next.getTime() : null;
}

/**
 * Up to `count` of the latest occurrences strictly before `beforeMs`, oldest first. croner's
 * `previousRuns` includes a run earlier in the reference's own second, so results are filtered.
 */
export function cronLatestBefore(spec: CronSpec, beforeMs: number, count: number): number[] {
  if (count <= 0) return [];
  return cronFor(spec)
    .previousRuns(count + 1, new Date(beforeMs))
    .map((d) => d.getTime())
    .filter((t) => t < beforeMs)
    .slice(0, count)
    .reverse();
}
