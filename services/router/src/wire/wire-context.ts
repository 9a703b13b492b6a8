import type { ShardedTableSpec } from "@dbplane/sqlroute";
import { StatementPlanner } from "@dbplane/sqlroute";
import type { WriteFence } from "../fence/write-fence.ts";
import type { LiveMap } from "../shards/live-map.ts";
import type { WirePools } from "./wire-pools.ts";

/**
 * Which path the wire endpoint's traffic took, counted in plain numbers (one field increment on
 * the hot path; router-metrics.ts hands them to the registry at scrape time).
 */
export interface WirePathCounts {
  /** Client chunks that were one prepared batch (Bind…Sync) sent on whole, statement renamed. */
  preparedBatch: number;
  /** Client chunks that were one Query routed by the shape of the session's last one. */
  simpleShape: number;
  /** Client chunks that were one Query planned and sent on whole. */
  simpleQuery: number;
  /** Client chunks framed and handled message by message. */
  message: number;
  /** Server replies (ending with ReadyForQuery) written to the client as the very chunk read. */
  replyWhole: number;
  /** Server replies read as one chunk but written in pieces (something came between, or the status differed). */
  replySplit: number;
  /** Server replies that arrived framed, message by message. */
  replyMessage: number;
}

export function wirePathCounts(): WirePathCounts {
  return {
    preparedBatch: 0,
    simpleShape: 0,
    simpleQuery: 0,
    message: 0,
    replyWhole: 0,
    replySplit: 0,
    replyMessage: 0,
  };
}

/** What the wire endpoint counts (router-metrics.ts turns it into series). */
export interface WireMetrics {
  /** Incremented in place by the sessions. */
  readonly paths: WirePathCounts;
  clientOpened(database: string): void;
  clientClosed(database: string): void;
  /** A statement planned, by its route kind (keyed, scatter, broadcast, any, …). */
  routed(database: string, kind: string): void;
}

/** Everything a client session needs from the router. */
export interface WireContext {
  readonly maps: { get(database: string): LiveMap | undefined };
  /** Admits writes (holds those to a fenced shard) and tracks them while they run. */
  readonly fence: Pick<WriteFence, "admitNow" | "admit" | "holdsRead">;
  readonly pools: WirePools;
  readonly planners: Planners;
  readonly metrics: WireMetrics;
  /** A replica lagging more than this serves no reads. */
  readonly maxReplicaLagMs: number;
  /** The session ended (it leaves the CancelRequest registry). */
  readonly onClosed: () => void;
  /** A failure that is not the client's, for the log. */
  readonly onError: (error: unknown) => void;
}

/** The sharded tables a map declares (empty until the database says which). */
export function shardedTablesOf(map: LiveMap): readonly ShardedTableSpec[] {
  return map.shardedTables;
}

/**
 * One planner per distinct set of sharded tables: map versions that only move ranges or
 * endpoints share it, and with it the cache of statement plans.
 */
export class Planners {
  readonly #planners = new Map<string, StatementPlanner>();
  /** Each map version's planner, found once (the key's JSON would be rebuilt every statement). */
  readonly #byMap = new WeakMap<LiveMap, StatementPlanner>();

  of(map: LiveMap): StatementPlanner {
    const known = this.#byMap.get(map);
    if (known) return known;
    const tables = shardedTablesOf(map);
    const key = JSON.stringify(tables);
    let planner = this.#planners.get(key);
    if (!planner) {
      planner = new StatementPlanner(tables);
      this.#planners.set(key, planner);
    }
    this.#byMap.set(map, planner);
    return planner;
  }

  /** Statements routed by a session's memory of their shape: plan cache hits the planners never saw. */
  #shapeHits = 0;

  /** Counts a plan cache hit made outside the planners (a simple query of a known shape). */
  countHit(): void {
    this.#shapeHits++;
  }

  /** Plan cache hits and misses over every planner. */
  cacheCounts(): { hits: number; misses: number } {
    let hits = this.#shapeHits;
    let misses = 0;
    for (const planner of this.#planners.values()) {
      hits += planner.cacheHits;
      misses += planner.cacheMisses;
    }
    return { hits, misses };
  }
}
