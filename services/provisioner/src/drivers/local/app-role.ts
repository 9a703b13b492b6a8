import { APP_USER, appRoleStatements } from "../../domain/application-role.ts";
import { type AdminTarget, withConnection } from "./local-server.ts";

/**
 * Makes the application role as it should be on a shard's primary: LOGIN with the verifier, no
 * superuser/CREATEDB/CREATEROLE/REPLICATION/BYPASSRLS, owner of the database. Reads the current
 * state first and writes only on a difference, so a reconcile pass of a healthy shard changes
 * nothing (and a hand-made change — a dropped role, a new password — is repaired).
 */
export async function ensureAppRole(
  target: AdminTarget,
  superuserPassword: string,
  database: string,
  verifier: string,
): Promise<void> {
  await withConnection(target, superuserPassword, "postgres", async (client) => {
    const { rows } = await client.query<{ as_wanted: boolean; owner: boolean }>(
      `SELECT a.rolpassword = $2 AND a.rolcanlogin AND NOT (a.rolsuper OR a.rolcreatedb OR a.rolcreaterole
                OR a.rolreplication OR a.rolbypassrls) AS as_wanted,
              d.datdba = a.oid AS owner
         FROM pg_authid a LEFT JOIN pg_database d ON d.datname = $3
        WHERE a.rolname = $1`,
      [APP_USER, verifier, database],
    );
    const role = rows[0];
    if (role?.as_wanted && role.owner) return;
    for (const sql of appRoleStatements(database, client.escapeLiteral(verifier), role !== undefined)) {
      await client.query(sql);
    }
  });
}
