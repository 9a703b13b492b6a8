// The baseline of the split's initial copy: `psql -c "COPY (SELECT … WHERE <range>) TO STDOUT"`
// piped into `psql -c "COPY … FROM STDIN"`, per table and all tables at once, between the same two
// servers, into scratch copies (same columns, same primary key) of the tables on the target. Text
// format, as PostgreSQL's table-sync workers use. Dropped afterwards.
import { spawn } from "node:child_process";
import { waitFor } from "@dbplane/testkit";
import pg from "pg";

const SCRATCH = "bench_pipe";

export interface PipeTable {
  readonly table: string;
  /** `WHERE …` of the rows that move ("" for a table copied whole). */
  readonly where: string;
}

export interface PipeResult {
  readonly rows: number;
  readonly ms: number;
}

/** Runs `psql` on `url` with `sql`; resolves when it exits 0. */
function psql(url: string, sql: string): ReturnType<typeof spawn> {
  return spawn("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], {
    stdio: ["pipe", "pipe", "pipe"],
  });
}

function exited(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${what}: psql exited ${code}: ${stderr.trim()}`)),
    );
  });
}

/** One table through the pipe. */
async function pipeOne(sourceUrl: string, targetUrl: string, t: PipeTable): Promise<void> {
  const out = psql(sourceUrl, `COPY (SELECT * FROM ${t.table} ${t.where}) TO STDOUT`);
  const into = psql(targetUrl, `COPY ${SCRATCH}.${t.table} FROM STDIN`);
  out.stdout!.pipe(into.stdin!);
  await Promise.all([exited(out, `COPY ${t.table} TO STDOUT`), exited(into, `COPY ${t.table} FROM STDIN`)]);
}

/** Scratch tables like the real ones, one round's pipe into them, their rows counted. */
async function oneRound(
  target: pg.Client,
  sourceUrl: string,
  targetUrl: string,
  tables: readonly PipeTable[],
): Promise<PipeResult> {
  await target.query(`DROP SCHEMA IF EXISTS ${SCRATCH} CASCADE`);
  await target.query(`CREATE SCHEMA ${SCRATCH}`);
  for (const t of tables)
    await target.query(`CREATE TABLE ${SCRATCH}.${t.table} (LIKE public.${t.table} INCLUDING ALL)`);
  await target.query("CHECKPOINT");
  const started = performance.now();
  await Promise.all(tables.map((t) => pipeOne(sourceUrl, targetUrl, t)));
  const ms = performance.now() - started;
  let rows = 0;
  for (const t of tables) {
    const { rows: counted } = await target.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${SCRATCH}.${t.table}`,
    );
    rows += Number(counted[0]!.n);
  }
  await target.query(`DROP SCHEMA ${SCRATCH} CASCADE`);
  await target.query("CHECKPOINT");
  return { rows, ms };
}

/**
 * Times every table's pipe, all at once (the split copies tables in parallel too), `rounds` times:
 * the machine is shared, so the median round is the baseline and every round is reported.
 */
export async function timeCopyPipe(
  sourceUrl: string,
  targetUrl: string,
  tables: readonly PipeTable[],
  rounds: number,
): Promise<PipeResult & { readonly roundsMs: readonly number[] }> {
  const target = new pg.Client({ connectionString: targetUrl });
  await target.connect();
  try {
    // The router applies the migrations to a shard that joins: wait for the tables it made.
    await waitFor(
      async () => {
        const { rows } = await target.query<{ n: number }>(
          "SELECT count(to_regclass(t))::int AS n FROM unnest($1::text[]) t",
          [tables.map((t) => t.table)],
        );
        return rows[0]!.n === tables.length;
      },
      { what: "the shop tables on the target", timeoutMs: 30_000 },
    );
    const results: PipeResult[] = [];
    for (let i = 0; i < rounds; i++) results.push(await oneRound(target, sourceUrl, targetUrl, tables));
    const sorted = [...results].sort((a, b) => a.ms - b.ms);
    const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
    return { ...median, roundsMs: results.map((r) => r.ms) };
  } finally {
    await target.query(`DROP SCHEMA IF EXISTS ${SCRATCH} CASCADE`).catch(() => {});
    await target.end();
  }
}
