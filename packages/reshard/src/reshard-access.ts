import { createScramVerifier, parseScramVerifier } from "@dbplane/pgwire";
import pg from "pg";

/**
 * The role a reshard logs in as when it is not a superuser: LOGIN REPLICATION BYPASSRLS, a member
 * of the database's owner role, allowed to SET session_replication_role — and nothing else.
 */
export const RESHARD_ROLE = "dbplane_reshard";

/** The schema of the subscription wrappers; owned by the superuser that installed them. */
export const RESHARD_SCHEMA = "dbplane_reshard";

/**
 * What the provisioner installs on a shard, as a superuser, so a reshard never needs one.
 *
 * PostgreSQL 15 lets only a superuser run CREATE/ALTER/DROP SUBSCRIPTION (16 adds
 * `pg_create_subscription`, still with the apply worker running as the owner). Everything else a
 * range move does works for a role that owns the tables (a member of the owner role), has
 * REPLICATION (the slot, the snapshot, the subscription's walsender), BYPASSRLS (the moved rows
 * are hidden by row-level security while they move) and may SET session_replication_role (the
 * copy, like PostgreSQL's own apply, fires no triggers). The subscription commands go through two
 * SECURITY DEFINER functions owned by the superuser, executable by that role only, which accept
 * only subscriptions named `dbplane_rs_*` and a publisher whose host:port is on this shard's
 * allow-list — so the role cannot point a superuser-owned apply worker at a server of its choosing.
 */
export interface ReshardAccess {
  /** The role's password: it reaches the server only as a SCRAM verifier, in a session that logs no statement. */
  readonly password: string;
  /** The database's owner role: the tables are its, and the reshard role becomes a member. */
  readonly owner: string;
  /**
   * The publishers a subscription on this shard may connect to: an anchored regular expression over
   * the host, and a port (absent: any port). The same database's other shards, as this server
   * reaches them.
   */
  readonly publishers: readonly { readonly hostPattern: string; readonly port?: number }[];
}

/** Marks what installed the wrappers: a newer dbplane replaces older ones on its first pass. */
const ACCESS_VERSION = "dbplane reshard access v1";

/** A libpq conninfo value quoted inside SQL: ' and \ escaped as libpq wants. */
const CONNINFO_VALUE = String.raw`'''' || replace(replace(%s, '\', '\\'), '''', '\''') || ''''`;

function quoted(expression: string): string {
  return CONNINFO_VALUE.replace("%s", expression);
}

/**
 * The statements, in order, for the current database of a superuser connection. Idempotent: run on
 * every reconcile, they repair a hand-made change (a lost attribute, a changed allow-list).
 */
const ROLE_ATTRIBUTES = "LOGIN REPLICATION BYPASSRLS NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT";

export function reshardAccessStatements(
  access: Omit<ReshardAccess, "password">,
  verifier: string,
  roleExists: boolean,
): string[] {
  const role = pg.escapeIdentifier(RESHARD_ROLE);
  const attributes = `${ROLE_ATTRIBUTES} PASSWORD ${pg.escapeLiteral(verifier)}`;
  return [
    roleExists ? `ALTER ROLE ${role} WITH ${attributes}` : `CREATE ROLE ${role} WITH ${attributes}`,
    ...grantsAndWrappers(access),
  ];
}

/**
 * The same for psql, in the shard's pod (Kubernetes driver): `:'<verifierVariable>'` is the
 * verifier from the shard's Secret, quoted by psql, and `\gexec` runs the statement built from it.
 * Run in the database's own database (the wrappers' schema lives there).
 */
export function reshardAccessPsql(
  access: Omit<ReshardAccess, "password">,
  verifierVariable = "reshard_verifier",
): string {
  return [
    `SELECT 'CREATE ROLE ${RESHARD_ROLE}' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${RESHARD_ROLE}') \\gexec`,
    `SELECT format('ALTER ROLE ${RESHARD_ROLE} WITH ${ROLE_ATTRIBUTES} PASSWORD %L', :'${verifierVariable}') \\gexec`,
    ...grantsAndWrappers(access).map((sql) => `${sql};`),
  ].join("\n");
}

