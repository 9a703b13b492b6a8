import type pg from "pg";
import { deleteRange } from "./range-delete.ts";
import type { RangeMoveSpec } from "./range-move-spec.ts";
import { quotedTable, rangeFilter } from "./range-sql.ts";

/** How long ending a left-behind copy connection may take before the caller's step fails (and is retried). */
const TERMINATE_WAIT_MS = 5_000;

/**
 * Ends every connection of a copy that another process (or an earlier attempt) left running on
 * `client`'s server, the snapshot's replication connection included: a copy still committing
 * parts must not race the rows being cleared, nor hold the slot.
 */
export async function endCopySessions(client: pg.Client, applicationName: string): Promise<void> {
  await client.query(
    `SELECT pg_terminate_backend(pid, ${TERMINATE_WAIT_MS}) FROM pg_stat_activity
      WHERE application_name = $1 AND pid <> pg_backend_pid()`,
    [applicationName],
  );
}

/**
 * Empties the range on the target after an interrupted copy (its committed parts stay there): a
 * table that holds nothing else is truncated, unless the target serves other ranges (TRUNCATE
 * would wait for their readers and block every new one); otherwise the range's rows are deleted
 * in batches.
 */
export async function clearTargetRange(target: pg.Client, spec: RangeMoveSpec): Promise<void> {
  for (const t of spec.tables) {
    const filter = rangeFilter(t, spec.from, spec.to);
    const name = quotedTable(t.table);
    let onlyRange = !spec.targetServes;
    if (onlyRange && filter !== null) {
      const { rows } = await target.query<{ only: boolean }>(
        `SELECT NOT EXISTS (SELECT 1 FROM ${name} WHERE NOT (${filter})) AS only`,
      );
      onlyRange = rows[0]!.only;
    }
    if (onlyRange) await target.query(`TRUNCATE ${name}`);
    else await deleteRange(target, t, spec.from, spec.to, () => {});
  }
}
