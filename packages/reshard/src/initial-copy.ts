import type { Readable, Writable } from "node:stream";
import pg from "pg";
import { framedCopyIn, framedCopyOut } from "./copy-relay.ts";
import type { MovedTable, RangeMoveSpec } from "./range-move-spec.ts";
import { quotedTable, rangeFilter } from "./range-sql.ts";
import { connectShard } from "./shard-client.ts";

/** COPY streams at once: each a source backend, a target backend and their share of this process. */
export const COPY_STREAMS = 4;
/** A table is split into block ranges (ctid) only when each part gets at least this many pages. */
const MIN_PART_PAGES = 1_024;

/**
 * Text rows must read back the same on the other server whatever either's defaults are (a
 * timestamptz prints in the session's zone, a float with the session's digits).
 */
const COPY_SETTINGS = `SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC';
  SET extra_float_digits = 3; SET bytea_output = 'hex'`;

/** One COPY of the initial copy: a table's rows of the range, within a block range for a big table. */
export interface CopyPart {
  readonly table: string;
  readonly copyOut: string;
  readonly copyIn: string;
  /** Pages of the table in this part. */
  readonly pages: number;
  /** Its place among its table's parts: parts of different tables run side by side. */
  readonly index: number;
}

/** The copy's connections' application_name: what start() and finish() end when a copy was left behind. */
export function copyApplicationName(name: string): string {
  return `${name}_copy`;
}

/**
 * The COPY statements of every table: the range's rows of a sharded table (the router's hash),
 * every row of an unsharded one. Columns are named (generated ones left out, as PostgreSQL's own
 * table sync does), so a column order that differs between the servers cannot shift values. A
 * table of at least 2 × MIN_PART_PAGES pages is split by ctid into up to `streams` block ranges,
 * each scanned once (a TID range scan), the last one open-ended so rows past the size read here
 * are copied too.
 */
export async function planCopy(source: pg.Client, spec: RangeMoveSpec, streams: number): Promise<CopyPart[]> {
  const parts: CopyPart[] = [];
  for (const t of spec.tables) {
    const { rows } = await source.query<{ columns: string[]; pages: string }>(
      `SELECT ARRAY(SELECT a.attname::text FROM pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                     ORDER BY a.attnum) AS columns,
              (pg_relation_size(c.oid) / current_setting('block_size')::int)::text AS pages
         FROM pg_class c WHERE c.oid = to_regclass($1)`,
      [quotedTable(t.table)],
    );
    const columns = rows[0]!.columns.map((c) => pg.escapeIdentifier(c)).join(", ");
    const pages = Number(rows[0]!.pages);
    const count = Math.max(1, Math.min(streams, Math.floor(pages / MIN_PART_PAGES)));
    const step = Math.ceil(pages / count);
    for (let i = 0; i < count; i++) {
      const blocks = count === 1 ? [] : blockBounds(i * step, i === count - 1 ? undefined : (i + 1) * step);
      const conditions = [rangeFilter(t, spec.from, spec.to), ...blocks].filter((c) => c !== null);
      const where = conditions.length === 0 ? "" : ` WHERE ${conditions.map((c) => `(${c})`).join(" AND ")}`;
      parts.push({
        table: t.table,
        copyOut: `COPY (SELECT ${columns} FROM ${quotedTable(t.table)}${where}) TO STDOUT`,
        copyIn: `COPY ${quotedTable(t.table)} (${columns}) FROM STDIN`,
        pages: count === 1 ? pages : step,
        index: i,
      });
    }
  }
  // First parts of every table first, biggest first: the streams fill different tables (parts of
  // one table contend for its relation-extension lock on the target), and a big table starts early.
  return parts.sort((a, b) => a.index - b.index || b.pages - a.pages);
}

function blockBounds(from: number, to: number | undefined): string[] {
  const bounds = [`ctid >= '(${from},0)'::tid`];
  if (to !== undefined) bounds.push(`ctid < '(${to},0)'::tid`);
  return bounds;
}

/**
 * Pipes one part from the source's COPY TO into the target's COPY FROM through the relay; rows are
 * counted from the stream. Rejects on the first error of either side without waiting for the
 * other to wind down: the caller ends both connections then.
 */
