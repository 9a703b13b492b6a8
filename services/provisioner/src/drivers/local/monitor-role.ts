import { createScramVerifier } from "@dbplane/pgwire";
import { isVerifierOf, MONITOR_USER, monitorRoleStatements } from "../../domain/monitoring-role.ts";
import { type AdminTarget, withConnection } from "./local-server.ts";

/**
 * Makes the monitoring role as it should be on a shard's primary: LOGIN with `password`, a member
 * of pg_monitor, nothing more. Writes only on a difference, so a healthy shard's pass changes
 * nothing and a hand-made change (a dropped role, a new password, a superuser flag) is repaired.
 */
export async function ensureMonitorRole(
  target: AdminTarget,
  superuserPassword: string,
  password: string,
): Promise<void> {
  await withConnection(target, superuserPassword, "postgres", async (client) => {
    const { rows } = await client.query<{ rolpassword: string | null; plain: boolean; monitors: boolean }>(
      `SELECT rolpassword,
              rolcanlogin AND NOT (rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls) AS plain,
              pg_has_role(oid, 'pg_monitor', 'MEMBER') AS monitors
         FROM pg_authid WHERE rolname = $1`,
      [MONITOR_USER],
    );
    const role = rows[0];
    if (role?.plain && role.monitors && isVerifierOf(password, role.rolpassword)) return;
    const verifier = client.escapeLiteral(createScramVerifier(password));
    for (const sql of monitorRoleStatements(verifier, role !== undefined)) await client.query(sql);
  });
}