function grantsAndWrappers(access: Omit<ReshardAccess, "password">): string[] {
  const role = pg.escapeIdentifier(RESHARD_ROLE);
  const schema = pg.escapeIdentifier(RESHARD_SCHEMA);
  const owner = pg.escapeIdentifier(access.owner);
  const rows = access.publishers
    .map((p) => `(${pg.escapeLiteral(p.hostPattern)}, ${p.port ?? "NULL"})`)
    .join(", ");
  return [
    `GRANT ${owner} TO ${role}`,
    `GRANT SET ON PARAMETER session_replication_role TO ${role}`,
    `CREATE SCHEMA IF NOT EXISTS ${schema} AUTHORIZATION CURRENT_USER`,
    `COMMENT ON SCHEMA ${schema} IS ${pg.escapeLiteral(ACCESS_VERSION)}`,
    `REVOKE ALL ON SCHEMA ${schema} FROM PUBLIC`,
    `GRANT USAGE ON SCHEMA ${schema} TO ${role}`,
    `CREATE TABLE IF NOT EXISTS ${schema}.publishers (host_pattern text NOT NULL, port int)`,
    `REVOKE ALL ON ${schema}.publishers FROM PUBLIC`,
    `DELETE FROM ${schema}.publishers`,
    ...(rows ? [`INSERT INTO ${schema}.publishers VALUES ${rows}`] : []),
    `CREATE OR REPLACE FUNCTION ${schema}.create_subscription(
       name text, host text, port int, dbname text, login text, password text, application_name text)
     RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
     BEGIN
       IF name !~ '^dbplane_rs_[a-z0-9_]{1,40}$' THEN
         RAISE EXCEPTION 'subscription % is not a reshard''s', name USING ERRCODE = '42501';
       END IF;
       IF NOT EXISTS (SELECT 1 FROM ${schema}.publishers p
                       WHERE host ~ p.host_pattern AND (p.port IS NULL OR p.port = create_subscription.port)) THEN
         RAISE EXCEPTION 'publisher %:% is not on this shard''s allow-list', host, port USING ERRCODE = '42501';
       END IF;
       EXECUTE format(
         'CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION %I WITH (create_slot = false, slot_name = %L, '
           'copy_data = false, enabled = false, synchronous_commit = ''on'')',
         name,
         concat_ws(' ', 'host=' || ${quoted("host")}, 'port=' || port::text, 'dbname=' || ${quoted("dbname")},
                   'user=' || ${quoted("login")}, 'password=' || ${quoted("password")},
                   'application_name=' || ${quoted("application_name")}),
         name, name);
     END $fn$`,
    `CREATE OR REPLACE FUNCTION ${schema}.alter_subscription(name text, action text)
     RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
     BEGIN
       IF name !~ '^dbplane_rs_[a-z0-9_]{1,40}$' THEN
         RAISE EXCEPTION 'subscription % is not a reshard''s', name USING ERRCODE = '42501';
       END IF;
       CASE action
         WHEN 'enable' THEN EXECUTE format('ALTER SUBSCRIPTION %I ENABLE', name);
         WHEN 'disable' THEN EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', name);
         WHEN 'drop' THEN
           EXECUTE format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', name);
           EXECUTE format('DROP SUBSCRIPTION %I', name);
         ELSE RAISE EXCEPTION 'unknown action %', action USING ERRCODE = '22023';
       END CASE;
     END $fn$`,
    `REVOKE ALL ON FUNCTION ${schema}.create_subscription(text, text, int, text, text, text, text) FROM PUBLIC`,
    `REVOKE ALL ON FUNCTION ${schema}.alter_subscription(text, text) FROM PUBLIC`,
    `GRANT EXECUTE ON FUNCTION ${schema}.create_subscription(text, text, int, text, text, text, text) TO ${role}`,
    `GRANT EXECUTE ON FUNCTION ${schema}.alter_subscription(text, text) TO ${role}`,
  ];
}

function isVerifierOf(password: string, stored: string | null | undefined): boolean {
  if (!stored?.startsWith("SCRAM-SHA-256$")) return false;
  const { salt, iterations } = parseScramVerifier(stored);
  return createScramVerifier(password, { salt, iterations }) === stored;
}

/** Whether the role, the wrappers and the allow-list are already as `access` wants them. */
async function isInstalled(superuser: pg.ClientBase, access: ReshardAccess): Promise<boolean> {
  const { rows } = await superuser.query<{
    secret: string | null;
    attributes_ok: boolean;
    member: boolean;
    version: string | null;
  }>(
    `SELECT a.rolpassword AS secret,
            a.rolcanlogin AND a.rolreplication AND a.rolbypassrls
              AND NOT (a.rolsuper OR a.rolcreatedb OR a.rolcreaterole) AS attributes_ok,
            pg_has_role(a.oid, $2, 'MEMBER') AS member,
            obj_description(to_regnamespace($3), 'pg_namespace') AS version
       FROM pg_authid a WHERE a.rolname = $1`,
    [RESHARD_ROLE, access.owner, RESHARD_SCHEMA],
  );
  const row = rows[0];
  if (!row?.attributes_ok || !row.member || row.version !== ACCESS_VERSION) return false;
  if (!isVerifierOf(access.password, row.secret)) return false;
  const stored = await superuser.query<{ hostPattern: string; port: number | null }>(
    `SELECT host_pattern AS "hostPattern", port FROM ${pg.escapeIdentifier(RESHARD_SCHEMA)}.publishers`,
  );
  const key = (p: { hostPattern: string; port?: number | null }) => `${p.hostPattern}\u0000${p.port ?? ""}`;
  const have = stored.rows.map(key).sort();
  const want = access.publishers.map(key).sort();
  return JSON.stringify(have) === JSON.stringify(want);
}

/**
 * Installs (or repairs) the reshard role and its subscription wrappers in the current database of
 * `superuser`, in one transaction that logs no statement. A pass that finds everything as it
 * should be writes nothing.
 */
export async function ensureReshardAccess(superuser: pg.ClientBase, access: ReshardAccess): Promise<void> {
  if (await isInstalled(superuser, access)) return;
  await superuser.query("BEGIN");
  try {
    await superuser.query("SET LOCAL log_statement = 'none'");
    await superuser.query("SET LOCAL log_min_error_statement = 'panic'");
    const { rowCount } = await superuser.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [RESHARD_ROLE]);
    const verifier = createScramVerifier(access.password);
    for (const sql of reshardAccessStatements(access, verifier, rowCount === 1)) await superuser.query(sql);
    await superuser.query("COMMIT");
  } catch (err) {
    await superuser.query("ROLLBACK").catch(() => {});
    throw err;
  }
}
