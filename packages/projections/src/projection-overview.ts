import type pg from "pg";
import type { CoordinationTables } from "./coordination-tables.ts";

/** One unit as `GET /v1/projections` shows it. */
export interface UnitOverview {
  readonly projection: string;
  readonly generation: number;
  readonly version: number;
  readonly state: "building" | "active" | "retired";
  readonly partition: number;
  readonly owner: string | null;
  readonly token: number;
  readonly checkpoint: number;
  readonly checkpointAt: Date | null;
  readonly appliedEvents: number;
  readonly lastEventTime: Date | null;
  /** As the owner reported with its last heartbeat; null when unowned. */
  readonly lagEvents: number | null;
  readonly lagSeconds: number | null;
}

/** Every unit of the building and active generations, with owner, checkpoint and lag. */
export async function projectionOverview(pool: pg.Pool, t: CoordinationTables): Promise<UnitOverview[]> {
  const { rows } = await pool.query<UnitOverview>(
    `SELECT u.projection, u.generation, g.version, g.state, u.partition, u.owner, u.token::float8 AS token,
            u.checkpoint::float8 AS checkpoint, u.checkpoint_at AS "checkpointAt",
            u.applied_events::float8 AS "appliedEvents", u.last_event_time AS "lastEventTime",
            (m.status -> (u.projection || '/' || u.generation || '/' || u.partition) ->> 0)::float8 AS "lagEvents",
            (m.status -> (u.projection || '/' || u.generation || '/' || u.partition) ->> 1)::float8 AS "lagSeconds"
     FROM ${t.units} u
     JOIN ${t.generations} g USING (projection, generation)
     LEFT JOIN ${t.members} m ON m.id = u.owner
     WHERE g.state IN ('building', 'active')
     ORDER BY u.projection, u.generation, u.partition`,
  );
  return rows;
}
