import { readFile } from "node:fs/promises";
import { connectClient } from "@dbplane/service-kit";
import type pg from "pg";
import type { DatabaseRecord } from "../domain/inventory-types.ts";
import type { LocalServer } from "./local-targets.ts";

const CONNECT_TIMEOUT_MS = 5_000;

async function connectTo(server: LocalServer): Promise<pg.Client> {
  const common = {
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: "dbplane-discovery",
    query_timeout: 10_000,
  };
  if ("url" in server.connect) return connectClient({ connectionString: server.connect.url, ...common });
  const { host, port, user, database, passwordFile } = server.connect;
  // Read at connect time and handed straight to the driver; never stored or logged.
  const password = (await readFile(passwordFile, "utf8")).trim();
  return connectClient({ host, port, user, database, password, ...common });
}

/** The id of a database found by the local driver. */
export function localDatabaseId(host: string, port: number, dbname: string): string {
  return `local:${host}:${port}/${dbname}`;
}

/** Every database on a server that accepts connections (templates left out), as discovery records. */
export async function listServerDatabases(server: LocalServer): Promise<DatabaseRecord[]> {
  const client = await connectTo(server);
  try {
    const version = await client.query<{ server_version: string }>("SHOW server_version");
    const rows = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn ORDER BY datname",
    );
    const serverVersion = version.rows[0]?.server_version.split(" ")[0];
    return rows.rows.map(({ datname }) => ({
      id: localDatabaseId(server.host, server.port, datname),
      driver: "local",
      engine: "postgresql",
      endpoint: { host: server.host, port: server.port },
      dbname: datname,
      ...(serverVersion && { serverVersion }),
      ...(server.managedBy && { managedBy: server.managedBy }),
      addresses: [{ host: server.host, port: server.port, role: "primary" }],
      ...(server.labels && { labels: server.labels }),
    }));
  } finally {
    await client.end().catch(() => {});
  }
}
