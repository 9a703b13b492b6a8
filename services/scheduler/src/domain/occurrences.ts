import { cronLatestBefore, cronNextAfter } from "./cron-schedule.ts";
import type { JobDefinition, JobSchedule } from "./job-definition.ts";

/*
 * Occurrences of a job: its schedule, cut to [startAt, endAt) and, where a run count is given,
 * to `maxRuns`. Pure functions of the definition, so every replica computes the same instants:
 * `every` is anchored at the Unix epoch plus `phaseMs` (not at creation or at the last run), and
 * cron is evaluated in the job's zone, never the pod's.
 */

function atOrAfterInSchedule(schedule: JobSchedule, t: number): number | null {
  switch (schedule.kind) {
    case "at": {
      const at = Date.parse(schedule.at);
      return at >= t ? at : null;
    }
    case "every": {
      const k = Math.ceil((t - schedule.phaseMs) / schedule.everyMs);
      return schedule.phaseMs + k * schedule.everyMs;
    }
    case "cron":
      // Cron occurrences are whole seconds, so "after t − 1 ms" is "at or after t".
      return cronNextAfter(schedule, t - 1);
  }
}

function latestBeforeInSchedule(schedule: JobSchedule, before: number, count: number): number[] {
  switch (schedule.kind) {
    case "at": {
      const at = Date.parse(schedule.at);
      return at < before && count > 0 ? [at] : [];
    }
    case "every": {
      const last = Math.ceil((before - schedule.phaseMs) / schedule.everyMs) - 1;
      const out: number[] = [];
      for (let k = last - count + 1; k <= last; k++) out.push(schedule.phaseMs + k * schedule.everyMs);
      return out;
    }
    case "cron":
      return cronLatestBefore(schedule, before, count);
  }
}

function windowOf(job: JobDefinition): { start: number; end: number } {
  return {
    start: job.startAt ? Date.parse(job.startAt) : Number.NEGATIVE_INFINITY,
    end: job.endAt ? Date.parse(job.endAt) : Number.POSITIVE_INFINITY,
  };
}

function runsLeft(job: JobDefinition, runsCount: number): number {
  return job.maxRuns === undefined ? Number.POSITIVE_INFINITY : Math.max(0, job.maxRuns - runsCount);
}

/** The first occurrence at or after `at` within [startAt, endAt); `maxRuns` is not considered. */
export function occurrenceAtOrAfter(job: JobDefinition, at: Date): Date | null {
  const { start, end } = windowOf(job);
  const t = atOrAfterInSchedule(job.schedule, Math.max(at.getTime(), start));
  return t !== null && t < end ? new Date(t) : null;
}

/**
 * The next occurrence strictly after `after`, or `null` when the job has no more: past endAt,
 * a one-shot already behind, a cron that never matches again, or `runsCount` (occurrences
 * fired so far) reaching `maxRuns`.
 */
export function nextOccurrence(job: JobDefinition, after: Date, runsCount = 0): Date | null {
  if (runsLeft(job, runsCount) === 0) return null;
  return occurrenceAtOrAfter(job, new Date(after.getTime() + 1));
}

/**
 * The occurrence a new (or replaced) job starts with, seen at `now`: the first one at or after
 * now — except a one-shot, which still fires when it is at most `maxLatenessMs` behind (a caller
 * that sends "now" should not lose the job to network delay).
 */
export function firstOccurrence(job: JobDefinition, now: Date, runsCount = 0): Date | null {
  if (runsLeft(job, runsCount) === 0) return null;
  const from = job.schedule.kind === "at" ? now.getTime() - job.maxLatenessMs : now.getTime();
  return occurrenceAtOrAfter(job, new Date(from));
}

/**
 * Occurrences in [from, to), oldest first, at most `cap` of them and at most the runs left
 * under `maxRuns` after `runsCount`.
 */
export function occurrencesBetween(
  job: JobDefinition,
  from: Date,
  to: Date,
  cap: number,
  runsCount = 0,
): Date[] {
  const limit = Math.min(cap, runsLeft(job, runsCount));
  const out: Date[] = [];
  let next = occurrenceAtOrAfter(job, from);
  while (next && next < to && out.length < limit) {
    out.push(next);
    next = occurrenceAtOrAfter(job, new Date(next.getTime() + 1));
  }
  return out;
}

/** Up to `count` of the latest occurrences in [notBefore, before), oldest first; ignores `maxRuns`. */
export function latestOccurrencesBefore(
  job: JobDefinition,
  before: Date,
  count: number,
  notBefore: Date,
): Date[] {
  const { start, end } = windowOf(job);
  const lower = Math.max(start, notBefore.getTime());
  const upper = Math.min(end, before.getTime());
  if (count <= 0 || upper <= lower) return [];
  return latestBeforeInSchedule(job.schedule, upper, count)
    .filter((t) => t >= lower)
    .map((t) => new Date(t));
}

/**
 * How many occurrences lie in [from, to): exact for `at` and `every`; for cron the walk stops
 * at `scanLimit` and `exact` is false.
 */
export function countOccurrences(
  job: JobDefinition,
  from: Date,
  to: Date,
  scanLimit: number,
): { count: number; exact: boolean } {
  const { start, end } = windowOf(job);
  const lower = Math.max(start, from.getTime());
  const upper = Math.min(end, to.getTime());
  if (upper <= lower) return { count: 0, exact: true };
  const s = job.schedule;
  if (s.kind === "every") {
    const first = Math.ceil((lower - s.phaseMs) / s.everyMs);
    const last = Math.ceil((upper - s.phaseMs) / s.everyMs) - 1;
    return { count: Math.max(0, last - first + 1), exact: true };
  }
  const found = occurrencesBetween(job, new Date(lower), new Date(upper), scanLimit + 1);
  return found.length > scanLimit ? { count: scanLimit, exact: false } : { count: found.length, exact: true };
}
