/**
 * Which environment variables hold a database connection setting, and which part of it. Names
 * are grouped by their prefix, so `ORDERS_DB_HOST` and `ORDERS_DB_PORT` describe one connection
 * and `PGHOST` with `PGPORT` another. User and password variables are never matched.
 */

export type SettingPart = "url" | "host" | "port" | "dbname";

export interface SettingName {
  /** Variables with the same group describe one connection. */
  readonly group: string;
  readonly part: SettingPart;
}

const PARTS: Record<string, SettingPart> = {
  URL: "url",
  URI: "url",
  DSN: "url",
  HOST: "host",
  HOSTNAME: "host",
  SERVER: "host",
  ADDR: "host",
  ADDRESS: "host",
  PORT: "port",
  NAME: "dbname",
  DATABASE: "dbname",
  DB: "dbname",
};

// prefix, then the family word, then the part: PGHOST, POSTGRES_DB, ORDERS_DATABASE_URL, DB_NAME.
const SETTING =
  /^(?<prefix>(?:[A-Z0-9]+_)*?)(?<family>PG|POSTGRES|POSTGRESQL|DB|DATABASE|JDBC|SPRING_DATASOURCE)_?(?<part>URL|URI|DSN|HOSTNAME|HOST|SERVER|ADDRESS|ADDR|PORT|NAME|DATABASE|DB)$/;

/** Classifies an env var name, case-insensitively; undefined for anything else. */
export function settingName(variable: string): SettingName | undefined {
  const upper = variable.toUpperCase();
  const match = SETTING.exec(upper);
  if (!match?.groups) return undefined;
  const { prefix = "", family = "", part = "" } = match.groups;
  // POSTGRES_DB is a database name, but "DB_DB" or "DATABASE_DATABASE" mean nothing.
  if (family === part) return undefined;
  const resolved = PARTS[part];
  if (!resolved) return undefined;
  // libpq's PGHOST and the images' POSTGRES_HOST name the same connection.
  const familyGroup = family === "PG" || family === "POSTGRESQL" ? "POSTGRES" : family;
  return { group: `${prefix}${familyGroup}`, part: resolved };
}
