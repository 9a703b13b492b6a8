import type { ScanToken } from "libpg-query";
import { SqlText, scanTokens } from "./parser.ts";

/** Byte span [start, end) in the statement's UTF-8 text. */
export type Span = readonly [number, number];

const TARGET_LIST_END = new Set([
  "into",
  "from",
  "where",
  "group",
  "having",
  "window",
  "order",
  "limit",
  "offset",
  "fetch",
  "for",
  "union",
  "intersect",
  "except",
]);
const GROUP_BY_END = new Set([
  "having",
  "window",
  "order",
  "limit",
  "offset",
  "fetch",
  "for",
  "union",
  "intersect",
  "except",
]);
const ORDER_BY_END = new Set(["limit", "offset", "fetch", "for"]);
const LIMIT_CLAUSES = new Set(["limit", "offset", "fetch"]);
const SORT_OPTIONS = new Set(["asc", "desc", "nulls", "using"]);

/**
 * The top-level clauses of a SELECT's text, found with PostgreSQL's own lexer: what the rewrite
 * of a scatter read needs (where the select list ends, the text of GROUP BY and ORDER BY items,
 * where LIMIT/OFFSET/FETCH sit). Parenthesised text (subqueries, function arguments) is skipped.
 */
export class SelectTokens {
  readonly text: SqlText;
  private readonly tokens: ScanToken[];
  private readonly depth: number[] = [];

  constructor(sql: string) {
    this.text = new SqlText(sql);
    this.tokens = scanTokens(sql).filter((t) => t.tokenName !== "C_COMMENT" && t.tokenName !== "SQL_COMMENT");
    let depth = 0;
    for (const token of this.tokens) {
      if (token.text === ")" || token.text === "]") depth--;
      this.depth.push(depth);
      if (token.text === "(" || token.text === "[") depth++;
    }
  }

  /** The byte offset just after the last select-list item (undefined for TABLE/VALUES forms). */
  targetListEnd(): number | undefined {
    const select = this.topLevel().find((i) => this.keyword(i) === "select");
    if (select === undefined) return undefined;
    const end = this.topLevel().find((i) => i > select && TARGET_LIST_END.has(this.keyword(i) ?? ""));
    const last = (end ?? this.tokens.length) - 1;
    return last > select ? this.tokens[last]!.end : undefined;
  }

  /** GROUP BY items' spans, in order. */
  groupByItems(): Span[] | undefined {
    return this.clauseItems("group", GROUP_BY_END, false);
  }

  /** ORDER BY items' spans without ASC/DESC/NULLS/USING, in order. */
  orderByItems(): Span[] | undefined {
    return this.clauseItems("order", ORDER_BY_END, true);
  }

  /** Spans of the LIMIT, OFFSET and FETCH clauses. */
  limitClauses(): Span[] {
    const top = this.topLevel();
    const spans: Span[] = [];
    for (let k = 0; k < top.length; k++) {
      const i = top[k]!;
      if (!LIMIT_CLAUSES.has(this.keyword(i) ?? "")) continue;
      let j = k + 1;
      while (
        j < top.length &&
        !LIMIT_CLAUSES.has(this.keyword(top[j]!) ?? "") &&
        this.keyword(top[j]!) !== "for"
      )
        j++;
      const lastToken = (j < top.length ? top[j]! : this.tokens.length) - 1;
      spans.push([this.tokens[i]!.start, this.tokens[lastToken]!.end]);
      k = j - 1;
    }
    return spans;
  }

  /** The text of a function call starting at byte `start`: `[name, rest]` where rest is `(args)` plus any FILTER (…). */
  callAt(start: number): { name: string; rest: string } | undefined {
    const first = this.tokens.findIndex((t) => t.start === start);
    if (first < 0) return undefined;
    const open = this.tokens.findIndex((t, i) => i > first && t.text === "(");
    if (open < 0) return undefined;
    let close = this.matching(open);
    if (this.keyword(close + 1) === "filter" && this.tokens[close + 2]?.text === "(")
      close = this.matching(close + 2);
    return {
      name: this.text.slice(this.tokens[first]!.start, this.tokens[open]!.start).trim(),
      rest: this.text.slice(this.tokens[open]!.start, this.tokens[close]!.end),
    };
  }

  slice(span: Span): string {
    return this.text.slice(span[0], span[1]);
  }

  private matching(open: number): number {
    const depth = this.depth[open]!;
    for (let i = open + 1; i < this.tokens.length; i++)
      if (this.depth[i] === depth && this.tokens[i]!.text === ")") return i;
    return this.tokens.length - 1;
  }

  private clauseItems(keyword: string, enders: ReadonlySet<string>, stripSort: boolean): Span[] | undefined {
    const top = this.topLevel();
    const at = top.findIndex((i) => this.keyword(i) === keyword && this.keyword(i + 1) === "by");
    if (at < 0) return undefined;
    const items: Span[] = [];
    let first: number | undefined;
    let last: number | undefined;
    let sorting = false;
    const flush = () => {
      if (first !== undefined && last !== undefined)
        items.push([this.tokens[first]!.start, this.tokens[last]!.end]);
      first = last = undefined;
      sorting = false;
    };
    for (let i = top[at]! + 2; i < this.tokens.length; i++) {
      const depth = this.depth[i]!;
      if (depth === 0 && enders.has(this.keyword(i) ?? "")) break;
      if (depth === 0 && this.tokens[i]!.text === ",") {
        flush();
        continue;
      }
      if (depth === 0 && stripSort && SORT_OPTIONS.has(this.keyword(i) ?? "")) sorting = true;
      if (sorting) continue;
      first ??= i;
      last = i;
    }
    flush();
    return items;
  }

  private topLevel(): number[] {
    return this.tokens.flatMap((_, i) => (this.depth[i] === 0 ? [i] : []));
  }

  private keyword(i: number): string | undefined {
    const token = this.tokens[i];
    return token !== undefined && token.keywordKind > 0 ? token.text.toLowerCase() : undefined;
  }
}
