import type { SeriesValue } from "./metric-catalog.ts";
import type { Observation, ReplicationView } from "./observation.ts";

/** `INFO` output as section-less key → value (`# Section` lines and blanks dropped). */
export function parseRedisInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.indexOf(":");
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  return fields;
}

/** `a=1,b=2` (keyspace and replica lines) as a map. */
export function parseInfoPairs(value: string): Map<string, string> {
  return new Map(
    value.split(",").map((pair) => {
      const at = pair.indexOf("=");
      return [pair.slice(0, at), pair.slice(at + 1)] as [string, string];
    }),
  );
}

const int = (fields: Map<string, string>, key: string) => {
  const value = fields.get(key);
  return value === undefined ? undefined : Number(value);
};

function replication(fields: Map<string, string>): ReplicationView {
  if (fields.get("role") === "slave") {
    const problems =
      fields.get("master_link_status") === "up" ? [] : ["replica's link to its primary is down"];
    const master = int(fields, "master_repl_offset");
    const read = int(fields, "slave_read_repl_offset") ?? int(fields, "slave_repl_offset");
    const lagBytes = master !== undefined && read !== undefined ? Math.max(0, master - read) : undefined;
    // master_last_io_seconds_ago is not lag: an idle primary pings only every 10 s.
    return { role: "replica", ...(lagBytes !== undefined && { lagBytes }), problems };
  }
  const master = int(fields, "master_repl_offset") ?? 0;
  const replicas = int(fields, "connected_slaves") ?? 0;
  if (replicas === 0) return { role: "standalone", problems: [] };
  let lagBytes = 0;
  let lagSeconds = 0;
  for (let i = 0; i < replicas; i++) {
    const line = fields.get(`slave${i}`);
    if (!line) continue;
    const replica = parseInfoPairs(line);
    lagBytes = Math.max(lagBytes, master - Number(replica.get("offset") ?? master));
    lagSeconds = Math.max(lagSeconds, Number(replica.get("lag") ?? 0));
  }
  return { role: "primary", lagBytes: Math.max(0, lagBytes), lagSeconds, problems: [] };
}

/** The observation of one Redis database index from the server's `INFO`. */
export function redisObservation(info: string, dbIndex: number): Observation {
  const fields = parseRedisInfo(info);
  const clients = int(fields, "connected_clients") ?? 0;
  const maxClients = int(fields, "maxclients");
  const used = int(fields, "used_memory") ?? 0;
  const maxMemory = int(fields, "maxmemory") ?? 0;
  const keyspace = fields.get(`db${dbIndex}`);
  const view = replication(fields);
  const gauges: SeriesValue[] = [
    { metric: "redisClients", value: clients },
    ...(maxClients !== undefined ? [{ metric: "connectionsMax" as const, value: maxClients }] : []),
    { metric: "redisMemory", value: used },
    { metric: "redisMemoryMax", value: maxMemory },
    { metric: "redisOps", value: int(fields, "instantaneous_ops_per_sec") ?? 0 },
    { metric: "redisKeys", value: keyspace ? Number(parseInfoPairs(keyspace).get("keys") ?? 0) : 0 },
    ...(view.lagBytes !== undefined
      ? [{ metric: "replicationLagBytes" as const, value: view.lagBytes }]
      : []),
  ];
  return {
    gauges,
    counters: [
      { metric: "redisCommands", value: int(fields, "total_commands_processed") ?? 0 },
      { metric: "redisKeyspace", labels: { result: "hit" }, value: int(fields, "keyspace_hits") ?? 0 },
      { metric: "redisKeyspace", labels: { result: "miss" }, value: int(fields, "keyspace_misses") ?? 0 },
    ],
    // A restart (new run_id) restarts every counter.
    ...(fields.has("run_id") && { resetMarker: fields.get("run_id") }),
    connections: { used: clients, ...(maxClients !== undefined && { max: maxClients }) },
    replication: view,
    memory: { used, max: maxMemory },
    rateGroups: { operations: ["redisCommands"] },
  };
}
