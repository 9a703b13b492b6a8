import type { SeriesValue } from "./metric-catalog.ts";
import type { Observation, ReplicationView } from "./observation.ts";

/** The parts of `serverStatus` the MongoDB receiver reads. */
export interface MongoServerStatus {
  readonly uptime?: number;
  readonly pid?: unknown;
  readonly connections?: { readonly current?: number; readonly available?: number; readonly active?: number };
  readonly opcounters?: Readonly<Record<string, number | { toNumber(): number }>>;
}

/** One member of `replSetGetStatus`. */
export interface MongoReplMember {
  readonly name: string;
  readonly stateStr: string;
  readonly self?: boolean;
  readonly health?: number;
  readonly optimeDate?: Date;
}

/** `replSetGetStatus`, or undefined when replication is not enabled (error 76). */
export interface MongoReplStatus {
  readonly members: readonly MongoReplMember[];
}

const OPERATIONS = ["insert", "query", "update", "delete", "getmore", "command"] as const;

const asNumber = (v: number | { toNumber(): number } | undefined) =>
  v === undefined ? 0 : typeof v === "number" ? v : v.toNumber();

/** Replication lag from the member's own view: a secondary lags the primary by their optime gap. */
export function mongoReplication(status: MongoReplStatus | undefined): ReplicationView {
  if (!status) return { role: "standalone", problems: [] };
  const self = status.members.find((m) => m.self);
  const primary = status.members.find((m) => m.stateStr === "PRIMARY");
  if (!self) return { role: "standalone", problems: ["replica set status has no member marked self"] };
  if (self.stateStr === "PRIMARY") {
    const secondaries = status.members.filter((m) => m.stateStr === "SECONDARY" && m.optimeDate);
    const lag = secondaries.reduce(
      (worst, m) => Math.max(worst, (self.optimeDate!.getTime() - m.optimeDate!.getTime()) / 1000),
      0,
    );
    const unhealthy = status.members.filter((m) => m.health === 0).map((m) => m.name);
    return {
      role: "primary",
      lagSeconds: Math.max(0, lag),
      problems: unhealthy.length ? [`replica set members unreachable: ${unhealthy.join(", ")}`] : [],
    };
  }
  if (!primary?.optimeDate || !self.optimeDate) {
    return { role: "replica", problems: [`member is ${self.stateStr} and no primary is visible`] };
  }
  return {
    role: "replica",
    lagSeconds: Math.max(0, (primary.optimeDate.getTime() - self.optimeDate.getTime()) / 1000),
    problems: self.stateStr === "SECONDARY" ? [] : [`member is ${self.stateStr}`],
  };
}

/** The observation of one MongoDB server from `serverStatus` and `replSetGetStatus`. */
export function mongoObservation(server: MongoServerStatus, repl: MongoReplStatus | undefined): Observation {
  const current = server.connections?.current ?? 0;
  const available = server.connections?.available ?? 0;
  const view = mongoReplication(repl);
  const gauges: SeriesValue[] = [
    { metric: "mongoConnections", labels: { state: "current" }, value: current },
    { metric: "mongoConnections", labels: { state: "available" }, value: available },
    ...(server.connections?.active !== undefined
      ? [
          {
            metric: "mongoConnections" as const,
            labels: { state: "active" },
            value: server.connections.active,
          },
        ]
      : []),
    { metric: "connectionsMax", value: current + available },
    ...(view.lagSeconds !== undefined
      ? [{ metric: "replicationLagSeconds" as const, value: view.lagSeconds }]
      : []),
  ];
  return {
    gauges,
    counters: OPERATIONS.map((operation) => ({
      metric: "mongoOperations" as const,
      labels: { operation },
      value: asNumber(server.opcounters?.[operation]),
    })),
    connections: { used: current, max: current + available },
    replication: view,
    rateGroups: {
      operations: OPERATIONS.map((op) => `mongoOperations{operation=${op}}`),
      tuples: ["insert", "update", "delete", "query"].map((op) => `mongoOperations{operation=${op}}`),
    },
  };
}
