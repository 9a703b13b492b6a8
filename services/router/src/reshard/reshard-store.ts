import type { ReshardPhase } from "@dbplane/contracts";
import { ConflictError, NotFoundError } from "@dbplane/service-kit";
import type pg from "pg";
import { type RouterTables, routerTables } from "../store/schema-tables.ts";

export type ReshardState = "running" | "completed" | "failed" | "cancelled";
export type ReshardKind = "split" | "move" | "merge";

/** Who asked for a reshard, as `reshard.started` reports it. */
export interface ReshardTrigger {
  readonly by: "api" | "command" | "auto";
  readonly reason?: string;
}

/** Per table, what the verification found on each side. */
export interface TableVerification {
  readonly table: string;
  readonly source: { readonly rows: number; readonly checksum: string };
  readonly target: { readonly rows: number; readonly checksum: string };
  readonly equal: boolean;
}

/** One reshard operation as stored: the phase is where a resumed runner picks it up. */
export interface Reshard {
  readonly id: string;
  readonly database: string;
  readonly kind: ReshardKind;
  readonly sourceShard: number;
  /** The shard taking the moved range, once chosen (asked for, found empty, or added). */
  readonly targetShard: number | null;
  /** The target served other ranges when the reshard began: only sharded rows move, hidden there until the cut-over. */
  readonly targetServes: boolean;
  /** The shard the request named, if any. */
  readonly toShard: number | null;
  /**
   * The shard the provisioner was asked to add for this reshard (the index it will get, recorded
   * before add-shard is sent). Only this one is removed again when the reshard ends before its cut-over.
   */
  readonly addedShard: number | null;
  /** The split point asked for (decimal), or null for the median of the rows. */
  readonly splitAt: string | null;
  /** The moved range [from, to), once the split point is chosen. */
  readonly rangeFrom: string | null;
  readonly rangeTo: string | null;
  readonly phase: ReshardPhase;
  readonly state: ReshardState;
  readonly cancelRequested: boolean;
  readonly trigger: ReshardTrigger;
  readonly rowsCopied: number;
  readonly rowsTotal: number;
  readonly lagBytes: number | null;
  /** The longest time writes to the source were held at a fence (verification or cut-over). */
  readonly writePauseMs: number | null;
  readonly verification: readonly TableVerification[] | null;
  /** The shard map version the cut-over publishes (recorded before it is published). */
  readonly mapVersion: number | null;
  /** Failed attempts of the current phase. */
  readonly attempts: number;
  readonly error: string | null;
  readonly owner: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly finishedAt: Date | null;
}

