import type pg from "pg";

const LOCK = "hashtext('dbplane.provisioner.reconcile'), hashtext($1)";

/**
 * Runs `work` holding the database's session-level advisory lock (on a connection held for the
 * work), or returns `undefined` without running it when another holds it. Reconcile passes and
 * failovers take the same lock: one replica at a time changes a database's servers, and a
 * replica that dies releases its locks with its connections.
 *
 * A pass tries once (`pg_try_advisory_lock`): the next pass comes soon. `waitMs` waits that long
 * for the lock instead (`lock_timeout`, which bounds advisory lock waits too): a failover must
 * not lose to the passes that run meanwhile — a pass every 500 ms holding the lock for most of
 * it left a shard's failover finding the lock taken round after round.
 */
export async function withDatabaseLock<T>(
  pool: pg.Pool,
  schema: string,
  name: string,
  work: () => Promise<T>,
  waitMs?: number,
): Promise<T | undefined> {
  const client = await pool.connect();
  const key = `${schema}:${name}`;
  let locked = false;
  try {
    locked = waitMs === undefined ? await tryLock(client, key) : await waitForLock(client, key, waitMs);
  } catch (err) {
    // Whether it holds the lock is unknown: the connection is closed (which releases it), not reused.
    client.release(err instanceof Error ? err : true);
    throw err;
  }
  try {
    if (!locked) return undefined;
    return await work();
  } finally {
    if (locked) await client.query(`SELECT pg_advisory_unlock(${LOCK})`, [key]).catch(() => {});
    client.release();
  }
}

async function tryLock(client: pg.PoolClient, key: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${LOCK}) AS ok`, [key]);
  return rows[0]?.ok === true;
}

/** The session lock, taken in a transaction only for its `SET LOCAL lock_timeout` (it outlives it). */
async function waitForLock(client: pg.PoolClient, key: string, waitMs: number): Promise<boolean> {
  await client.query("BEGIN");
  try {
    await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(waitMs))}`);
    await client.query(`SELECT pg_advisory_lock(${LOCK})`, [key]);
    await client.query("COMMIT");
    return true;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    // 55P03 lock_not_available: lock_timeout ran out.
    if ((err as { code?: string }).code === "55P03") return false;
    throw err;
  }
}
