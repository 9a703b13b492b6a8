import { reshardAccessPsql } from "@dbplane/reshard";
import { APP_USER } from "../../domain/application-role.ts";
import { monitorRolePsql } from "../../domain/monitoring-role.ts";

/** Name of the database's application Secret (as CloudNativePG's `<cluster>-app`). */
export const appSecretName = (database: string) => `${database}-app`;

/** Written by the container once the role is as it should be: its readiness, and so the pod's. */
const DONE_FILE = "/tmp/app-role-ready";

/**
 * The SQL the container runs through psql as the superuser. psql's `:'verifier'` quotes the
 * verifier as a literal and `\gexec` runs the statement built from it; the verifier is only in
 * the container's environment (from the Secret), never in the manifest.
 */
export function roleSql(database: string): string {
  const db = `"${database.replaceAll('"', '""')}"`;
  const options = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT";
  return [
    "SET log_statement = 'none';",
    "SET log_min_error_statement = 'panic';",
    `SELECT 'CREATE ROLE ${APP_USER}' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${APP_USER}') \\gexec`,
    `SELECT format('ALTER ROLE ${APP_USER} WITH ${options} PASSWORD %L', :'verifier') \\gexec`,
    `ALTER DATABASE ${db} OWNER TO ${APP_USER};`,
    monitorRolePsql(),
  ].join("\n");
}

/**
 * Makes the application role on the shard's primary from inside the pod (the provisioner need
 * not reach the pods' network): waits for the server, and on the primary (a standby gets the
 * role by replication) creates or updates it with the verifier from the `<db>-app` Secret, and
 * the monitoring role with the verifier from the shard's `-monitor` Secret. It
 * runs on every start of the pod, so a changed verifier or a dropped role is repaired by a restart.
 */
/**
 * The reshard role and its subscription wrappers, in the database's own database: a subscription
 * there may reach only the same database's shard primaries (`<db>-shard-<n>.<namespace>.svc:5432`,
 * as the map names them).
 */
export function reshardSql(database: string, namespace: string, port: number): string {
  const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return reshardAccessPsql({
    owner: APP_USER,
    publishers: [{ hostPattern: `^${escaped(database)}-shard-[0-9]+\\.${escaped(namespace)}\\.svc$`, port }],
  });
}

export function appRoleScript(database: string, port: number, superuser: string, namespace: string): string {
  const psqlOn = (db: string) =>
    `psql -h 127.0.0.1 -p ${port} -U ${superuser} -d '${db}' -X -q -v ON_ERROR_STOP=1`;
  const psql = psqlOn("postgres");
  return [
    "set -eu",
    `until pg_isready -q -h 127.0.0.1 -p ${port} -U ${superuser}; do sleep 2; done`,
    `if [ "$(${psql} -tAc 'SELECT pg_is_in_recovery()')" = "f" ]; then`,
    `  ${psql} -v verifier="$APP_VERIFIER" -v monitor_verifier="$MONITOR_VERIFIER" <<'SQL'`,
    roleSql(database),
    "SQL",
    `  ${psqlOn(database)} -v reshard_verifier="$RESHARD_VERIFIER" <<'SQL'`,
    "SET log_statement = 'none';",
    "SET log_min_error_statement = 'panic';",
    reshardSql(database, namespace, port),
    "SQL",
    "fi",
    `touch ${DONE_FILE}`,
    "exec sleep infinity",
  ].join("\n");
}

export interface AppRoleContainerInput {
  readonly database: string;
  readonly image: string;
  readonly port: number;
  readonly superuser: string;
  /** The shard's superuser password, as an env var source (its credentials Secret). */
  readonly superuserPasswordEnv: object;
  /** The monitoring role's verifier, as an env var source (the shard's `-monitor` Secret). */
  readonly monitorVerifierEnv: object;
  /** The reshard role's verifier, as an env var source (the shard's `-reshard` Secret). */
  readonly reshardVerifierEnv: object;
  /** The shards' namespace: the reshard role's publishers are the database's shards there. */
  readonly namespace: string;
  readonly securityContext: object;
}

/** The container that keeps the application role; ready once the role is. */
export function appRoleContainer(input: AppRoleContainerInput) {
  return {
    name: "app-role",
    image: input.image,
    command: ["sh", "-c", appRoleScript(input.database, input.port, input.superuser, input.namespace)],
    env: [
      { ...input.superuserPasswordEnv, name: "PGPASSWORD" },
      {
        name: "APP_VERIFIER",
        valueFrom: { secretKeyRef: { name: appSecretName(input.database), key: "verifier" } },
      },
      { ...input.monitorVerifierEnv, name: "MONITOR_VERIFIER" },
      { ...input.reshardVerifierEnv, name: "RESHARD_VERIFIER" },
    ],
    readinessProbe: { exec: { command: ["test", "-f", DONE_FILE] }, periodSeconds: 5 },
    resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "64Mi" } },
    securityContext: input.securityContext,
  };
}
