import { inTransaction } from "@dbplane/service-kit";
import type pg from "pg";
import type { OperationKind } from "../domain/states.ts";
import { type DatabaseRow, toDatabase } from "./rows.ts";
import type { ProvisionerTables } from "./schema-tables.ts";

/** What every progress transition needs: the pool and the schema's table names. */
export interface ProgressContext {
  readonly pool: pg.Pool;
  readonly t: ProvisionerTables;
}

const REASON_MAX = 2_000;

/** A failure reason short enough to store and announce. */
export const clipReason = (reason: string) =>
  reason.length > REASON_MAX ? `${reason.slice(0, REASON_MAX - 1)}…` : reason;

/** A transaction with the database row locked; `db` is undefined when it is no longer at the version asked. */
export interface LockedDatabase {
  readonly client: pg.PoolClient;
  readonly t: ProvisionerTables;
  readonly db: DatabaseRow | undefined;
}

/**
 * Runs `work` in a transaction holding the database locked if it is still at the version the
 * reconcile pass read; else `db` is undefined (a change accepted meanwhile made the pass's result
 * stale: the next pass redoes it).
 */
export function atVersion<R>(
  { pool, t }: ProgressContext,
  name: string,
  version: number,
  work: (locked: LockedDatabase) => Promise<R>,
): Promise<R> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query(
      `SELECT * FROM ${t.databases} WHERE name = $1 AND version = $2 FOR UPDATE`,
      [name, version],
    );
    return work({ client, t, db: rows[0] ? toDatabase(rows[0]) : undefined });
  });
}

/** Ends the database's pending operations of these kinds up to `version`: failed with `error`, else succeeded. */
export async function finishOperations(
  client: pg.PoolClient,
  t: ProvisionerTables,
  op: { name: string; kinds: readonly OperationKind[]; version: number; error?: string },
): Promise<void> {
  await client.query(
    `UPDATE ${t.operations} SET state = $4, error = $5, finished_at = now()
     WHERE database = $1 AND state = 'pending' AND kind = ANY($2) AND target_version <= $3`,
    [op.name, op.kinds, op.version, op.error === undefined ? "succeeded" : "failed", op.error ?? null],
  );
}
