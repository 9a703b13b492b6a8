import { type Command, InvalidArgumentError } from "commander";
import type { ApiClient } from "../api-client.ts";
import { UsageError } from "../cli-error.ts";
import { globalOptions, wholeNumber } from "../command-options.ts";
import { printResult, renderTable } from "../output-format.ts";
import type { Accepted } from "./db-command.ts";

interface Backup {
  readonly backupId: string;
  readonly shard: number;
  readonly state: string;
  readonly location: string | null;
  readonly bytes: number | null;
  readonly reason: string | null;
  readonly completedAt: string | null;
  readonly startLsn?: string | null;
  readonly stopLsn?: string | null;
}
interface BackupList {
  readonly items: Backup[];
  /** Moments a restore can reach (null without a complete physical backup of every shard). */
  readonly window?: { earliest: string; latest: string } | null;
}

/** An RFC 3339 moment (`--point-in-time`), checked here so a typo is a usage error, not a 400. */
function moment(value: string): string {
  if (
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) ||
    Number.isNaN(Date.parse(value))
  )
    throw new InvalidArgumentError("expected an RFC 3339 time with its offset, e.g. 2026-12-05T10:30:00Z");
  return value;
}
/** What `db` shares with these commands: its provisioner client and how a 202 is followed. */
export interface DbCommandKit {
  provisionerOf(command: Command): Promise<ApiClient>;
  acceptedThenFollow(
    provisioner: ApiClient,
    accepted: Accepted,
    wait: boolean,
    command: Command,
  ): Promise<void>;
}

const path = (name: string) => `/v1/databases/${encodeURIComponent(name)}`;