function relay(
  source: pg.Client,
  target: pg.Client,
  part: CopyPart,
  onRows: (n: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const into = target.query(framedCopyIn(part.copyIn) as unknown as pg.Submittable) as unknown as Writable;
    const out = source.query(
      framedCopyOut(part.copyOut, onRows) as unknown as pg.Submittable,
    ) as unknown as Readable;
    out.once("error", reject);
    into.once("error", reject);
    into.once("finish", () => resolve());
    out.pipe(into);
  });
}

export interface CopyRequest {
  readonly spec: RangeMoveSpec;
  readonly parts: readonly CopyPart[];
  /** The exported snapshot every source transaction imports. */
  readonly snapshot: string;
  readonly applicationName: string;
  readonly streams: number;
  /** Called once every stream's source transaction imported the snapshot: the exporter may go. */
  readonly onImported: () => void;
  /** Rows as they pass, per table. */
  readonly onRows: (table: string, n: number) => void;
  readonly signal: AbortSignal;
}

/**
 * Runs every part through `streams` pairs of connections: the source's in one REPEATABLE READ
 * transaction on the exported snapshot (so every part, whichever stream copies it, sees the same
 * rows), the target's with session_replication_role = replica like PostgreSQL's own apply (no
 * triggers, no foreign-key checks between tables filled in parallel). Each part commits on the
 * target on its own. The first failure (or an abort) ends every connection, which rolls back every
 * part still running; what committed stays for the caller to clear.
 */
export async function copyParts(req: CopyRequest): Promise<void> {
  const clients = new Set<pg.Client>();
  const stopAll = () => {
    for (const c of clients) c.end().catch(() => {});
  };
  req.signal.addEventListener("abort", stopAll, { once: true });
  const queue = [...req.parts];
  const streams = Math.max(1, Math.min(req.streams, queue.length));
  let imported = 0;
  const connect = async (side: "source" | "target") => {
    if (req.signal.aborted) throw req.signal.reason;
    const client = await connectShard(req.spec[side], req.applicationName);
    clients.add(client);
    return client;
  };
  const stream = async () => {
    const [source, target] = await Promise.all([connect("source"), connect("target")]);
    await source.query(
      `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT ${pg.escapeLiteral(req.snapshot)}`,
    );
    if (++imported === streams) req.onImported();
    await source.query(COPY_SETTINGS);
    await target.query(`${COPY_SETTINGS}; SET session_replication_role = replica`);
    for (let part = queue.shift(); part; part = queue.shift()) {
      if (req.signal.aborted) throw req.signal.reason;
      const table = part.table;
      await target.query("BEGIN");
      await relay(source, target, part, (n) => req.onRows(table, n));
      await target.query("COMMIT");
    }
  };
  try {
    const results = await Promise.allSettled(
      Array.from({ length: streams }, () =>
        stream().catch((err: unknown) => {
          stopAll();
          throw err;
        }),
      ),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  } finally {
    req.signal.removeEventListener("abort", stopAll);
    await Promise.all([...clients].map((c) => c.end().catch(() => {})));
  }
}

/** The range's estimated rows per table from the planner's statistics (no scan): the copy's total until it ends. */
export async function estimateRows(source: pg.Client, spec: RangeMoveSpec): Promise<Record<string, number>> {
  const share = Number(spec.to - spec.from) / 2 ** 64;
  const estimates: Record<string, number> = {};
  for (const t of spec.tables) {
    // A table never analyzed has reltuples -1: the statistics collector's live count stands in.
    const { rows } = await source.query<{ tuples: number }>(
      `SELECT (CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE coalesce(s.n_live_tup, 0) END)::float8 AS tuples
         FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
        WHERE c.oid = to_regclass($1)`,
      [quotedTable(t.table)],
    );
    estimates[t.table] = Math.round((rows[0]?.tuples ?? 0) * (isSharded(t) ? share : 1));
  }
  return estimates;
}

function isSharded(t: MovedTable): boolean {
  return t.key !== undefined;
}
