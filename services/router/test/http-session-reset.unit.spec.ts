// Which HTTP statements reset their pooled shard connection: those that may leave session state
// behind, read from the plan and the statement's text. Everything else goes back to the pool as is.
import { loadParser, StatementPlanner } from "@dbplane/sqlroute";
import { beforeAll, describe, expect, it } from "vitest";
import { mayChangeSession } from "../src/query/statement-check.ts";

let planner: StatementPlanner;
beforeAll(async () => {
  await loadParser();
  planner = new StatementPlanner([{ table: "items", keyColumn: "id", keyType: "bigint" }]);
});
const resets = (sql: string) => {
  const [plan] = planner.planQuery(sql);
  return mayChangeSession(plan!.kind, sql);
};

describe("mayChangeSession", () => {
  it("keeps the session of plain reads and writes", () => {
    for (const sql of [
      "SELECT * FROM items WHERE id = 7",
      "SELECT * FROM items WHERE id = 8",
      "SELECT * FROM items WHERE id = $1",
      "SELECT count(*) FROM items",
      "SELECT 1",
      "INSERT INTO items (id, note) VALUES (1, 'a'), (2, 'b')",
      "UPDATE items SET note = 'x' WHERE id = 3",
      "DELETE FROM items WHERE note = 'x'",
      "SELECT current_setting('work_mem')",
      "SHOW work_mem",
      "SELECT * FROM items WHERE note = 'temperature' ORDER BY id LIMIT 3",
    ]) {
      expect(resets(sql), sql).toBe(false);
    }
  });

  it("resets after statements that change the session, and after kinds it does not know", () => {
    for (const sql of [
      "SET work_mem = '64MB'",
      "SET LOCAL work_mem = '64MB'",
      "RESET ALL",
      "SET ROLE nobody",
      "SET SESSION AUTHORIZATION nobody",
      "RESET ROLE",
      "PREPARE p AS SELECT 1",
      "DEALLOCATE ALL",
      "LISTEN news",
      "UNLISTEN *",
      "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM items WHERE id = 1",
      "CREATE TEMP TABLE scratch (n int)",
      "CREATE TEMPORARY TABLE scratch (n int)",
      "SELECT * INTO TEMP scratch FROM items WHERE id = 1",
      "DISCARD ALL",
      "DISCARD TEMP",
      "LOAD 'auto_explain'",
      "DO $$ BEGIN PERFORM set_config('work_mem', '64MB', false); END $$",
      "CALL do_things()",
      "BEGIN",
      "COMMIT",
      "CREATE TABLE t (n int)",
      "COPY items FROM STDIN",
      "SELECT set_config('work_mem', '64MB', false)",
      "SELECT pg_catalog.set_config('work_mem', '64MB', false) FROM items WHERE id = 1",
      "SELECT \"set_config\"('work_mem', '64MB', false)",
      "SELECT U&\"set\\005fconfig\"('work_mem', '64MB', false)",
      "SELECT pg_advisory_lock(1)",
      "SELECT PG_TRY_ADVISORY_LOCK(1) FROM items WHERE id = 2",
      "SELECT * FROM items WHERE id = (SELECT pg_advisory_lock_shared(1)::int)",
      "SELECT dblink_connect('c', 'dbname=x')",
      "INSERT INTO items (id, note) SELECT 1, set_config('a.b', 'c', false)",
      "UPDATE items SET note = set_config('a.b', 'c', false) WHERE id = 3",
    ]) {
      expect(resets(sql), sql).toBe(true);
    }
  });
});
