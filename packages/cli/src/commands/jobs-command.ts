import type { Command } from "commander";
import { type ApiClient, apiClient } from "../api-client.ts";
import { globalOptions, targetOf } from "../command-options.ts";
import { printResult, type TableView } from "../output-format.ts";
import { registerJobsWriteCommands } from "./jobs-write-command.ts";

interface Job {
  readonly id: string;
  readonly state: string;
  readonly definition: {
    readonly schedule?: Record<string, unknown>;
    readonly target?: Record<string, unknown>;
  };
  readonly nextRunAt: string | null;
  readonly lastRunAt: string | null;
  readonly runsCount: number;
  readonly missedCount: number;
}
interface JobPage {
  readonly items: Job[];
  readonly nextCursor: string | null;
}

/** `every 60s`, `cron 0 2 * * * (Europe/Paris)`, `at 2027-01-01T00:00:00Z`. */
function scheduleOf(job: Job): string {
  const s = job.definition.schedule ?? {};
  if (s.kind === "every") return `every ${Number(s.everyMs) / 1000}s`;
  if (s.kind === "cron") return `cron ${s.expression}${s.timeZone ? ` (${s.timeZone})` : ""}`;
  if (s.kind === "at") return `at ${s.at}`;
  return String(s.kind ?? "-");
}

const jobsView = (jobs: readonly Job[]): TableView => ({
  columns: ["ID", "STATE", "SCHEDULE", "TARGET", "NEXT RUN", "LAST RUN", "RUNS", "MISSED"],
  rows: jobs.map((j) => [
    j.id,
    j.state,
    scheduleOf(j),
    j.definition.target?.subject ?? j.definition.target?.url,
    j.nextRunAt,
    j.lastRunAt,
    j.runsCount,
    j.missedCount,
  ]),
});

const jobPath = (id: string) => `/v1/jobs/${encodeURIComponent(id)}`;

/** Every page of `GET /v1/jobs`, following `nextCursor`. */
async function allJobs(scheduler: ApiClient, state: string | undefined): Promise<Job[]> {
  const jobs: Job[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: "1000" });
    if (state) query.set("state", state);
    if (cursor) query.set("cursor", cursor);
    const page: JobPage = (await scheduler.request<JobPage>("GET", `/v1/jobs?${query}`)).body;
    jobs.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return jobs;
}

/** `dbplane jobs list|get|create|trigger|pause|resume|runs|delete`: the scheduler's jobs. */
export function registerJobsCommand(program: Command): void {
  const jobs = program
    .command("jobs")
    .description("scheduled jobs: list, inspect, create, trigger, pause, resume, runs, delete");
  const scheduler = async (command: Command) => apiClient(await targetOf(command), "scheduler");

  jobs
    .command("list")
    .description("every job, by id")
    .option("--state <state>", "only jobs in this state (active, paused, completed, cancelled)")
    .action(async (o, command: Command) => {
      const items = await allJobs(await scheduler(command), o.state);
      printResult(globalOptions(command).output, { items }, () => jobsView(items));
    });

  jobs
    .command("get")
    .description("one job")
    .argument("<id>", "job id")
    .action(async (id: string, _o, command: Command) => {
      const job = (await (await scheduler(command)).request<Job>("GET", jobPath(id))).body;
      printResult(globalOptions(command).output, job, () => jobsView([job]));
    });

  for (const action of ["pause", "resume"] as const) {
    jobs
      .command(action)
      .description(
        action === "pause" ? "pause a job: no occurrence fires while paused" : "resume a paused job from now",
      )
      .argument("<id>", "job id")
      .action(async (id: string, _o, command: Command) => {
        const job = (await (await scheduler(command)).request<Job>("POST", `${jobPath(id)}/${action}`)).body;
        printResult(globalOptions(command).output, job, () => jobsView([job]));
      });
  }

  jobs
    .command("trigger")
    .description("fire one extra occurrence now, besides the schedule")
    .argument("<id>", "job id")
    .action(async (id: string, _o, command: Command) => {
      const fired = (
        await (
          await scheduler(command)
        ).request<{ job: Job; scheduledAt: string; messageId: string }>("POST", `${jobPath(id)}/trigger`)
      ).body;
      printResult(
        globalOptions(command).output,
        fired,
        () => `job ${id} triggered: occurrence ${fired.scheduledAt}`,
      );
    });

  registerJobsWriteCommands(jobs);
}
