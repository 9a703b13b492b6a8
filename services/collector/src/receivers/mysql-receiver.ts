import mysql from "mysql2/promise";
import {
  MYSQL_STATUS_NAMES,
  mysqlObservation,
  type ReplicaStatusRow,
  statusMap,
} from "../domain/mysql-status.ts";
import { withPassword } from "../domain/target-spec.ts";
import type { Receiver } from "./receiver.ts";

const STATUS_SQL = `SHOW GLOBAL STATUS WHERE Variable_name IN (${MYSQL_STATUS_NAMES.map((n) => `'${n}'`).join(", ")})`;
const SCHEMA_SIZE_SQL =
  "SELECT COALESCE(SUM(data_length + index_length), 0) AS bytes FROM information_schema.tables WHERE table_schema = DATABASE()";
/** Errors that mean "this server does not know SHOW REPLICA STATUS" (MySQL < 8.0.22, MariaDB < 10.5.1). */
const UNKNOWN_SYNTAX = new Set(["ER_PARSE_ERROR"]);

/** MySQL and MariaDB (mysql2): a small pool per target, a client-side timeout on every statement. */
export const mysqlReceiver: Receiver = (spec, password, limits) => {
  const url = new URL(withPassword(spec.url, password));
  if (url.protocol === "mariadb:") url.protocol = "mysql:";
  const pool = mysql.createPool({
    uri: url.toString(),
    connectionLimit: limits.maxConnectionsPerTarget,
    maxIdle: limits.maxConnectionsPerTarget,
    idleTimeout: 60_000,
    connectTimeout: limits.connectTimeoutMs,
    enableKeepAlive: true,
  });
  pool.on("connection", (conn) => {
    // The server side of the statement timeout (MariaDB, seconds; MySQL ignores it with an error
    // we do not wait for, and relies on the client-side timeout). The event hands over the
    // callback-style connection.
    const raw = conn as unknown as { query(sql: string, done: () => void): void };
    raw.query(`SET SESSION max_statement_time = ${limits.statementTimeoutMs / 1000}`, () => {});
  });
  const timeout = limits.statementTimeoutMs;
  let replicaSql = "SHOW REPLICA STATUS";

  async function replicaStatus(conn: mysql.PoolConnection): Promise<ReplicaStatusRow | undefined> {
    try {
      const [rows] = await conn.query({ sql: replicaSql, timeout });
      return (rows as ReplicaStatusRow[])[0];
    } catch (err) {
      const code = (err as { code?: string }).code ?? "";
      if (UNKNOWN_SYNTAX.has(code) && replicaSql === "SHOW REPLICA STATUS") {
        replicaSql = "SHOW SLAVE STATUS";
        return replicaStatus(conn);
      }
      // No REPLICATION CLIENT / SLAVE MONITOR privilege: replication is simply not reported.
      if (code === "ER_SPECIFIC_ACCESS_DENIED_ERROR" || code === "ER_ACCESS_DENIED_ERROR") return undefined;
      throw err;
    }
  }

  return {
    async collect() {
      const conn = await pool.getConnection();
      try {
        const [status] = await conn.query({ sql: STATUS_SQL, timeout });
        const [vars] = await conn.query({ sql: "SELECT @@max_connections AS max_connections", timeout });
        const [size] = await conn.query({ sql: SCHEMA_SIZE_SQL, timeout });
        const replica = await replicaStatus(conn);
        return mysqlObservation(
          statusMap(status as { Variable_name: string; Value: string }[]),
          Number((vars as { max_connections: number }[])[0]?.max_connections ?? 0),
          replica,
          Number((size as { bytes: string }[])[0]?.bytes ?? 0),
        );
      } finally {
        conn.release();
      }
    },
    close: () => pool.end(),
  };
};
