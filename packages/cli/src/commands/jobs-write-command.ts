import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { type ApiClient, apiClient } from "../api-client.ts";
import { UsageError } from "../cli-error.ts";
import { globalOptions, targetOf, wholeNumber } from "../command-options.ts";
import { jobBodyOf, parseJobDocument } from "../job-definition.ts";
import { printResult, type TableView } from "../output-format.ts";

interface Run {
  readonly jobId: string;
  readonly scheduledAt: string;
  readonly manual: boolean;
  readonly outcome: string;
  readonly firedAt: string | null;
  readonly latenessMs: number | null;
  readonly error: string | null;
}
interface RunPage {
  readonly items: Run[];
  readonly nextCursor: string | null;
}

const jobPath = (id: string) => `/v1/jobs/${encodeURIComponent(id)}`;

const runsView = (runs: readonly Run[]): TableView => ({
  columns: ["SCHEDULED", "OUTCOME", "MANUAL", "FIRED", "LATENESS MS", "ERROR"],
  rows: runs.map((r) => [
    r.scheduledAt,
    r.outcome,
    r.manual ? "yes" : "no",
    r.firedAt,
    r.latenessMs,
    r.error,
  ]),
});

/** A job's runs, newest first, following `nextCursor` until `limit` runs are read. */
async function runsOf(scheduler: ApiClient, id: string, outcome: string | undefined, limit: number) {
  const runs: Run[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: String(Math.min(1_000, limit - runs.length)) });
    if (outcome) query.set("outcome", outcome);
    if (cursor) query.set("cursor", cursor);
    const page: RunPage = (await scheduler.request<RunPage>("GET", `${jobPath(id)}/runs?${query}`)).body;
    runs.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && runs.length < limit);
  return runs;
}

/** `dbplane jobs create|runs|delete`: the scheduler's writes and run history. */
export function registerJobsWriteCommands(jobs: Command): void {
  const scheduler = async (command: Command) => apiClient(await targetOf(command), "scheduler");

  jobs
    .command("create")
    .description("create or replace a job, from a JSON/YAML file, flags, or both (flags win)")
    .option("-f, --file <file>", "a job document: id, schedule, target, … as POST /v1/jobs takes it")
    .option("--id <id>", "job id (an existing id is replaced)")
    .option("--every <duration>", "fire every 90s, 5m, 1h, …")
    .option("--cron <expression>", "fire by a cron expression")
    .option("--time-zone <zone>", "the IANA zone --cron is read in")
    .option("--at <time>", "fire once at this RFC 3339 time")
    .option("--subject <subject>", "publish a NATS message on this subject")
    .option("--url <url>", "call this HTTP endpoint")
    .option("--payload <json>", "the message's payload (or the request's body)")
    .option("--max-runs <n>", "end after this many fired occurrences", wholeNumber)
    .action(async (o, command: Command) => {
      let fromFile: Record<string, unknown> | undefined;
      if (o.file !== undefined) {
        const text = await readFile(o.file, "utf8").catch((err: NodeJS.ErrnoException) => {
          throw new UsageError(`cannot read ${o.file}: ${err.code ?? err.message}`);
        });
        fromFile = parseJobDocument(text, o.file);
      }
      const body = jobBodyOf(o, fromFile);
      const job = (
        await (
          await scheduler(command)
        ).request<{ id: string; state: string; nextRunAt: string | null }>("POST", "/v1/jobs", body)
      ).body;
      printResult(
        globalOptions(command).output,
        job,
        () => `job ${job.id}: ${job.state}, next run ${job.nextRunAt ?? "-"}`,
      );
    });

  jobs
    .command("runs")
    .description("a job's runs (fired, missed, failed), newest first")
    .argument("<id>", "job id")
    .option("--outcome <outcome>", "only fired, missed or failed runs")
    .option("--limit <n>", "at most this many runs", wholeNumber, 100)
    .action(async (id: string, o, command: Command) => {
      const items = await runsOf(await scheduler(command), id, o.outcome, o.limit);
      printResult(globalOptions(command).output, { items }, () => runsView(items));
    });

  jobs
    .command("delete")
    .description("cancel a job: no further occurrence fires; its runs are kept")
    .argument("<id>", "job id")
    .action(async (id: string, _o, command: Command) => {
      const job = (
        await (await scheduler(command)).request<{ id: string; state: string }>("DELETE", jobPath(id))
      ).body;
      printResult(globalOptions(command).output, job, () => `job ${job.id}: ${job.state}`);
    });
}
