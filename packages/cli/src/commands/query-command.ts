import { SHARD_KEY_TYPES } from "@dbplane/sharding";
import { type Command, InvalidArgumentError } from "commander";
import { apiClient } from "../api-client.ts";
import { globalOptions, repeatable, targetOf } from "../command-options.ts";
import { printResult } from "../output-format.ts";

interface QueryResult {
  readonly database: string;
  readonly version: number;
  readonly shard?: number;
  readonly rowCount: number | null;
  readonly rows: readonly Record<string, unknown>[];
  readonly complete?: boolean;
}

/** `type:value`, as `--key bigint:42` or `--key text:alice`; the value keeps its colons. */
function shardKey(value: string) {
  const at = value.indexOf(":");
  const type = value.slice(0, at);
  if (at < 0 || !(SHARD_KEY_TYPES as readonly string[]).includes(type)) {
    throw new InvalidArgumentError(`expected type:value with type one of ${SHARD_KEY_TYPES.join(", ")}`);
  }
  return { type, value: value.slice(at + 1) };
}

function rowsView(result: QueryResult) {
  const columns = [...new Set(result.rows.flatMap((r) => Object.keys(r)))];
  const where = result.shard !== undefined ? `shard ${result.shard}` : "every shard";
  const count = result.rowCount ?? result.rows.length;
  const rows = count === 1 ? "row" : "rows";
  process.stderr.write(`(${count} ${rows} from ${where}, map version ${result.version})\n`);
  return { columns, rows: result.rows.map((r) => columns.map((c) => r[c])) };
}

/** `dbplane query <db> [--key type:value] SQL`: the router's HTTP query API. */
export function registerQueryCommand(program: Command): void {
  program
    .command("query")
    .description("run SQL on the shard owning a key, or on every shard (reads merged)")
    .argument("<db>", "database name")
    .argument("<sql...>", "the statement (words are joined with spaces)")
    .option("--key <type:value>", "route to the shard owning this key, e.g. bigint:42", shardKey)
    .option("--param <value>", "a value bound to $1, $2… in order (repeatable)", repeatable(String))
    .option("--read-only", "read-only work: may be served by a replica")
    .option("--allow-writes", "without --key: let the statement write on every shard")
    .action(async (db: string, sql: string[], o, command: Command) => {
      const router = apiClient(await targetOf(command), "router");
      const body = {
        sql: sql.join(" "),
        ...(o.key && { key: o.key }),
        ...(o.param && { params: o.param }),
        ...(o.readOnly && { readOnly: true }),
        ...(o.allowWrites && { allowWrites: true }),
      };
      const result = (
        await router.request<QueryResult>("POST", `/v1/databases/${encodeURIComponent(db)}/query`, body)
      ).body;
      printResult(globalOptions(command).output, result, () => rowsView(result));
    });
}
