import { createScramVerifier, parseScramVerifier } from "@dbplane/pgwire";

/**
 * Name of the monitoring role on every shard: what the collector connects as. It may read the
 * statistics views and settings (`pg_monitor`) and nothing else — no superuser, so no
 * `COPY … PROGRAM`, no file access, no data of the application's tables.
 */
export const MONITOR_USER = "dbplane_monitor";

/** The keys of the shard's credentials (Secret keys, or file names of the local driver). */
export const MONITOR_KEYS = { password: "monitor-password", verifier: "monitor-verifier" } as const;

const ROLE_OPTIONS = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT";

/**
 * Statements that make the monitoring role as it should be on one primary, run by the superuser.
 * As for the application role, the password reaches the server only as its SCRAM verifier and
 * the session logs no statement.
 */
export function monitorRoleStatements(quotedVerifier: string, roleExists: boolean): string[] {
  return [
    "SET log_statement = 'none'",
    "SET log_min_error_statement = 'panic'",
    `${roleExists ? "ALTER" : "CREATE"} ROLE ${MONITOR_USER} WITH ${ROLE_OPTIONS} PASSWORD ${quotedVerifier}`,
    `GRANT pg_monitor TO ${MONITOR_USER}`,
  ];
}

/**
 * The same for psql in the shard's pod: `:'monitor_verifier'` is the verifier from the shard's
 * credentials Secret, quoted by psql, and `\gexec` runs the statement built from it.
 */
export function monitorRolePsql(): string {
  return [
    `SELECT 'CREATE ROLE ${MONITOR_USER}' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${MONITOR_USER}') \\gexec`,
    `SELECT format('ALTER ROLE ${MONITOR_USER} WITH ${ROLE_OPTIONS} PASSWORD %L', :'monitor_verifier') \\gexec`,
    `GRANT pg_monitor TO ${MONITOR_USER};`,
  ].join("\n");
}

/**
 * Whether `stored` (a role's rolpassword) is a verifier of `password`: derived again with its salt
 * and iteration count, it must come out the same. So a pass that finds the role as it should be
 * changes nothing, though each new verifier has a new random salt.
 */
export function isVerifierOf(password: string, stored: string | null | undefined): boolean {
  if (!stored) return false;
  try {
    const { salt, iterations } = parseScramVerifier(stored);
    return createScramVerifier(password, { salt, iterations }) === stored;
  } catch {
    return false; // md5 or plain text: not ours, made again
  }
}
