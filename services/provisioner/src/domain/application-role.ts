import { randomBytes } from "node:crypto";
import type { ApplicationRole } from "@dbplane/contracts";
import { createScramVerifier } from "@dbplane/pgwire";

/** Name of every database's application role, on every shard (as CloudNativePG's `app`). */
export const APP_USER = "app";

/** The keys of the application's credentials: files of the local driver, keys of the Secret. */
export const APP_CREDENTIAL_KEYS = ["username", "password", "verifier", "uri", "jdbc-uri"] as const;
export type AppCredentialKey = (typeof APP_CREDENTIAL_KEYS)[number];

/** Where applications reach the database: the router's PostgreSQL wire endpoint. */
export interface RouterWireEndpoint {
  readonly host: string;
  readonly port: number;
}

/** The application role's secret material: generated once per database, then only read. */
export interface AppSecret {
  readonly password: string;
  /** SCRAM-SHA-256 verifier of the password: what PostgreSQL and the router store, never the password. */
  readonly verifier: string;
}

/** What the reconcile needs of a database's application role: the verifier and where everything is. */
export interface AppCredentials {
  readonly role: ApplicationRole;
  readonly verifier: string;
}

/**
 * A new password: 32 random bytes, base64url — ASCII, so SASLprep leaves it as it is and the
 * verifier derived here is the one PostgreSQL would derive; URL-safe, so the uri needs no escapes.
 */
export function newAppSecret(): AppSecret {
  const password = randomBytes(32).toString("base64url");
  return { password, verifier: createScramVerifier(password) };
}

/** The keys a user's application reads, with `uri`/`jdbc-uri` pointing at the router. */
export function appCredentialEntries(
  database: string,
  secret: AppSecret,
  router: RouterWireEndpoint,
): Record<AppCredentialKey, string> {
  const password = encodeURIComponent(secret.password);
  const host = router.host.includes(":") ? `[${router.host}]` : router.host;
  return {
    username: APP_USER,
    password: secret.password,
    verifier: secret.verifier,
    uri: `postgresql://${APP_USER}:${password}@${host}:${router.port}/${database}`,
    "jdbc-uri": `jdbc:postgresql://${host}:${router.port}/${database}?user=${APP_USER}&password=${password}`,
  };
}

/**
 * The least privilege an application owner needs: it logs in and owns its database (PostgreSQL
 * 15+ gives the public schema to pg_database_owner, so it can create there), nothing else.
 */
const ROLE_OPTIONS = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT";

/**
 * Statements that make the application role as it should be on one primary, run by the
 * superuser. `quotedVerifier` is the verifier as an SQL literal: PostgreSQL stores a SCRAM
 * verifier given as the password as it is, so the password itself never reaches the server. The
 * session first stops the server from logging statements, so the verifier stays out of its log.
 */
export function appRoleStatements(database: string, quotedVerifier: string, roleExists: boolean): string[] {
  const db = `"${database.replaceAll('"', '""')}"`;
  return [
    "SET log_statement = 'none'",
    "SET log_min_error_statement = 'panic'",
    `${roleExists ? "ALTER" : "CREATE"} ROLE ${APP_USER} WITH ${ROLE_OPTIONS} PASSWORD ${quotedVerifier}`,
    `ALTER DATABASE ${db} OWNER TO ${APP_USER}`,
  ];
}
