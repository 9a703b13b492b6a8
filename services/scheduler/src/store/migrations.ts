import { migrateSchema, type SchemaMigration } from "@dbplane/service-kit";
import type pg from "pg";
import type { SchedulerTables } from "./schema-tables.ts";
import { schedulerTables } from "./schema-tables.ts";

type Migration = SchemaMigration<SchedulerTables>;

/** Append only: an applied migration is never edited, a change is a new version. */
const migrations: readonly Migration[] = [
  {
    version: 1,
    name: "jobs and runs",
    sql: (t) => `
      CREATE TABLE ${t.jobs} (
        id               text PRIMARY KEY,
        definition       jsonb NOT NULL,
        state            text NOT NULL CHECK (state IN ('active', 'paused', 'completed', 'cancelled')),
        -- The first occurrence not yet fired or recorded; NULL unless active.
        next_run_at      timestamptz,
        -- By when next_run_at must be published, else it is missed (later than scheduled for catch-ups).
        next_fire_by     timestamptz,
        -- A pending manual trigger (its scheduled time); fires besides the regular schedule.
        trigger_at       timestamptz,
        runs_count       integer NOT NULL DEFAULT 0,
        missed_count     bigint NOT NULL DEFAULT 0,
        last_run_at      timestamptz,
        claimed_by       text,
        claim_expires_at timestamptz,
        version          integer NOT NULL DEFAULT 1,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now(),
        CHECK ((claimed_by IS NULL) = (claim_expires_at IS NULL)),
        CHECK (state = 'active' OR next_run_at IS NULL)
      );
      CREATE INDEX jobs_due_idx ON ${t.jobs} (next_run_at) WHERE state = 'active';
      CREATE INDEX jobs_trigger_idx ON ${t.jobs} (trigger_at) WHERE trigger_at IS NOT NULL;
      CREATE INDEX jobs_claimed_by_idx ON ${t.jobs} (claimed_by) WHERE claimed_by IS NOT NULL;
      CREATE INDEX jobs_state_idx ON ${t.jobs} (state, id);

      CREATE TABLE ${t.runs} (
        job_id       text NOT NULL REFERENCES ${t.jobs} (id) ON DELETE CASCADE,
        scheduled_at timestamptz NOT NULL,
        manual       boolean NOT NULL DEFAULT false,
        outcome      text NOT NULL CHECK (outcome IN ('fired', 'missed', 'failed')),
        fired_at     timestamptz,
        lateness_ms  bigint,
        error        text,
        stream_seq   bigint,
        recorded_by  text,
        recorded_at  timestamptz NOT NULL DEFAULT now(),
        -- One row per occurrence: recording it again (a retry, a second replica) is a no-op.
        PRIMARY KEY (job_id, scheduled_at)
      );
      CREATE INDEX runs_recorded_at_idx ON ${t.runs} (recorded_at);
    `,
  },
  {
    version: 2,
    name: "unclaimed due index",
    // Claiming scans only unclaimed jobs in due order, not every claimed one within the horizon.
    sql: (t) => `
      CREATE INDEX jobs_unclaimed_due_idx ON ${t.jobs} (next_run_at) WHERE state = 'active' AND claimed_by IS NULL;
    `,
  },
  {
    version: 3,
    name: "runs without a foreign key",
    // Runs are written only for jobs locked in the same transaction, and jobs are never
    // deleted (cancel is a state): the key's per-row check cost every recorded run a lookup.
    sql: (t) => `
      ALTER TABLE ${t.runs} DROP CONSTRAINT IF EXISTS runs_job_id_fkey;
    `,
  },
  {
    version: 4,
    name: "replicas",
    // Each live replica's heartbeat, for GET /v1/replicas; nothing on the firing path reads it.
    sql: (t) => `
      CREATE TABLE ${t.replicas} (
        id              text PRIMARY KEY,
        started_at      timestamptz NOT NULL DEFAULT now(),
        seen_at         timestamptz NOT NULL DEFAULT now(),
        -- Gone from the list after this unless it beats again (a lease after its last beat).
        expires_at      timestamptz NOT NULL,
        last_tick_at    timestamptz,
        clock_offset_ms double precision NOT NULL DEFAULT 0,
        held            integer NOT NULL DEFAULT 0,
        publish_backlog integer NOT NULL DEFAULT 0
      );
    `,
  },
  {
    version: 5,
    name: "webhook deliveries",
    // Targets gained a kind: stored NATS targets get theirs, so that re-sending a definition
    // written before (no kind; parsed now with kind "nats") still compares unchanged.
    // A delivery is keyed like its run and goes when the run is pruned; `target` is the
    // http target as it was when the occurrence fired (a later change of the job does not
    // alter a delivery in progress). `next_attempt_at` is when a pending delivery is due, when a
    // running one's lease ends (another replica retries it then) and, for a buffered one, from
    // when it may start once its job has nothing else pending or running.
    sql: (t) => `
      UPDATE ${t.jobs} SET definition = jsonb_set(definition, '{target,kind}', '"nats"')
        WHERE NOT (definition->'target' ? 'kind');

      CREATE TABLE ${t.deliveries} (
        job_id          text NOT NULL,
        scheduled_at    timestamptz NOT NULL,
        state           text NOT NULL
          CHECK (state IN ('pending', 'running', 'buffered', 'succeeded', 'failed', 'skipped')),
        target          jsonb NOT NULL,
        attempts        integer NOT NULL DEFAULT 0,
        max_attempts    integer NOT NULL,
        next_attempt_at timestamptz NOT NULL,
        -- scheduled_at + maxLatenessMs: no attempt starts later.
        deliver_by      timestamptz NOT NULL,
        claimed_by      text,
        last_status     integer,
        last_error      text,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        finished_at     timestamptz,
        PRIMARY KEY (job_id, scheduled_at),
        FOREIGN KEY (job_id, scheduled_at) REFERENCES ${t.runs} (job_id, scheduled_at) ON DELETE CASCADE
      );
      CREATE INDEX deliveries_due_idx ON ${t.deliveries} (next_attempt_at)
        WHERE state IN ('pending', 'running', 'buffered');
      CREATE INDEX deliveries_open_idx ON ${t.deliveries} (job_id)
        WHERE state IN ('pending', 'running', 'buffered');

      CREATE TABLE ${t.deliveryAttempts} (
        job_id       text NOT NULL,
        scheduled_at timestamptz NOT NULL,
        attempt      integer NOT NULL,
        replica      text NOT NULL,
        started_at   timestamptz NOT NULL DEFAULT now(),
        finished_at  timestamptz,
        -- NULL while in flight; 'lost' when its replica died before recording it.
        outcome      text,
        status_code  integer,
        duration_ms  integer,
        error        text,
        PRIMARY KEY (job_id, scheduled_at, attempt),
        FOREIGN KEY (job_id, scheduled_at) REFERENCES ${t.deliveries} (job_id, scheduled_at) ON DELETE CASCADE
      );
    `,
  },
  {
    version: 6,
    name: "job owners",
    // Who saved a job and the scopes their token held: a target that is a dbplane command or
    // event fires only while the recorded scopes grant `admin`. Jobs saved before have no owner
    // and no scopes, so such targets stop firing until an admin (or the service that schedules
    // them over NATS) saves them again. The partial index counts an owner's live jobs for the cap.
    sql: (t) => `
      ALTER TABLE ${t.jobs} ADD COLUMN owner text, ADD COLUMN owner_scopes text[] NOT NULL DEFAULT '{}';
      CREATE INDEX jobs_owner_live_idx ON ${t.jobs} (owner) WHERE state IN ('active', 'paused');
    `,
  },
  {
    version: 7,
    name: "delivery events outbox",
    // A delivery that ended (succeeded or failed) is announced by job.delivered or
    // job.delivery-failed; `announced_at` stays NULL until the event is published, so a replica
    // that dies between recording the end and publishing leaves it for another one to publish
    // (the event id derives from the delivery: JetStream drops the repeat). `end_reason` is why a
    // failed one ended. Deliveries that ended before this version are not announced.
    sql: (t) => `
      ALTER TABLE ${t.deliveries} ADD COLUMN announced_at timestamptz, ADD COLUMN end_reason text;
      UPDATE ${t.deliveries} SET announced_at = finished_at WHERE state IN ('succeeded', 'failed');
      CREATE INDEX deliveries_unannounced_idx ON ${t.deliveries} (finished_at)
        WHERE state IN ('succeeded', 'failed') AND announced_at IS NULL;
    `,
  },
];

/** The latest schema version this code needs. */
export const latestSchemaVersion = migrations.at(-1)?.version ?? 0;

/**
 * Brings the scheduler's schema up to date. Idempotent, and safe when several replicas start
 * together: the whole run holds a transaction-scoped advisory lock keyed on the schema, so one
 * replica migrates while the others wait, then find nothing left to do.
 * @returns the versions this call applied (empty when already current).
 */
export async function migrate(pool: pg.Pool, schema?: string): Promise<number[]> {
  return migrateSchema(pool, "scheduler", schedulerTables(schema), migrations);
}
