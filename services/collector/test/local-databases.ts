import { testServerUrls, uniqueName } from "@dbplane/testkit";
import mysql from "mysql2/promise";
import pg from "pg";

export const MARIADB_URL = process.env.DBPLANE_TEST_MARIADB_URL ?? "mysql://root@127.0.0.1:3306";

/** Many small databases on the local servers, for fleets of targets; drop() removes them all. */
export interface LocalDatabases {
  readonly postgres: readonly string[];
  readonly mariadb: readonly string[];
  postgresUrl(name: string): string;
  mariadbUrl(name: string): string;
  drop(): Promise<void>;
}

async function forEachOn<C>(
  clients: C[],
  items: readonly string[],
  run: (c: C, item: string) => Promise<unknown>,
) {
  let next = 0;
  await Promise.all(
    clients.map(async (c) => {
      while (next < items.length) await run(c, items[next++]!);
    }),
  );
}

export async function createLocalDatabases(
  postgresCount: number,
  mariadbCount: number,
): Promise<LocalDatabases> {
  const base = uniqueName("coll");
  const postgres = Array.from({ length: postgresCount }, (_, i) => `${base}_pg${i}`);
  const mariadb = Array.from({ length: mariadbCount }, (_, i) => `${base}_my${i}`);
  const pgUrl = testServerUrls().postgres;
  const pgClients = await Promise.all(
    [0, 1, 2, 3].map(async () => {
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      return c;
    }),
  );
  const my = await mysql.createConnection(MARIADB_URL);
  try {
    await forEachOn(pgClients, postgres, (c, name) => c.query(`CREATE DATABASE "${name}"`));
    for (const name of mariadb) await my.query(`CREATE DATABASE \`${name}\``);
  } finally {
    await Promise.all(pgClients.map((c) => c.end()));
    await my.end();
  }
  const withPath = (url: string, name: string) => {
    const u = new URL(url);
    u.pathname = `/${name}`;
    return u.toString();
  };
  return {
    postgres,
    mariadb,
    postgresUrl: (name) => withPath(pgUrl, name),
    mariadbUrl: (name) => withPath(MARIADB_URL, name),
    async drop() {
      const clients = await Promise.all(
        [0, 1].map(async () => {
          const c = new pg.Client({ connectionString: pgUrl });
          await c.connect();
          return c;
        }),
      );
      const conn = await mysql.createConnection(MARIADB_URL);
      try {
        await forEachOn(clients, postgres, (c, name) =>
          c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
        );
        for (const name of mariadb) await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await Promise.all(clients.map((c) => c.end()));
        await conn.end();
      }
    },
  };
}
