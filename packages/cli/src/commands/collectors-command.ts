import type { Command } from "commander";
import { apiClient } from "../api-client.ts";
import { globalOptions, targetOf } from "../command-options.ts";
import { printResult, renderTable } from "../output-format.ts";

interface Group {
  readonly leader: string | null;
  readonly epoch: number;
  readonly targets: number;
  readonly members: readonly { id: string; lastSeenAt: string; live: boolean; assignedTargets: number }[];
}
interface Target {
  readonly id: string;
  readonly engine: string;
  readonly source: string;
  readonly endpoint: string;
  readonly shard?: { database: string; shard: number; role: string };
  readonly owner: string | null;
  readonly health: { state: string; reason: string } | null;
  readonly lastSample: { at: string } | null;
}
interface TargetPage {
  readonly items: Target[];
  readonly nextCursor: string | null;
}

/** `dbplane collectors members|targets`: the collector group and what it scrapes. */
export function registerCollectorsCommand(program: Command): void {
  const collectors = program
    .command("collectors")
    .description("the collector group: members, leader, targets");
  const collector = async (command: Command) => apiClient(await targetOf(command), "collector");

  collectors
    .command("members")
    .description("the group's members: leader, epoch, heartbeats, targets per member")
    .action(async (_o, command: Command) => {
      const group = (await (await collector(command)).request<Group>("GET", "/v1/members")).body;
      printResult(globalOptions(command).output, group, () => {
        const head = `leader ${group.leader ?? "-"}, epoch ${group.epoch}, ${group.targets} targets`;
        const rows = group.members.map((m) => [
          m.id,
          m.id === group.leader ? "yes" : "no",
          m.live ? "yes" : "no",
          m.assignedTargets,
          m.lastSeenAt,
        ]);
        const table = { columns: ["MEMBER", "LEADER", "LIVE", "TARGETS", "LAST SEEN"], rows };
        return `${head}\n${renderTable(table)}`;
      });
    });

  collectors
    .command("targets")
    .description("every target with its owner, health and last sample")
    .option("--engine <engine>", "only this engine's")
    .option("--health <state>", "only targets in this health state")
    .option("--owner <member>", "only this member's")
    .option("--source <source>", "static, discovery or provisioner")
    .action(async (o, command: Command) => {
      const client = await collector(command);
      const items: Target[] = [];
      let cursor: string | null = null;
      do {
        const query = new URLSearchParams({ limit: "1000" });
        for (const key of ["engine", "health", "owner", "source"] as const)
          if (o[key]) query.set(key, o[key]);
        if (cursor) query.set("cursor", cursor);
        const page: TargetPage = (await client.request<TargetPage>("GET", `/v1/targets?${query}`)).body;
        items.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      printResult(globalOptions(command).output, { items }, () => ({
        columns: ["TARGET", "ENGINE", "SOURCE", "SHARD", "OWNER", "HEALTH", "LAST SAMPLE", "ENDPOINT"],
        rows: items.map((t) => [
          t.id,
          t.engine,
          t.source,
          t.shard && `${t.shard.database}/${t.shard.shard} ${t.shard.role}`,
          t.owner,
          t.health?.state,
          t.lastSample?.at,
          t.endpoint,
        ]),
      }));
    });
}
