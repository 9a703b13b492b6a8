import { type Command, InvalidArgumentError } from "commander";
import { type ApiClient, apiClient } from "../api-client.ts";
import { globalOptions, repeatable, targetOf, wholeNumber } from "../command-options.ts";
import { followOperation } from "../follow-operation.ts";
import { printResult, renderTable, type TableView } from "../output-format.ts";
import { registerDbAdminCommands } from "./db-admin-command.ts";
import { registerReshardCommands } from "./db-reshard-command.ts";
import { registerShardsCommand } from "./db-shards-command.ts";

interface Shard {
  readonly shard: number;
  readonly state: string;
  readonly replicas: number;
  readonly reason: string | null;
  readonly primary: { readonly host: string; readonly port: number } | null;
}
interface Database {
  readonly name: string;
  readonly state: string;
  readonly version: number;
  readonly reason: string | null;
  readonly shards: readonly Shard[];
  readonly createdAt: string;
}
/** A provisioner 202: the operation that carries the change out. */
export interface Accepted {
  readonly operationId: string;
  readonly database: string;
  readonly outcome: string;
  readonly status: string;
}

const path = (name: string) => `/v1/databases/${encodeURIComponent(name)}`;

const listView = (items: readonly Database[]): TableView => ({
  columns: ["NAME", "STATE", "VERSION", "SHARDS", "CREATED"],
  rows: items.map((d) => [
    d.name,
    d.state,
    d.version,
    `${d.shards.filter((s) => s.state === "ready").length}/${d.shards.length}`,
    d.createdAt,
  ]),
});

function databaseView(db: Database): string {
  const head = `${db.name}: ${db.state} (version ${db.version})${db.reason ? ` — ${db.reason}` : ""}`;
  const shards = listOfShards(db.shards);
  return `${head}\n${shards}`;
}

function listOfShards(shards: readonly Shard[]): string {
  return renderTable({
    columns: ["SHARD", "STATE", "PRIMARY", "REPLICAS", "REASON"],
    rows: shards.map((s) => [
      s.shard,
      s.state,
      s.primary && `${s.primary.host}:${s.primary.port}`,
      s.replicas,
      s.reason,
    ]),
  });
}

/** `table:column:type`, as `--sharded-table orders:id:bigint`. */
function shardedTable(value: string) {
  const [table, keyColumn, keyType, ...rest] = value.split(":");
  if (!table || !keyColumn || !keyType || rest.length > 0) {
    throw new InvalidArgumentError("expected table:column:type, e.g. orders:id:bigint");
  }
  return { table, keyColumn, keyType };
}

/**
 * What a 202 leads to: with `--no-wait` the accepted operation, else the operation followed to
 * its end and then the database as it is (or the operation, when the database is gone).
 */
async function acceptedThenFollow(
  provisioner: ApiClient,
  accepted: Accepted,
  wait: boolean,
  command: Command,
): Promise<void> {
  const { output } = globalOptions(command);
  if (!wait) {
    printResult(output, accepted, () => ({
      columns: ["OPERATION", "DATABASE", "OUTCOME", "FOLLOW"],
      rows: [[accepted.operationId, accepted.database, accepted.outcome, accepted.status]],
    }));
    return;
  }
  const op = await followOperation(provisioner, accepted.operationId);
  if (op.kind === "delete") {
    printResult(output, op, () => `database ${op.database} deleted`);
    return;
  }
  const db = (await provisioner.request<Database>("GET", path(accepted.database))).body;
  printResult(output, db, () => databaseView(db));
}

async function provisionerOf(command: Command): Promise<ApiClient> {
  return apiClient(await targetOf(command), "provisioner");
}

/** `dbplane db …`: the provisioner's databases, and the router's view of their shards. */
export function registerDbCommand(program: Command): void {
  const db = program
    .command("db")
    .description("databases: create, list, inspect, scale, back up, grow, reshard, delete");

  db.command("create")
    .description("create a database and follow it until it is ready")
    .argument("<name>", "database name")
    .option("--shards <n>", "number of shards", wholeNumber)
    .option("--replicas <n>", "streaming replicas per shard", wholeNumber)
    .option(
      "--postgres-version <major>",
      "PostgreSQL major version (default: the newest installed with the local driver, 17 on Kubernetes)",
      wholeNumber,
    )
    .option("--storage <size>", "volume size per server, e.g. 10Gi")
    .option(
      "--sharded-table <table:column:type>",
      "a table distributed by key (repeatable)",
      repeatable(shardedTable),
    )
    .option("--no-wait", "return once accepted, without following the operation")
    .action(async (name: string, o, command: Command) => {
      const provisioner = await provisionerOf(command);
      const body = {
        name,
        ...(o.shards !== undefined && { shards: o.shards }),
        ...(o.replicas !== undefined && { replicasPerShard: o.replicas }),
        ...(o.postgresVersion !== undefined && { postgresVersion: o.postgresVersion }),
        ...(o.storage !== undefined && { storage: { size: o.storage } }),
        ...(o.shardedTable !== undefined && { shardedTables: o.shardedTable }),
      };
      const accepted = (await provisioner.request<Accepted>("POST", "/v1/databases", body)).body;
      await acceptedThenFollow(provisioner, accepted, o.wait, command);
    });

  db.command("list")
    .description("every database the provisioner manages")
    .action(async (_o, command: Command) => {
      const { items } = (
        await (await provisionerOf(command)).request<{ items: Database[] }>("GET", "/v1/databases")
      ).body;
      printResult(globalOptions(command).output, { items }, () => listView(items));
    });

  db.command("get")
    .description("a database: state, version, and each shard")
    .argument("<name>", "database name")
    .action(async (name: string, _o, command: Command) => {
      const found = (await (await provisionerOf(command)).request<Database>("GET", path(name))).body;
      printResult(globalOptions(command).output, found, () => databaseView(found));
    });

  db.command("delete")
    .description("delete a database and what dbplane made for it")
    .argument("<name>", "database name")
    .option("--delete-volumes", "drop the data too (by default it is kept, to be recovered)")
    .option("--no-wait", "return once accepted, without following the operation")
    .action(async (name: string, o, command: Command) => {
      const provisioner = await provisionerOf(command);
      const keep = o.deleteVolumes ? "false" : "true";
      const accepted = (await provisioner.request<Accepted>("DELETE", `${path(name)}?keepVolumes=${keep}`))
        .body;
      await acceptedThenFollow(provisioner, accepted, o.wait, command);
    });

  db.command("add-shard")
    .description("add empty shards (the router moves ranges onto them)")
    .argument("<name>", "database name")
    .option("--count <n>", "how many shards to add", wholeNumber, 1)
    .option("--no-wait", "return once accepted, without following the operation")
    .action(async (name: string, o, command: Command) => {
      const provisioner = await provisionerOf(command);
      const accepted = (
        await provisioner.request<Accepted>("POST", `${path(name)}/shards`, { count: o.count })
      ).body;
      await acceptedThenFollow(provisioner, accepted, o.wait, command);
    });

  registerDbAdminCommands(db, { provisionerOf, acceptedThenFollow });
  registerShardsCommand(db);
  registerReshardCommands(db);
}
