import type { Command } from "commander";
import type { ApiClient } from "../api-client.ts";
import { globalOptions, wholeNumber } from "../command-options.ts";
import { printResult } from "../output-format.ts";
import type { Accepted } from "./db-command.ts";

interface Backup {
  readonly backupId: string;
  readonly shard: number;
  readonly state: string;
  readonly location: string | null;
  readonly bytes: number | null;
  readonly reason: string | null;
  readonly completedAt: string | null;
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

/** `dbplane db remove-shard|scale|backup|backups`: the provisioner's day-2 changes. */
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
    .description("a database's backups, one line per shard per backup id")
    .argument("<name>", "database name")
    .action(async (name: string, _o, command: Command) => {
      const list = (
        await (await provisionerOf(command)).request<{ items: Backup[] }>("GET", `${path(name)}/backups`)
      ).body;
      printResult(globalOptions(command).output, list, () => ({
        columns: ["BACKUP", "SHARD", "STATE", "BYTES", "COMPLETED", "LOCATION", "REASON"],
        rows: list.items.map((b) => [
          b.backupId,
          b.shard,
          b.state,
          b.bytes,
          b.completedAt,
          b.location,
          b.reason,
        ]),
      }));
    });
}