/** `dbplane db remove-shard|scale|backup|backups|backup-policy|restore`: the provisioner's day-2 changes. */
export function registerDbAdminCommands(db: Command, kit: DbCommandKit): void {
  const { provisionerOf, acceptedThenFollow } = kit;
  db.command("remove-shard")
    .description("remove the last shard, once it owns no range (move or merge its range away first)")
    .argument("<name>", "database name")
    .argument("<shard>", "the shard's index (the last one)", wholeNumber)
    .option("--no-wait", "return once accepted, without following the operation")
    .action(async (name: string, shard: number, o, command: Command) => {
      const provisioner = await provisionerOf(command);
      const accepted = (await provisioner.request<Accepted>("DELETE", `${path(name)}/shards/${shard}`)).body;
      await acceptedThenFollow(provisioner, accepted, o.wait, command);
    });

  db.command("scale")
    .description("set the streaming replicas of every shard, or of one")
    .argument("<name>", "database name")
    .requiredOption("--replicas <n>", "streaming replicas besides each primary", wholeNumber)
    .option("--shard <n>", "only this shard", wholeNumber)
    .option("--no-wait", "return once accepted, without following the operation")
    .action(async (name: string, o, command: Command) => {
      const provisioner = await provisionerOf(command);
      const body = { replicas: o.replicas, ...(o.shard !== undefined && { shard: o.shard }) };
      const accepted = (await provisioner.request<Accepted>("POST", `${path(name)}/replicas`, body)).body;
      await acceptedThenFollow(provisioner, accepted, o.wait, command);
    });

  db.command("backup")
    .description("take a base backup of every shard, or of one, and follow it")
    .argument("<name>", "database name")
    .option("--shard <n>", "only this shard", wholeNumber)
    .option("--backup-id <id>", "your id for it (a repeated id is the same backup); generated if absent")
    .option("--no-wait", "return once accepted, without following the operation")
    .action(async (name: string, o, command: Command) => {
      const provisioner = await provisionerOf(command);
      const body = {
        ...(o.shard !== undefined && { shard: o.shard }),
        ...(o.backupId !== undefined && { backupId: o.backupId }),
      };
      const accepted = (await provisioner.request<Accepted>("POST", `${path(name)}/backups`, body)).body;
      await acceptedThenFollow(provisioner, accepted, o.wait, command);
    });

  db.command("backups")
    .description("a database's backups, one line per shard per backup id, and the window a restore can reach")
    .argument("<name>", "database name")
    .action(async (name: string, _o, command: Command) => {
      const list = (await (await provisionerOf(command)).request<BackupList>("GET", `${path(name)}/backups`))
        .body;
      printResult(globalOptions(command).output, list, () => {
        const table = renderTable({
          columns: ["BACKUP", "SHARD", "STATE", "BYTES", "COMPLETED", "WAL", "LOCATION", "REASON"],
          rows: list.items.map((b) => [
            b.backupId,
            b.shard,
            b.state,
            b.bytes,
            b.completedAt,
            b.startLsn ? `${b.startLsn}..${b.stopLsn ?? ""}` : null,
            b.location,
            b.reason,
          ]),
        });
        const window = list.window
          ? `restorable from ${list.window.earliest} to ${list.window.latest}`
          : "no point-in-time restore yet (no complete physical backup of every shard)";
        return `${table}\n\n${window}`;
      });
    });

  db.command("backup-policy")
    .description(
      "back up every shard on a schedule, keeping the newest backups (and archiving WAL for restores)",
    )
    .argument("<name>", "database name")
    .option("--schedule <cron>", "cron expression (5 or 6 fields, or @daily and the like)")
    .option("--timezone <zone>", "IANA time zone the schedule is read in", "UTC")
    .option("--retain-count <n>", "keep the newest n completed backups", wholeNumber)
    .option("--retain-days <n>", "keep backups younger than n days", wholeNumber)
    .option("--off", "remove the policy (its scheduler job is cancelled; backups taken are kept)")
    .option("--no-wait", "return once accepted, without following the operation")
    .action(async (name: string, o, command: Command) => {
      const provisioner = await provisionerOf(command);
      if (o.off) {
        if (o.schedule !== undefined) throw new UsageError("--off takes no --schedule");
        const accepted = (await provisioner.request<Accepted>("DELETE", `${path(name)}/backup`)).body;
        await acceptedThenFollow(provisioner, accepted, o.wait, command);
        return;
      }
      if (o.schedule === undefined) throw new UsageError("give --schedule (or --off)");
      if ((o.retainCount === undefined) === (o.retainDays === undefined))
        throw new UsageError("give exactly one of --retain-count or --retain-days");
      const body = {
        schedule: { cron: o.schedule, timezone: o.timezone },
        retain: o.retainCount !== undefined ? { count: o.retainCount } : { days: o.retainDays },
      };
      const accepted = (await provisioner.request<Accepted>("PUT", `${path(name)}/backup`, body)).body;
      await acceptedThenFollow(provisioner, accepted, o.wait, command);
    });

  db.command("restore")
    .description(
      "restore a database into a new one: to the end of a backup, or to a point in time, every shard alike",
    )
    .argument("<name>", "the database whose backups are restored")
    .requiredOption("--into <new>", "name of the new database")
    .option("--backup-id <id>", "restore to the end of this backup")
    .option(
      "--point-in-time <time>",
      "restore to this moment (RFC 3339), within `db backups`' window",
      moment,
    )
    .option("--no-wait", "return once accepted, without following the operation")
    .action(async (name: string, o, command: Command) => {
      if ((o.backupId === undefined) === (o.pointInTime === undefined))
        throw new UsageError("give exactly one of --backup-id or --point-in-time");
      const provisioner = await provisionerOf(command);
      const body = {
        into: o.into,
        ...(o.backupId !== undefined && { backupId: o.backupId }),
        ...(o.pointInTime !== undefined && { pointInTime: o.pointInTime }),
      };
      const accepted = (await provisioner.request<Accepted>("POST", `${path(name)}/restores`, body)).body;
      await acceptedThenFollow(provisioner, accepted, o.wait, command);
    });
}
