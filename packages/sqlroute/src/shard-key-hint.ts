import { scanTokens } from "./parser.ts";

const HINT = /^\/\*\s*dbplane_shard_key\s*:\s*(.*?)\s*\*\/$/s;

/**
 * The value of a `/* dbplane_shard_key: <value> *\/` comment anywhere in the statement, quotes
 * (`'…'` or `"…"`) removed. Only real comments count: the same text inside a string literal is data.
 */
export function shardKeyHint(sql: string): string | undefined {
  if (!sql.includes("dbplane_shard_key")) return undefined;
  for (const token of scanTokens(sql)) {
    if (token.tokenName !== "C_COMMENT") continue;
    const value = HINT.exec(token.text)?.[1];
    if (value !== undefined && value !== "") return unquote(value);
  }
  return undefined;
}

function unquote(value: string): string {
  const quote = value[0];
  if ((quote === "'" || quote === '"') && value.length >= 2 && value.at(-1) === quote) {
    return value.slice(1, -1).replaceAll(quote + quote, quote);
  }
  return value;
}
