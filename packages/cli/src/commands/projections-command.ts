import type { Command } from "commander";
import { apiClient } from "../api-client.ts";
import { globalOptions, targetOf, wholeNumber } from "../command-options.ts";
import { printResult } from "../output-format.ts";

interface Unit {
  readonly partition: number;
  readonly owner: string | null;
  readonly checkpoint: number;
  readonly lagEvents: number | null;
}
interface Generation {
  readonly generation: number;
  readonly version: number;
  readonly state: string;
  readonly lagEvents: number;
  readonly lagSeconds: number;
  readonly units: readonly Unit[];
}
interface Projection {
  readonly name: string;
  readonly generations: readonly Generation[];
}
interface Parked {
  readonly id: number;
  readonly projection: string;
  readonly generation: number;
  readonly partition: number;
  readonly streamSeq: number;
  readonly reason: string;
  readonly attempts: number;
  readonly state: string;
  readonly parkedAt: string;
  readonly event: Record<string, unknown>;
}

/** `dbplane projections list|rebuild|parked|retry`: the projection-coordinator's read models. */
export function registerProjectionsCommand(program: Command): void {
  const projections = program
    .command("projections")
    .description("projections (read models): units, owners, lag; rebuild; parked events and retry");
  const coordinator = async (command: Command) =>
    apiClient(await targetOf(command), "projection-coordinator");

  projections
    .command("list")
    .description("each projection's generations: state, lag, units and their owners")
    .action(async (_o, command: Command) => {
      const list = (
        await (await coordinator(command)).request<{ items: Projection[] }>("GET", "/v1/projections")
      ).body;
      printResult(globalOptions(command).output, list, () => ({
        columns: ["PROJECTION", "GENERATION", "VERSION", "STATE", "UNITS", "OWNERS", "LAG EVENTS", "LAG S"],
        rows: list.items.flatMap((p) =>
          p.generations.map((g) => [
            p.name,
            g.generation,
            g.version,
            g.state,
            g.units.length,
            new Set(g.units.map((u) => u.owner).filter(Boolean)).size,
            g.lagEvents,
            g.lagSeconds,
          ]),
        ),
      }));
    });

  projections
    .command("rebuild")
    .description("rebuild a projection into a new generation; the active one serves until it caught up")
    .argument("<name>", "projection name")
    .action(async (name: string, _o, command: Command) => {
      const accepted = (
        await (
          await coordinator(command)
        ).request<{ projection: string; generation: number }>(
          "POST",
          `/v1/projections/${encodeURIComponent(name)}/rebuild`,
        )
      ).body;
      printResult(
        globalOptions(command).output,
        accepted,
        () => `${name}: generation ${accepted.generation} building`,
      );
    });

  projections
    .command("parked")
    .description("events a projection could not apply, oldest first")
    .option("--projection <name>", "only this projection's")
    .option("--state <state>", "parked (default: both) or resolved")
    .option("--limit <n>", "at most this many", wholeNumber, 100)
    .action(async (o, command: Command) => {
      const query = new URLSearchParams({ limit: String(o.limit) });
      if (o.projection) query.set("projection", o.projection);
      if (o.state) query.set("state", o.state);
      const page = (
        await (await coordinator(command)).request<{ items: Parked[] }>("GET", `/v1/parked?${query}`)
      ).body;
      printResult(globalOptions(command).output, page, () => parkedView(page.items));
    });

  projections
    .command("retry")
    .description("re-apply a parked event through its projection's handler (after a fix)")
    .argument("<id>", "the parked event's id", wholeNumber)
    .action(async (id: number, _o, command: Command) => {
      const parked = (await (await coordinator(command)).request<Parked>("POST", `/v1/parked/${id}/retry`))
        .body;
      printResult(globalOptions(command).output, parked, () => parkedView([parked]));
    });
}

function parkedView(items: readonly Parked[]) {
  return {
    columns: ["ID", "PROJECTION", "STATE", "TYPE", "SUBJECT", "SEQ", "ATTEMPTS", "PARKED", "REASON"],
    rows: items.map((p) => [
      p.id,
      p.projection,
      p.state,
      p.event.type,
      p.event.subject,
      p.streamSeq,
      p.attempts,
      p.parkedAt,
      p.reason,
    ]),
  };
}
