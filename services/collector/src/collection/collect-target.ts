import type { Logger } from "@dbplane/service-kit";
import type { CollectorMetrics } from "../collector-metrics.ts";
import { type CounterDeltas, type CounterReading, counterDeltas, sumRates } from "../domain/counter-rates.ts";
import { CollectionTimeoutError, failureReason } from "../domain/failure-reason.ts";
import { downHealth, type Health, type HealthLimits, healthOf } from "../domain/health.ts";
import { seriesKey } from "../domain/metric-catalog.ts";
import { shardServerPrefix } from "../domain/target-sources.ts";
import { displayEndpoint, type TargetSpec } from "../domain/target-spec.ts";
import type { ConnectionCache } from "../receivers/connection-cache.ts";
import type { CollectedSample } from "../receivers/receiver.ts";
import type { TargetRegistry } from "../targets/target-registry.ts";
import type { CollectionEvents } from "./collection-events.ts";
import type { SampleRecord, SampleStore } from "./sample-store.ts";
import type { TargetMetrics } from "./target-metrics.ts";

export interface CollectDeps {
  readonly memberId: string;
  readonly connections: ConnectionCache;
  readonly samples: SampleStore;
  readonly registry: TargetRegistry;
  readonly targetMetrics: TargetMetrics;
  readonly events: CollectionEvents;
  readonly metrics: CollectorMetrics;
  readonly limits: HealthLimits;
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/** What the loop keeps per owned target between collections. */
export interface TargetState {
  spec: TargetSpec;
  previous?: CounterReading;
  lastState?: Health["state"];
}

async function sampleWithin(deps: CollectDeps, spec: TargetSpec) {
  let password: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CollectionTimeoutError(`no answer within ${deps.timeoutMs} ms`)),
      deps.timeoutMs,
    );
  });
  try {
    const sample = await Promise.race([
      deps.connections.use(spec, (conn, pw) => {
        password = pw;
        return conn.collect();
      }),
      timeout,
    ]);
    return { sample };
  } catch (err) {
    // A timed-out or broken connection may be stuck mid-protocol: start afresh next time.
    deps.connections.drop(spec.id);
    return { reason: failureReason(err, displayEndpoint(spec.url), password ? [password] : []) };
  } finally {
    clearTimeout(timer);
  }
}

/** PostgreSQL's latency proxies from a sample and its counter increases. */
function latencyProxies(sample: CollectedSample, increases: Readonly<Record<string, number>> | undefined) {
  const gauge = (metric: string) => sample.gauges.find((g) => g.metric === metric)?.value;
  const hit = increases?.["pgBlocks{source=heap_hit}"];
  const read = increases?.["pgBlocks{source=heap_read}"];
  const longest = gauge("pgLongestQuery");
  const locks = gauge("pgLocksWaiting");
  return {
    ...(hit !== undefined && read !== undefined && hit + read > 0 && { cacheHitRatio: hit / (hit + read) }),
    ...(longest !== undefined && { longestQuerySeconds: longest }),
    ...(locks !== undefined && { locksWaiting: locks }),
  };
}

function sampleRecord(
  deps: CollectDeps,
  epoch: number,
  at: Date,
  ms: number,
  health: Health,
  sample?: CollectedSample,
  deltas?: CounterDeltas,
): SampleRecord {
  const rates = deltas?.rates;
  const rate = (names?: readonly string[]) => (rates && names ? sumRates(rates, names) : undefined);
  const tps = rate(sample?.rateGroups.transactions);
  const tuples = rate(sample?.rateGroups.tuples);
  const ops = rate(sample?.rateGroups.operations);
  return {
    member: deps.memberId,
    epoch,
    at: at.toISOString(),
    durationMs: Math.round(ms * 10) / 10,
    state: health.state,
    ...(sample && {
      role: sample.replication.role,
      connections: sample.connections.database ?? sample.connections.used,
      serverConnections: sample.connections.used,
      ...(sample.connections.max !== undefined && { maxConnections: sample.connections.max }),
      ...(sample.sizeBytes !== undefined && { sizeBytes: sample.sizeBytes }),
      ...(sample.replication.lagSeconds !== undefined && {
        replicationLagSeconds: sample.replication.lagSeconds,
      }),
      ...(sample.replication.lagBytes !== undefined && { replicationLagBytes: sample.replication.lagBytes }),
      ...latencyProxies(sample, deltas?.increases),
    }),
    ...(tps !== undefined && { transactionsPerSecond: tps }),
    ...(tuples !== undefined && { tuplesPerSecond: tuples }),
    ...(ops !== undefined && { operationsPerSecond: ops }),
  };
}

