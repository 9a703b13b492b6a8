import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import type { Command } from "commander";
import { apiClient } from "../api-client.ts";
import { CliError, UsageError } from "../cli-error.ts";
import { globalOptions, targetOf } from "../command-options.ts";
import { ExitCode } from "../exit-codes.ts";
import { printResult } from "../output-format.ts";

interface MigrationResult {
  readonly database: string;
  readonly id: string;
  readonly complete: boolean;
  readonly shards: readonly {
    readonly shard: number;
    readonly status: string;
    readonly error?: { readonly message: string; readonly sqlstate?: string };
  }[];
}

/**
 * The migration's id when `--id` is not given: the file's name without `.sql` and a hash of its
 * text, so running the same file again is the no-op the API promises, and an edited file is a
 * new migration rather than a conflict.
 */
export function migrationIdOf(file: string, sql: string): string {
  const stem = basename(file)
    .replace(/\.sql$/i, "")
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "");
  const hash = createHash("sha256").update(sql).digest("hex").slice(0, 12);
  return `${stem.slice(0, 180) || "migration"}-${hash}`;
}

/** `dbplane migrate <db> <file.sql>`: the router's migrations API, every shard in one transaction each. */
export function registerMigrateCommand(program: Command): void {
  program
    .command("migrate")
    .description("apply a DDL file to every shard of a database (recorded by id: repeating it is a no-op)")
    .argument("<db>", "database name")
    .argument("<file>", "a .sql file; run as one statement list in one transaction per shard")
    .option("--id <id>", "the migration's id (default: the file's name and a hash of its text)")
    .action(async (database: string, file: string, o, command: Command) => {
      let sql: string;
      try {
        sql = await readFile(file, "utf8");
      } catch (err) {
        throw new UsageError(
          `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
      if (sql.trim() === "") throw new UsageError(`${file} is empty`);
      const router = apiClient(await targetOf(command), "router");
      const body = { id: o.id ?? migrationIdOf(file, sql), statements: [sql] };
      const result = (
        await router.request<MigrationResult>(
          "POST",
          `/v1/databases/${encodeURIComponent(database)}/migrations`,
          body,
        )
      ).body;
      printResult(globalOptions(command).output, result, () => ({
        columns: ["SHARD", "STATUS", "ERROR"],
        rows: result.shards.map((s) => [
          s.shard,
          s.status,
          s.error && `${s.error.message}${s.error.sqlstate ? ` (SQLSTATE ${s.error.sqlstate})` : ""}`,
        ]),
      }));
      if (!result.complete) {
        throw new CliError(
          `migration ${result.id} is pending on some shards of ${database}: run it again once they are back`,
          ExitCode.apiError,
        );
      }
    });
}
