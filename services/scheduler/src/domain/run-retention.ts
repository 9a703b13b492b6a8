import { z } from "zod";

/**
 * How much run history to keep: at most `count` runs per job (the newest by scheduled time)
 * and none recorded longer than `ageMs` ago. Either may be absent; both absent keeps everything.
 */
export interface RunRetention {
  readonly count: number | null;
  readonly ageMs: number | null;
}

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
// Younger than the bus duplicate window would be pointless churn: keep at least 10 minutes.
const MIN_AGE_MS = 10 * UNIT_MS.m;
const MAX_AGE_MS = 3_650 * UNIT_MS.d;
const MAX_COUNT = 999_999_999;

/**
 * A job's own retention (`retention` in its definition), the same bounds as the environment's:
 * it replaces DBPLANE_SCHEDULER_RUN_RETENTION for that job's runs, and an absent field is no
 * limit of that kind (`{}` keeps every run of the job).
 */
export const jobRetention = z.strictObject({
  count: z.number().int().min(1).max(MAX_COUNT).optional(),
  ageMs: z.number().int().min(MIN_AGE_MS).max(MAX_AGE_MS).optional(),
});

export type JobRetention = z.output<typeof jobRetention>;

export function retentionOf(job: JobRetention): RunRetention {
  return { count: job.count ?? null, ageMs: job.ageMs ?? null };
}

/**
 * Parses `count=1000,age=30d` (either part alone, in any order; age in s, m, h or d) or `off`.
 * Returns the problem in words instead when the text is not that.
 */
export function parseRunRetention(text: string): RunRetention | string {
  const trimmed = text.trim();
  if (trimmed === "off") return { count: null, ageMs: null };
  let count: number | null = null;
  let ageMs: number | null = null;
  const seen = new Set<string>();
  for (const part of trimmed.split(",")) {
    const [key, value, extra] = part.trim().split("=");
    if (key === undefined || value === undefined || extra !== undefined) {
      return `"${part.trim()}" is not key=value (expected count=<n>,age=<n>{s|m|h|d} or off)`;
    }
    if (seen.has(key)) return `${key} is given twice`;
    seen.add(key);
    if (key === "count") {
      if (!/^\d{1,9}$/.test(value) || Number(value) < 1 || Number(value) > MAX_COUNT)
        return "count must be an integer from 1 to 999999999";
      count = Number(value);
    } else if (key === "age") {
      const m = /^(\d{1,7})([smhd])$/.exec(value);
      if (!m) return "age must be a number with a unit s, m, h or d (30d)";
      ageMs = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
      if (ageMs < MIN_AGE_MS || ageMs > MAX_AGE_MS) return "age must be from 10m to 3650d";
    } else {
      return `unknown key ${key} (expected count or age)`;
    }
  }
  return { count, ageMs };
}
