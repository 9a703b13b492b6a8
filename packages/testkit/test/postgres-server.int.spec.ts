import pg from "pg";
import { describe, expect, it } from "vitest";
import { createPostgresServer } from "../src/index.ts";

describe("createPostgresServer", () => {
  it("starts a private server with the asked wal_level and removes it on stop", async () => {
    const logical = await createPostgresServer();
    const replica = await createPostgresServer({ walLevel: "replica" });
    try {
      for (const [server, level] of [
        [logical, "logical"],
        [replica, "replica"],
      ] as const) {
        const client = new pg.Client({ connectionString: server.url });
        await client.connect();
        const { rows } = await client.query<{ wal_level: string }>("SHOW wal_level");
        await client.end();
        expect(rows[0]?.wal_level).toBe(level);
      }
    } finally {
      await logical.stop();
      await replica.stop();
    }
    const client = new pg.Client({ connectionString: logical.url });
    await expect(client.connect()).rejects.toThrow();
  });
});