/**
 * Collects one target once, under the given epoch: sample (bounded by the timeout), rates against
 * the previous sample, metrics, the shared sample record, the health transition and its event.
 */
export async function collectTarget(deps: CollectDeps, state: TargetState, epoch: number): Promise<void> {
  const { spec } = state;
  const started = performance.now();
  const at = new Date();
  const { sample, reason } = await sampleWithin(deps, spec);
  const seconds = (performance.now() - started) / 1000;
  const health = sample ? healthOf(sample, deps.limits) : downHealth(reason ?? "unknown failure");
  deps.metrics.collectionDuration.observe(
    { db_system: spec.engine, outcome: sample ? "ok" : "failed" },
    seconds,
  );
  let deltas: ReturnType<typeof counterDeltas>;
  if (sample) {
    const values = Object.fromEntries(sample.counters.map((c) => [seriesKey(c.metric, c.labels), c.value]));
    const reading: CounterReading = {
      atMs: at.getTime(),
      values,
      ...(sample.resetMarker !== undefined && { resetMarker: sample.resetMarker }),
    };
    deltas = counterDeltas(state.previous, reading);
    state.previous = reading;
    deps.targetMetrics.record(
      spec.id,
      spec.engine,
      [...sample.gauges, ...(sample.extraGauges ?? [])],
      sample.counters,
      deltas?.increases,
    );
  }
  deps.targetMetrics.recordStatus(
    spec.id,
    spec.engine,
    health,
    seconds,
    sample ? deps.targetMetrics.gaugesOf(spec.id) : [],
  );
  state.lastState = health.state;
  const record = sampleRecord(deps, epoch, at, seconds * 1000, health, sample, deltas);
  deps.logger.debug(
    { target: spec.id, member: deps.memberId, epoch, state: health.state },
    "target collected",
  );
  await deps.samples.recordSample(spec.id, record);
  const change = await deps.samples.recordHealth(spec.id, { ...health, since: record.at, epoch });
  if (change) {
    deps.logger.info(
      { target: spec.id, state: health.state, previous: change.previous?.state, reason: health.reason },
      "target health changed",
    );
    const published = await deps.events.healthChanged(spec, health, change.previous, at);
    if (!published) await deps.samples.undoHealth(spec.id, change.previous);
  }
  if (spec.shard?.role === "primary" && deltas) await shardLoad(deps, spec, record, deltas.seconds);
}

async function shardLoad(
  deps: CollectDeps,
  spec: TargetSpec,
  record: SampleRecord,
  seconds: number,
): Promise<void> {
  const { database, shard } = spec.shard!;
  // Replicas' latest samples, wherever they are collected; stale ones (older than two windows) are left out.
  const fresh = Date.parse(record.at) - 2 * seconds * 1000;
  const ids = await deps.registry.idsWithPrefix(shardServerPrefix(database, shard));
  const replicas = (await deps.samples.samples(ids.filter((id) => id !== spec.id))).filter(
    (s): s is SampleRecord => s !== undefined && s.state !== "down" && Date.parse(s.at) >= fresh,
  );
  await deps.events.shardLoad(spec, record, replicas, seconds);
}
