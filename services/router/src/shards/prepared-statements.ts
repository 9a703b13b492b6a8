import { hash } from "node:crypto";
import type pg from "pg";

/**
 * Server-side prepared statements for the HTTP API's repeated statements, the way pgJDBC's
 * `prepareThreshold` and Npgsql's auto-prepare do it: once a statement text has been run `after`
 * times, it is parsed under a name on each pooled connection that runs it and only bound and
 * executed from then on — PostgreSQL skips parsing, analysis and (once it settles on a generic
 * plan) planning. Nothing changes for the client: the same rows, the same errors.
 *
 * Names are derived from the text (a hash), so a text forgotten here and seen again gets its old
 * name back and finds it still prepared on the connections that have it. A connection holds at
 * most `perConnection` of them; further texts run unnamed there. `DISCARD ALL` (the reset after
 * session-changing SQL) drops them on the server, and {@link forgetPrepared} drops them here.
 * Anything else that loses one (a `DEALLOCATE` inside a function) or changes its result type (DDL)
 * is caught at Bind, before the statement ran: {@link runPrepared} prepares it again and retries once.
 */
export interface PreparedStatementLimits {
  /** Uses of one text before it is prepared; 0 prepares nothing. */
  readonly after: number;
  /** Most statements prepared on one server connection. */
  readonly perConnection: number;
  /** Most texts counted or named at once (the oldest forgotten first). */
  readonly texts: number;
  /** Most characters of those texts together (the oldest forgotten first). */
  readonly textChars: number;
  /** Longer texts are never prepared. */
  readonly maxTextLength: number;
}

export const DEFAULT_PREPARED_LIMITS: PreparedStatementLimits = {
  after: 5,
  perConnection: 100,
  texts: 2_000,
  textChars: 2_000_000,
  maxTextLength: 16_384,
};

/** What prepared statements did since start (a metric). */
export interface PreparedCounts {
  /** Statements parsed under a name on a connection. */
  parsed: number;
  /** Executions of a statement the connection had prepared before. */
  reused: number;
  /** Executions retried after the server lost the statement or its result type changed. */
  retried: number;
}

/** pg's per-connection statement records (pg 8: lib/connection.js), absent from @types/pg. */
interface StatementRecords {
  readonly connection: {
    parsedStatements: Record<string, string>;
    submittedNamedStatements: Record<string, string>;
  };
}

const NAME_PREFIX = "dbplane_";

/** The names prepared (or being prepared) on each connection, for the per-connection limit. */
const preparedOn = new WeakMap<pg.ClientBase, Set<string>>();

/** A text's statement name: `dbplane_` and 24 hex digits of its SHA-1 (well within NAMEDATALEN). */
export function statementName(text: string): string {
  return NAME_PREFIX + hash("sha1", text, "hex").slice(0, 24);
}

export class PreparedStatements {
  readonly counts: PreparedCounts = { parsed: 0, reused: 0, retried: 0 };
  readonly #limits: PreparedStatementLimits;
  /** A text's uses so far, or its name once it has reached `after`. Oldest first. */
  readonly #texts = new Map<string, number | string>();
  #textChars = 0;

  constructor(limits: Partial<PreparedStatementLimits> = {}) {
    this.#limits = { ...DEFAULT_PREPARED_LIMITS, ...limits };
  }

  /** The name to run `text` under on `client`, or undefined to run it unnamed. Counts the use. */
  nameFor(client: pg.ClientBase, text: string): string | undefined {
    const limits = this.#limits;
    if (limits.after === 0 || text.length > limits.maxTextLength) return undefined;
    const seen = this.#texts.get(text);
    let name: string;
    if (typeof seen === "string") name = seen;
    else {
      const uses = (seen ?? 0) + 1;
      if (seen === undefined) this.#remember(text);
      if (uses < limits.after) {
        this.#texts.set(text, uses);
        return undefined;
      }
      name = statementName(text);
      this.#texts.set(text, name);
    }
    let names = preparedOn.get(client);
    if (names === undefined) {
      names = new Set();
      preparedOn.set(client, names);
    }
    if (!names.has(name)) {
      if (names.size >= limits.perConnection) return undefined;
      names.add(name);
    }
    if (records(client).parsedStatements[name] === undefined) this.counts.parsed++;
    else this.counts.reused++;
    return name;
  }

  /** Makes room for a new text: the oldest go while either limit would be passed. */
  #remember(text: string): void {
    const limits = this.#limits;
    this.#textChars += text.length;
    while (this.#texts.size >= limits.texts || (this.#textChars > limits.textChars && this.#texts.size > 0)) {
      const oldest = this.#texts.keys().next().value!;
      this.#texts.delete(oldest);
      this.#textChars -= oldest.length;
    }
  }

  /** `name` is no longer prepared on `client` (its Parse failed, or the server lost it). */
  forgetOne(client: pg.ClientBase, name: string): void {
    preparedOn.get(client)?.delete(name);
    const r = records(client);
    delete r.parsedStatements[name];
    delete r.submittedNamedStatements[name];
  }
}

function records(client: pg.ClientBase): StatementRecords["connection"] {
  return (client as unknown as StatementRecords).connection;
}

/**
 * After `DISCARD ALL` on `client`: every named statement is gone on the server, so pg must parse
 * each again (it would otherwise bind names the server no longer has).
 */
export function forgetPrepared(client: pg.ClientBase): void {
  if (!preparedOn.delete(client)) return;
  const r = records(client);
  r.parsedStatements = {};
  r.submittedNamedStatements = {};
}

/** The error says the server no longer has `name`, or can no longer run it as prepared. */
export function isStalePrepared(err: unknown, name: string): "lost" | "changed" | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  // invalid_sql_statement_name: prepared statement "…" does not exist
  if (code === "26000" && err.message.includes(`"${name}"`)) return "lost";
  // feature_not_supported, raised at Bind when DDL changed what the statement returns
  if (code === "0A000" && err.message.includes("cached plan must not change result type")) return "changed";
  return undefined;
}

/**
 * Runs `text` on `client` through `run` under its prepared name when it has one, else unnamed.
 * A statement the server lost, or whose result type DDL changed, failed at Bind before it ran:
 * it is parsed again (after `DEALLOCATE` of the stale one) and run once more. Outside a transaction only.
 */
export async function runPrepared<T>(
  prepared: PreparedStatements | undefined,
  client: pg.ClientBase,
  text: string,
  run: (name: string | undefined) => Promise<T>,
): Promise<T> {
  const name = prepared?.nameFor(client, text);
  if (name === undefined) return run(undefined);
  try {
    return await run(name);
  } catch (err) {
    const stale = isStalePrepared(err, name);
    if (stale === undefined) {
      // A Parse that failed (a syntax error) left nothing prepared under the name.
      if (records(client).parsedStatements[name] === undefined) prepared!.forgetOne(client, name);
      throw err;
    }
    prepared!.counts.retried++;
    if (stale === "changed") await client.query(`DEALLOCATE ${name}`);
    prepared!.forgetOne(client, name);
    return run(prepared!.nameFor(client, text));
  }
}
