import { apiClient } from "./api-client.ts";
import type { Target } from "./target.ts";

/** A part of the summary that could not be read: which service, and why (one line). */
export interface Unavailable {
  readonly unavailable: string;
}

interface FleetShard {
  readonly state: string;
  readonly hotAt: string | null;
}
interface FleetDatabase {
  readonly name: string;
  readonly origin: string;
  readonly state: string | null;
  readonly health: { state: string } | null;
  readonly shards: readonly FleetShard[];
}
interface FleetDocument {
  readonly databases: readonly FleetDatabase[];
  readonly apps: readonly { lost?: boolean }[];
}
interface ProjectionList {
  readonly items: readonly {
    readonly generations: readonly { state: string; lagEvents: number; lagSeconds: number }[];
  }[];
}
interface CollectorGroup {
  readonly leader: string | null;
  readonly targets: number;
  readonly members: readonly { live: boolean }[];
}

/** The fleet at a glance: what `dbplane status` prints under the services. */
export interface FleetSummary {
  readonly databases:
    | {
        readonly total: number;
        readonly byState: Record<string, number>;
        readonly unhealthy: readonly string[];
        readonly shards: number;
        readonly hotShards: number;
        readonly apps: number;
      }
    | Unavailable;
  readonly projections:
    | {
        readonly total: number;
        readonly maxLagEvents: number;
        readonly maxLagSeconds: number;
        readonly parked: number;
      }
    | Unavailable;
  readonly collectors:
    | { readonly leader: string | null; readonly liveMembers: number; readonly targets: number }
    | Unavailable;
}

/** A read that fails becomes `{unavailable: reason}`: status shows what it can. */
async function orUnavailable<T>(read: () => Promise<T>): Promise<T | Unavailable> {
  try {
    return await read();
  } catch (err) {
    return { unavailable: (err as Error).message };
  }
}

/** Counts the fleet read model (projection-coordinator), the projections and the collector group. */
export async function readFleetSummary(target: Target): Promise<FleetSummary> {
  const has = (service: keyof Target["services"]) => Boolean(target.services[service]);
  const noUrl = (service: string): Unavailable => ({ unavailable: `no URL for the ${service}` });
  const coordinator = has("projection-coordinator") ? apiClient(target, "projection-coordinator") : null;
  const collector = has("collector") ? apiClient(target, "collector") : null;
  const [databases, projections, collectors] = await Promise.all([
    coordinator
      ? orUnavailable(async () =>
          summarizeFleet((await coordinator.request<FleetDocument>("GET", "/v1/fleet")).body),
        )
      : noUrl("projection-coordinator"),
    coordinator
      ? orUnavailable(async () => {
          const list = (await coordinator.request<ProjectionList>("GET", "/v1/projections")).body;
          const parked = (
            await coordinator.request<{ items: unknown[] }>("GET", "/v1/parked?state=parked&limit=1000")
          ).body;
          return summarizeProjections(list, parked.items.length);
        })
      : noUrl("projection-coordinator"),
    collector
      ? orUnavailable(async () => {
          const group = (await collector.request<CollectorGroup>("GET", "/v1/members")).body;
          return {
            leader: group.leader,
            liveMembers: group.members.filter((m) => m.live).length,
            targets: group.targets,
          };
        })
      : noUrl("collector"),
  ]);
  return { databases, projections, collectors };
}

export function summarizeFleet(fleet: FleetDocument): Exclude<FleetSummary["databases"], Unavailable> {
  const byState: Record<string, number> = {};
  let shards = 0;
  let hotShards = 0;
  const unhealthy: string[] = [];
  for (const db of fleet.databases) {
    const state = db.state ?? "unknown";
    byState[state] = (byState[state] ?? 0) + 1;
    if (db.health && db.health.state !== "up") unhealthy.push(db.name);
    shards += db.shards.length;
    hotShards += db.shards.filter((s) => s.hotAt !== null).length;
  }
  return {
    total: fleet.databases.length,
    byState,
    unhealthy,
    shards,
    hotShards,
    apps: fleet.apps.filter((a) => !a.lost).length,
  };
}

export function summarizeProjections(
  list: ProjectionList,
  parked: number,
): Exclude<FleetSummary["projections"], Unavailable> {
  const active = list.items.flatMap((p) => p.generations.filter((g) => g.state === "active"));
  return {
    total: list.items.length,
    maxLagEvents: Math.max(0, ...active.map((g) => g.lagEvents)),
    maxLagSeconds: Math.max(0, ...active.map((g) => g.lagSeconds)),
    parked,
  };
}

const isUnavailable = (part: object): part is Unavailable => "unavailable" in part;

/** The summary in three lines, for the table view. */
export function describeFleet(summary: FleetSummary): string {
  const { databases: d, projections: p, collectors: c } = summary;
  const states = isUnavailable(d)
    ? ""
    : Object.entries(d.byState)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([state, n]) => `${n} ${state}`)
        .join(", ");
  return [
    isUnavailable(d)
      ? `databases    unavailable: ${d.unavailable}`
      : `databases    ${d.total}${states ? ` (${states})` : ""}; shards ${d.shards}, ${d.hotShards} hot; ` +
        `unhealthy ${d.unhealthy.length === 0 ? "none" : d.unhealthy.join(", ")}; apps ${d.apps}`,
    isUnavailable(p)
      ? `projections  unavailable: ${p.unavailable}`
      : `projections  ${p.total}; lag ≤ ${p.maxLagEvents} events (${p.maxLagSeconds} s); parked events ${p.parked}`,
    isUnavailable(c)
      ? `collectors   unavailable: ${c.unavailable}`
      : `collectors   ${c.liveMembers} live, leader ${c.leader ?? "none"}; ${c.targets} targets`,
  ].join("\n");
}
