import { type Command, InvalidArgumentError } from "commander";
import { type ApiClient, apiClient } from "../api-client.ts";
import { globalOptions, targetOf, wholeNumber } from "../command-options.ts";
import { describeReshard, followReshard, type Reshard, reshardLabel } from "../follow-reshard.ts";
import { printResult, type TableView } from "../output-format.ts";

const dbPath = (db: string) => `/v1/databases/${encodeURIComponent(db)}`;

/** A keyspace hash as the router takes it: a decimal integer string (its range is the API's to check). */
function hashValue(value: string): string {
  if (!/^(0|-?[1-9]\d{0,19})$/.test(value)) throw new InvalidArgumentError("must be a decimal integer");
  return value;
}

/** `FROM:TO` for `db move --range`: two hash values, the end exclusive. */
export function hashRange(value: string): { from: string; to: string } {
  const match = /^(-?\d+):(-?\d+)$/.exec(value);
  if (!match) throw new InvalidArgumentError("expected FROM:TO, two decimal hash values");
  return { from: hashValue(match[1]!), to: hashValue(match[2]!) };
}

/** `A,B` for `db merge --shards`. */
export function shardPair(value: string): [number, number] {
  const match = /^(\d{1,9}),(\d{1,9})$/.exec(value);
  if (!match)
    throw new InvalidArgumentError("expected A,B: the shard that stays, then the one merged into it");
  return [Number(match[1]), Number(match[2])];
}

const reshardsView = (items: readonly Reshard[]): TableView => ({
  columns: ["ID", "KIND", "FROM", "TO", "PHASE", "STATE", "ROWS", "PAUSE MS", "MAP", "CREATED", "ERROR"],
  rows: items.map((r) => [
    r.id,
    r.kind,
    r.sourceShard,
    r.targetShard,
    r.phase,
    r.state,
    `${r.progress.rowsCopied}/${r.progress.rowsTotal}`,
    r.writePauseMs,
    r.mapVersion,
    r.createdAt,
    r.error,
  ]),
});

/** A started reshard: printed at once with `--no-wait`, else followed to its end. */
async function startedThenFollow(
  router: ApiClient,
  started: Reshard,
  wait: boolean,
  command: Command,
  target: number | null,
) {
  const { output } = globalOptions(command);
  if (!wait) {
    printResult(output, started, () => reshardsView([started]));
    return;
  }
  const done = await followReshard(router, started.database, started.id, target);
  printResult(output, done, () => `${reshardLabel(done)}: completed, shard map version ${done.mapVersion}`);
}

/** `dbplane db split|move|merge|reshards|reshard cancel`: the router's online resharding. */
export function registerReshardCommands(db: Command): void {
  const routerOf = async (command: Command) => apiClient(await targetOf(command), "router");
  const start = async (
    command: Command,
    database: string,
    route: string,
    body: { readonly toShard?: number; readonly [field: string]: unknown },
    wait: boolean,
  ) => {
    const router = await routerOf(command);
    const started = (await router.request<Reshard>("POST", `${dbPath(database)}/${route}`, body)).body;
    await startedThenFollow(router, started, wait, command, body.toShard ?? null);
  };

  db.command("split")
    .description("split a shard online (copy, catch up, verify, cut over, clean up), following each phase")
    .argument("<db>", "database name")
    .requiredOption("--shard <n>", "the shard whose range is split", wholeNumber)
    .option(
      "--at <hash>",
      "hash where the moved upper half starts (default: the median of its rows)",
      hashValue,
    )
    .option("--to-shard <n>", "an existing shard owning no range to take the upper half", wholeNumber)
    .option("--no-wait", "return once started, without following the reshard")
    .action(async (database: string, o, command: Command) => {
      const body = {
        shard: o.shard,
        ...(o.at !== undefined && { at: o.at }),
        ...(o.toShard !== undefined && { toShard: o.toShard }),
      };
      await start(command, database, "splits", body, o.wait);
    });

  db.command("move")
    .description("move a hash range to another shard online, following each phase")
    .argument("<db>", "database name")
    .requiredOption(
      "--range <from:to>",
      "the hash range that moves (end exclusive; 9223372036854775808 is the end)",
      hashRange,
    )
    .requiredOption("--to-shard <n>", "the shard that takes it", wholeNumber)
    .option("--no-wait", "return once started, without following the reshard")
    .action(async (database: string, o, command: Command) => {
      await start(command, database, "moves", { range: o.range, toShard: o.toShard }, o.wait);
    });

  db.command("merge")
    .description("merge two neighbouring shards online: B's range moves to A, following each phase")
    .argument("<db>", "database name")
    .requiredOption("--shards <a,b>", "A,B: the shard that stays, then the one merged into it", shardPair)
    .option("--no-wait", "return once started, without following the reshard")
    .action(async (database: string, o, command: Command) => {
      await start(command, database, "merges", { shards: o.shards }, o.wait);
    });

  db.command("reshards")
    .description("a database's reshards, newest first; with an id, that one (--follow: until it ends)")
    .argument("<db>", "database name")
    .argument("[id]", "a reshard's id")
    .option("--follow", "follow the reshard until it ends")
    .action(async (database: string, id: string | undefined, o, command: Command) => {
      const router = await routerOf(command);
      const { output } = globalOptions(command);
      if (id === undefined) {
        const list = (await router.request<{ reshards: Reshard[] }>("GET", `${dbPath(database)}/reshards`))
          .body;
        printResult(output, list, () => reshardsView(list.reshards));
        return;
      }
      const one = o.follow
        ? await followReshard(router, database, id)
        : (await router.request<Reshard>("GET", `${dbPath(database)}/reshards/${encodeURIComponent(id)}`))
            .body;
      printResult(output, one, () => (one.state === "running" ? describeReshard(one) : reshardsView([one])));
    });

  db.command("reshard")
    .description("act on a reshard")
    .command("cancel")
    .description("cancel a reshard before its cut-over (what it built is removed), following it to its end")
    .argument("<db>", "database name")
    .argument("<id>", "the reshard's id")
    .option("--no-wait", "return once asked, without following the reshard")
    .action(async (database: string, id: string, o, command: Command) => {
      const router = await routerOf(command);
      const path = `${dbPath(database)}/reshards/${encodeURIComponent(id)}`;
      const asked = (await router.request<Reshard>("POST", `${path}/cancel`)).body;
      const { output } = globalOptions(command);
      if (!o.wait) {
        printResult(output, asked, () => reshardsView([asked]));
        return;
      }
      let ended: Reshard;
      try {
        ended = await followReshard(router, database, id);
      } catch (err) {
        // Ending cancelled is what was asked for (followReshard reports it as a failure).
        ended = (await router.request<Reshard>("GET", path)).body;
        if (ended.state !== "cancelled") throw err;
      }
      printResult(
        output,
        ended,
        () => `${reshardLabel(ended)}: ${ended.state}${ended.error ? ` — ${ended.error}` : ""}`,
      );
    });
}
