import type { JobDefinition } from "../domain/job-definition.ts";

export const JobState = {
  active: "active",
  paused: "paused",
  completed: "completed",
  cancelled: "cancelled",
} as const;
export type JobState = (typeof JobState)[keyof typeof JobState];

/**
 * Who saved a job: the token's `sub` (or `service:<ce-source>` for the `schedule-job` command)
 * and the scopes it held then. `id` null: saved without one (the store used directly).
 */
export interface JobOwner {
  readonly id: string | null;
  readonly scopes: readonly string[];
}

/** A job saved with no owner: no scopes, so a dbplane command or event target never fires. */
export const NO_OWNER: JobOwner = { id: null, scopes: [] };

/** A job as stored. Times are the database's. */
export interface StoredJob {
  readonly id: string;
  readonly definition: JobDefinition;
  readonly state: JobState;
  /** The first occurrence not yet fired or recorded; null unless active. */
  readonly nextRunAt: Date | null;
  /** By when `nextRunAt` must be published, else it is recorded as missed. */
  readonly nextFireBy: Date | null;
  /** A pending manual trigger: the scheduled time of the extra occurrence. */
  readonly triggerAt: Date | null;
  /** Scheduled occurrences fired (counts toward `maxRuns`; manual triggers and misses do not). */
  readonly runsCount: number;
  readonly missedCount: number;
  readonly lastRunAt: Date | null;
  readonly claimedBy: string | null;
  readonly claimExpiresAt: Date | null;
  /** Bumped by every change made through the API (definition or state), not by firing. */
  readonly version: number;
  /** Who saved the definition last, with the scopes checked again at every firing. */
  readonly owner: JobOwner;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface JobRow {
  id: string;
  definition: JobDefinition;
  state: JobState;
  next_run_at: Date | null;
  next_fire_by: Date | null;
  trigger_at: Date | null;
  runs_count: number;
  missed_count: string;
  last_run_at: Date | null;
  claimed_by: string | null;
  claim_expires_at: Date | null;
  version: number;
  owner: string | null;
  owner_scopes: string[];
  created_at: Date;
  updated_at: Date;
}

export const jobColumns =
  "id, definition, state, next_run_at, next_fire_by, trigger_at, runs_count, missed_count, last_run_at, " +
  "claimed_by, claim_expires_at, version, owner, owner_scopes, created_at, updated_at";

/**
 * The columns the firing path reads of a job it holds (claims, completions, misfire settling):
 * 11 of 16, 4 timestamps of 7. Every claimed or completed occurrence parses one such row, and
 * at 5,000 firings a second row parsing (timestamps above all) was a tenth of a replica's CPU.
 */
export type HeldRow = Pick<
  JobRow,
  | "id"
  | "definition"
  | "state"
  | "next_run_at"
  | "next_fire_by"
  | "trigger_at"
  | "runs_count"
  | "claim_expires_at"
  | "version"
  | "owner"
  | "owner_scopes"
>;

export const heldColumns =
  "id, definition, state, next_run_at, next_fire_by, trigger_at, runs_count, claim_expires_at, version, owner, owner_scopes";

export function toStoredJob(row: JobRow): StoredJob {
  return {
    id: row.id,
    definition: row.definition,
    state: row.state,
    nextRunAt: row.next_run_at,
    nextFireBy: row.next_fire_by,
    triggerAt: row.trigger_at,
    runsCount: row.runs_count,
    missedCount: Number(row.missed_count),
    lastRunAt: row.last_run_at,
    claimedBy: row.claimed_by,
    claimExpiresAt: row.claim_expires_at,
    version: row.version,
    owner: { id: row.owner, scopes: row.owner_scopes },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
