import type { ConnectionHint } from "./cluster-objects.ts";
import { parseConnectionString, parseDbname, parseHostPort, parsePort } from "./connection-values.ts";
import { type SettingPart, settingName } from "./setting-names.ts";

/** Bare key names operators use in their connection Secrets (CloudNativePG: host, port, dbname, uri). */
const BARE_KEYS: Record<string, SettingPart> = {
  HOST: "host",
  PORT: "port",
  DBNAME: "dbname",
  DATABASE: "dbname",
  URI: "url",
  URL: "url",
  DSN: "url",
};

/** The setting part a key name stands for: `host`, `DB_HOST`, `pg-port`, `jdbc-uri`, … */
export function keyPart(key: string): SettingPart | undefined {
  const normalized = key.toUpperCase().replace(/[-.]/g, "_");
  return (
    BARE_KEYS[normalized] ?? settingName(normalized)?.part ?? (/_URI$/.test(normalized) ? "url" : undefined)
  );
}

/** The hint one value gives when it is known to be `part`. */
export function hintOf(part: SettingPart, value: string): ConnectionHint | undefined {
  switch (part) {
    case "url":
      return parseConnectionString(value);
    case "host":
      return parseConnectionString(value) ?? parseHostPort(value);
    case "port": {
      const port = parsePort(value);
      return port ? { port } : undefined;
    }
    case "dbname": {
      const dbname = parseDbname(value);
      return dbname ? { dbname } : undefined;
    }
  }
}

/**
 * Reduces a Secret's data to connection hints: a value is kept (as host, port and database name
 * only) when it sits under a host/port/database/URL key, or when it is unmistakably a PostgreSQL
 * URL or conninfo string; everything else — passwords, users, certificates — is dropped. The result holds no secret and may be kept, logged
 * and emitted.
 */
export function secretHints(
  data: Readonly<Record<string, string>> | undefined,
  decode: (raw: string) => string,
): Record<string, ConnectionHint> {
  const hints: Record<string, ConnectionHint> = {};
  for (const [key, raw] of Object.entries(data ?? {})) {
    const part = keyPart(key);
    const value = decode(raw);
    const hint = part ? hintOf(part, value) : parseConnectionString(value);
    if (hint) hints[key] = hint;
  }
  return hints;
}