interface ReshardRow {
  id: string;
  database: string;
  kind: ReshardKind;
  source_shard: number;
  target_shard: number | null;
  target_serves: boolean;
  to_shard: number | null;
  added_shard: number | null;
  split_at: string | null;
  range_from: string | null;
  range_to: string | null;
  phase: ReshardPhase;
  state: ReshardState;
  cancel_requested: boolean;
  trigger: ReshardTrigger;
  rows_copied: string;
  rows_total: string;
  lag_bytes: string | null;
  write_pause_ms: number | null;
  verification: TableVerification[] | null;
  map_version: number | null;
  attempts: number;
  error: string | null;
  owner: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

function fromRow(r: ReshardRow): Reshard {
  return {
    id: r.id,
    database: r.database,
    kind: r.kind,
    sourceShard: r.source_shard,
    targetShard: r.target_shard,
    targetServes: r.target_serves,
    toShard: r.to_shard,
    addedShard: r.added_shard,
    splitAt: r.split_at,
    rangeFrom: r.range_from,
    rangeTo: r.range_to,
    phase: r.phase,
    state: r.state,
    cancelRequested: r.cancel_requested,
    trigger: r.trigger,
    rowsCopied: Number(r.rows_copied),
    rowsTotal: Number(r.rows_total),
    lagBytes: r.lag_bytes === null ? null : Number(r.lag_bytes),
    writePauseMs: r.write_pause_ms,
    verification: r.verification,
    mapVersion: r.map_version,
    attempts: r.attempts,
    error: r.error,
    owner: r.owner,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

/** What a runner may change on the reshard it holds. */
export interface ReshardPatch {
  readonly targetShard?: number;
  readonly addedShard?: number;
  readonly rangeFrom?: string;
  readonly rangeTo?: string;
  readonly phase?: ReshardPhase;
  readonly state?: ReshardState;
  readonly rowsCopied?: number;
  readonly rowsTotal?: number;
  readonly lagBytes?: number | null;
  readonly writePauseMs?: number;
  readonly verification?: readonly TableVerification[];
  readonly mapVersion?: number;
  readonly attempts?: number;
  readonly error?: string | null;
}

const COLUMN: Record<keyof ReshardPatch, string> = {
  targetShard: "target_shard",
  addedShard: "added_shard",
  rangeFrom: "range_from",
  rangeTo: "range_to",
  phase: "phase",
  state: "state",
  rowsCopied: "rows_copied",
  rowsTotal: "rows_total",
  lagBytes: "lag_bytes",
  writePauseMs: "write_pause_ms",
  verification: "verification",
  mapVersion: "map_version",
  attempts: "attempts",
  error: "error",
};

export interface NewReshard {
  readonly id: string;
  readonly database: string;
  /** Default split. A move or merge names its range and target from the start. */
  readonly kind?: ReshardKind;
  readonly sourceShard: number;
  readonly targetShard?: number;
  readonly targetServes?: boolean;
  readonly range?: { readonly from: string; readonly to: string };
  readonly toShard?: number;
  readonly splitAt?: string;
  readonly trigger: ReshardTrigger;
}

/** The runner no longer holds the reshard (its lease ran out and another replica took it). */
export class ReshardLeaseLostError extends Error {
  override readonly name = "ReshardLeaseLostError";
}

/** The router's reshard table: requests, claims with a lease, and guarded progress. */
export class ReshardStore {
  readonly #pool: pg.Pool;
  readonly #t: RouterTables;

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#t = routerTables(schema);
  }

  /**
   * Records a new reshard in phase `provisioning`. The same id again returns the stored one (a
   * redelivered command); another reshard already running on the database is a ConflictError.
   */
  async create(input: NewReshard): Promise<{ reshard: Reshard; created: boolean }> {
    try {
      const { rows } = await this.#pool.query<ReshardRow>(
        `INSERT INTO ${this.#t.reshards}
           (id, database, kind, source_shard, target_shard, target_serves, to_shard, split_at, range_from, range_to, phase, trigger)
         VALUES ($1, $2, $3, $4, $5, $11, $6, $7, $8, $9, 'provisioning', $10)
         ON CONFLICT (id) DO NOTHING RETURNING *`,
        [
          input.id,
          input.database,
          input.kind ?? "split",
          input.sourceShard,
          input.targetShard ?? null,
          input.toShard ?? null,
          input.splitAt ?? null,
          input.range?.from ?? null,
          input.range?.to ?? null,
          JSON.stringify(input.trigger),
          input.targetServes ?? false,
        ],
      );
      if (rows[0]) return { reshard: fromRow(rows[0]), created: true };
    } catch (err) {
      if ((err as { code?: string }).code === "23505") {
        const running = await this.running(input.database);
        throw new ConflictError(
          `a reshard of ${input.database} is already running${running ? `: ${running.id} (${running.phase})` : ""}`,
        );
      }
      throw err;
    }
    const existing = await this.get(input.database, input.id);
    if (!existing) throw new ConflictError(`reshard id ${input.id} belongs to another database`);
    return { reshard: existing, created: false };
  }

  async get(database: string, id: string): Promise<Reshard | undefined> {
    const { rows } = await this.#pool.query<ReshardRow>(
      `SELECT * FROM ${this.#t.reshards} WHERE database = $1 AND id = $2`,
      [database, id],
    );
    return rows[0] && fromRow(rows[0]);
  }

