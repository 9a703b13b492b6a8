import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { RangeMoveError } from "./range-move-error.ts";

const POLL_MS = 10;
/** How often an idle source is nudged (see emitKeepalive). */
const KEEPALIVE_EVERY_MS = 1_000;

/**
 * A tiny committed WAL record that touches no table: an idle source's walsender has nothing to send
 * past its last change, so the slot's confirmed position would never reach `lsn`. Transactional,
 * unlike the cheaper non-transactional message, because PostgreSQL 15 does not flush a
 * non-transactional message's WAL (nor, under synchronous_commit=off, an async commit's at once),
 * and the walsender sends only flushed WAL. pgoutput does not
 * forward messages to a subscription that did not ask for them, so the target sees nothing.
 */
async function emitKeepalive(source: pg.Client): Promise<void> {
  // Its commit flushes all WAL before it, so the walsender may send every commit up to the caller's lsn.
  await source.query(
    "BEGIN; SET LOCAL synchronous_commit = on; SELECT pg_logical_emit_message(true, 'dbplane', 'keepalive'); COMMIT",
  );
}

/**
 * Until the target applied everything of the source up to `lsn`: every table ready (a table still in
 * its sync has its own catch-up, which the slot's position does not describe) and the slot's
 * confirmed_flush_lsn at or past `lsn` (the subscriber confirms a position after committing it).
 * @throws RangeMoveError APPLY_TIMEOUT after timeoutMs, NOT_STARTED without the slot or subscription
 */
export async function waitApplied(
  source: pg.Client,
  target: pg.Client,
  name: string,
  lsn: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let nudged = 0;
  for (;;) {
    const slot = await source.query<{ applied: boolean; confirmed: string | null }>(
      `SELECT confirmed_flush_lsn >= $2::pg_lsn AS applied, confirmed_flush_lsn::text AS confirmed
         FROM pg_replication_slots WHERE slot_name = $1`,
      [name, lsn],
    );
    const sync = await target.query<{ exists: boolean; ready: boolean }>(
      `SELECT count(*) > 0 AS exists, coalesce(bool_and(sr.srsubstate = 'r'), false) AS ready
         FROM pg_subscription s JOIN pg_subscription_rel sr ON sr.srsubid = s.oid
        WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [name],
    );
    const state = slot.rows[0];
    if (!state || !sync.rows[0]?.exists) {
      throw new RangeMoveError(
        "NOT_STARTED",
        `no slot or subscription ${name}: start() has not run or finish() has`,
      );
    }
    if (state.applied && sync.rows[0].ready) return;
    if (Date.now() > deadline) {
      throw new RangeMoveError(
        "APPLY_TIMEOUT",
        `target has not applied the source up to ${lsn} within ${timeoutMs} ms (confirmed ${state.confirmed}, all tables ready: ${sync.rows[0].ready})`,
      );
    }
    if (Date.now() - nudged >= KEEPALIVE_EVERY_MS) {
      await emitKeepalive(source);
      nudged = Date.now();
    }
    await sleep(POLL_MS);
  }
}
