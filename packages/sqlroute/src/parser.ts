import type { Node, ScanToken } from "libpg-query";
import { hasSqlDetails, loadModule, parseSync, scanSync } from "libpg-query";
import { PlanError } from "./plan-types.ts";

let loading: Promise<void> | undefined;
let loaded = false;

/**
 * Loads PostgreSQL's parser (WebAssembly). Await it once at start-up: planning is synchronous and
 * throws until it has resolved. Safe to call many times.
 */
export function loadParser(): Promise<void> {
  loading ??= loadModule().then(() => {
    loaded = true;
  });
  return loading;
}

/** One statement of a query string: its parse tree and its text (byte offsets into the UTF-8 string). */
export interface ParsedStatement {
  readonly stmt: Node;
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** The statement text as UTF-8 bytes: the parser's locations are byte offsets. */
export class SqlText {
  readonly sql: string;
  readonly bytes: Buffer;
  constructor(sql: string) {
    this.sql = sql;
    this.bytes = Buffer.from(sql, "utf8");
  }
  slice(start: number, end = this.bytes.length): string {
    return this.bytes.toString("utf8", start, end);
  }
}

function assertLoaded(): void {
  if (!loaded) throw new Error("the SQL parser is not loaded: await loadParser() at start-up");
}

/** Splits and parses a query string; a syntax error becomes PlanError 42601 with PostgreSQL's 1-based position. */
export function parseStatements(text: SqlText): ParsedStatement[] {
  assertLoaded();
  if (text.sql.trim() === "") return [];
  let result: ReturnType<typeof parseSync>;
  try {
    result = parseSync(text.sql);
  } catch (error) {
    if (hasSqlDetails(error) && error.sqlDetails !== undefined) {
      // cursorPosition is a 0-based character index; the protocol's is 1-based.
      throw new PlanError("42601", error.sqlDetails.message, {
        position: error.sqlDetails.cursorPosition + 1,
        cause: error,
      });
    }
    throw new PlanError("42601", error instanceof Error ? error.message : String(error), { cause: error });
  }
  let previousEnd = 0;
  return (result.stmts ?? []).map((raw) => {
    const location = raw.stmt_location ?? 0;
    const end =
      raw.stmt_len === undefined || raw.stmt_len === 0 ? text.bytes.length : location + raw.stmt_len;
    const start = leadingCommentStart(text, previousEnd, location);
    previousEnd = end;
    return { stmt: raw.stmt as Node, text: text.slice(start, end), start, end };
  });
}

/**
 * The parser starts a statement at its first token; comments before it (a shard-key hint) belong
 * to it too, back to the previous statement's semicolon.
 */
function leadingCommentStart(text: SqlText, gapStart: number, location: number): number {
  const gap = text.slice(gapStart, location);
  if (!gap.includes("/*") && !gap.includes("--")) return location;
  let start = location;
  for (const token of scanSync(gap).tokens) {
    if (token.text === ";") start = location;
    else if (start === location && (token.tokenName === "C_COMMENT" || token.tokenName === "SQL_COMMENT")) {
      start = gapStart + token.start;
    }
  }
  return start;
}

/** The lexer's tokens (comments included), byte offsets. */
export function scanTokens(sql: string): ScanToken[] {
  assertLoaded();
  return scanSync(sql).tokens;
}
