// The reference the router issue names: the least an HTTP-to-PostgreSQL hop can be — fastify,
// one pg pool, the body's SQL and params passed through. No auth, no validation, no routing,
// no accounting, no metrics. Run side by side with the router so its cost is read against
// what any HTTP + JSON hop costs on the same machine, not only against a direct connection.
import { fastify } from "fastify";
import pg from "pg";

const pool = new pg.Pool({
  connectionString: process.env.SHARD_URL,
  max: Number(process.env.POOL_SIZE ?? 16),
});
const app = fastify();
app.get("/health/ready", async () => ({ ok: true }));
app.post("/v1/databases/:db/query", async (request) => {
  const body = request.body as { sql: string; params: unknown[] };
  const res = await pool.query({ text: body.sql, values: body.params });
  return { database: (request.params as { db: string }).db, rowCount: res.rowCount, rows: res.rows };
});
process.once("SIGTERM", () => {
  void app.close().then(() => pool.end());
});
await app.listen({ port: Number(process.env.PORT), host: "127.0.0.1" });