  async running(database: string): Promise<Reshard | undefined> {
    const { rows } = await this.#pool.query<ReshardRow>(
      `SELECT * FROM ${this.#t.reshards} WHERE database = $1 AND state = 'running'`,
      [database],
    );
    return rows[0] && fromRow(rows[0]);
  }

  /** The newest first, at most `limit`. */
  async list(database: string, limit = 100): Promise<Reshard[]> {
    const { rows } = await this.#pool.query<ReshardRow>(
      `SELECT * FROM ${this.#t.reshards} WHERE database = $1 ORDER BY created_at DESC, id LIMIT $2`,
      [database, limit],
    );
    return rows.map(fromRow);
  }

  /**
   * Asks the runner to cancel. Refused (ConflictError) once the cut-over has begun — from then
   * on the operation finishes forward — and for one that has ended.
   */
  async requestCancel(database: string, id: string): Promise<Reshard> {
    const { rows } = await this.#pool.query<ReshardRow>(
      `UPDATE ${this.#t.reshards} SET cancel_requested = true, updated_at = now()
       WHERE database = $1 AND id = $2 AND state = 'running'
         AND phase IN ('provisioning', 'copying', 'catching-up', 'verifying')
       RETURNING *`,
      [database, id],
    );
    if (rows[0]) return fromRow(rows[0]);
    const current = await this.get(database, id);
    if (!current) throw new NotFoundError(`no reshard ${id} of ${database}`);
    throw new ConflictError(
      current.state === "running"
        ? `reshard ${id} is ${current.phase}: past the point where it can be cancelled`
        : `reshard ${id} has already ended (${current.state})`,
    );
  }

  /** Takes a running reshard nobody holds (or whose holder's lease ran out) for `leaseMs`. */
  async claim(owner: string, leaseMs: number): Promise<Reshard | undefined> {
    const { rows } = await this.#pool.query<ReshardRow>(
      `UPDATE ${this.#t.reshards} SET owner = $1, lease_expires_at = now() + $2 * interval '1 millisecond'
       WHERE id = (
         SELECT id FROM ${this.#t.reshards}
         WHERE state = 'running' AND (owner IS NULL OR lease_expires_at < now())
         ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [owner, leaseMs],
    );
    return rows[0] && fromRow(rows[0]);
  }

  /** Extends the lease; ReshardLeaseLostError when another runner holds it now. */
  async renew(id: string, owner: string, leaseMs: number): Promise<Reshard> {
    const { rows } = await this.#pool.query<ReshardRow>(
      `UPDATE ${this.#t.reshards} SET lease_expires_at = now() + $3 * interval '1 millisecond'
       WHERE id = $1 AND owner = $2 AND state = 'running' RETURNING *`,
      [id, owner, leaseMs],
    );
    if (!rows[0]) throw new ReshardLeaseLostError(`reshard ${id} is no longer held by ${owner}`);
    return fromRow(rows[0]);
  }

  /** Applies `patch` if `owner` still holds the reshard; an ending state releases it. */
  async update(id: string, owner: string, patch: ReshardPatch): Promise<Reshard> {
    const sets: string[] = [];
    const values: unknown[] = [id, owner];
    for (const [key, value] of Object.entries(patch) as [keyof ReshardPatch, unknown][]) {
      if (value === undefined) continue;
      values.push(key === "verification" ? JSON.stringify(value) : value);
      sets.push(`${COLUMN[key]} = $${values.length}`);
    }
    if (patch.state !== undefined && patch.state !== "running") {
      sets.push("finished_at = now()", "owner = NULL", "lease_expires_at = NULL");
    }
    const { rows } = await this.#pool.query<ReshardRow>(
      `UPDATE ${this.#t.reshards} SET ${[...sets, "updated_at = now()"].join(", ")}
       WHERE id = $1 AND owner = $2 AND state = 'running' RETURNING *`,
      values,
    );
    if (!rows[0]) throw new ReshardLeaseLostError(`reshard ${id} is no longer held by ${owner}`);
    return fromRow(rows[0]);
  }

  /** Gives the reshard back without ending it (this replica is shutting down). */
  async release(id: string, owner: string): Promise<void> {
    await this.#pool.query(
      `UPDATE ${this.#t.reshards} SET owner = NULL, lease_expires_at = NULL WHERE id = $1 AND owner = $2`,
      [id, owner],
    );
  }
}
