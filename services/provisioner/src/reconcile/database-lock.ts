import type pg from "pg";

/**
 * Runs `work` holding the database's session-level advisory lock (`pg_try_advisory_lock` on a
 * connection held for the work), or returns `undefined` without running it when another replica
 * holds it. Reconcile passes and failovers take the same lock: one replica at a time changes a
 * database's servers, and a replica that dies releases its locks with its connections.
 */
export async function withDatabaseLock<T>(
  pool: pg.Pool,
  schema: string,
  name: string,
  work: () => Promise<T>,
): Promise<T | undefined> {
  const client = await pool.connect();
  let locked = false;
  try {
    const { rows } = await client.query<{ ok: boolean }>(
      "SELECT pg_try_advisory_lock(hashtext('dbplane.provisioner.reconcile'), hashtext($1)) AS ok",
      [`${schema}:${name}`],
    );
    locked = rows[0]?.ok === true;
    if (!locked) return undefined;
    return await work();
  } finally {
    if (locked) {
      await client
        .query("SELECT pg_advisory_unlock(hashtext('dbplane.provisioner.reconcile'), hashtext($1))", [
          `${schema}:${name}`,
        ])
        .catch(() => {});
    }
    client.release();
  }
}
