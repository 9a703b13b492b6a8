import { type Command, InvalidArgumentError } from "commander";
import { stringify } from "yaml";
import { apiClient } from "../api-client.ts";
import { type AuditEvent, tailAudit } from "../audit-tail.ts";
import { globalOptions, targetOf, wholeNumber } from "../command-options.ts";
import { durationMs } from "../job-definition.ts";

/** `--since 10m`, refused in commander's words (naming the option) when it is not a duration. */
function sinceMs(value: string): number {
  try {
    return durationMs(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** One event per line: JSON lines for `-o json`, YAML documents for `-o yaml`, else a line for people. */
function eventPrinter(format: string): (event: AuditEvent) => void {
  if (format === "json") return (e) => process.stdout.write(`${JSON.stringify(e)}\n`);
  if (format === "yaml") return (e) => process.stdout.write(`---\n${stringify(e)}`);
  return (e) =>
    process.stdout.write(`${e.time}  ${e.type}  ${e.subject}  ${e.source}  ${JSON.stringify(e.data)}\n`);
}

/** `dbplane events tail`: the bus's events, live, as the projection-coordinator's audit records them. */
export function registerEventsCommand(program: Command): void {
  const events = program.command("events").description("the event bus, as the audit read model records it");
  events
    .command("tail")
    .description("print events as they happen (polls the projection-coordinator's GET /v1/audit)")
    .option("--type <glob>", "only these CloudEvents types, e.g. 'io.dbplane.scheduler.*'")
    .option("--subject <subject>", "only events about this subject (the aggregate)")
    .option("--since <duration>", "start this long ago (e.g. 10m) instead of now", sinceMs)
    .option("--count <n>", "exit after this many events", wholeNumber)
    .action(async (o, command: Command) => {
      const coordinator = apiClient(await targetOf(command), "projection-coordinator");
      await tailAudit(
        coordinator,
        {
          startMs: Date.now() - (o.since ?? 0),
          ...(o.type !== undefined && { type: o.type }),
          ...(o.subject !== undefined && { subject: o.subject }),
          ...(o.count !== undefined && { count: o.count }),
        },
        eventPrinter(globalOptions(command).output),
      );
    });
}
