import type { Bus } from "@dbplane/bus";
import {
  addShard,
  type ReshardPhase,
  removeShard,
  reshardCancelled,
  reshardCompleted,
  reshardFailed,
  reshardPhaseChanged,
} from "@dbplane/contracts";
import type { PasswordResolver } from "@dbplane/kube";
import { objectName, RESHARD_SCHEMA } from "@dbplane/reshard";
import { connectClient, type Logger, shardTls } from "@dbplane/service-kit";
import { planSplit, rangesFromText, rangesToText, reassignRange } from "@dbplane/sharding";
import pg from "pg";
import type { ShardEndpointSpec, ShardMapDocument } from "../domain/shard-map.ts";
import type { LiveMap, LiveShard } from "../shards/live-map.ts";
import type { MigrationRunner } from "../shards/migration-runner.ts";
import { SHARD_MIGRATIONS_TABLE } from "../shards/migration-runner.ts";
import type { ShardMapPublisher } from "../shards/shard-map-publisher.ts";
import type { ShardMapRegistry } from "../shards/shard-map-registry.ts";
import type { RouterStore } from "../store/router-store.ts";
import { emptyMove } from "./empty-move.ts";
import type { Hold } from "./hold-points.ts";
import type { Fences, MovedTable, MovePort, RangeMover, ShardConnection } from "./ports.ts";
import type { Reshard, ReshardPatch, ReshardStore } from "./reshard-store.ts";

/** Timings of the machine; tests shorten them. */
export interface ReshardTimings {
  /** Between looks at progress while copying and catching up. */
  readonly pollMs: number;
  /** How long every router replica has to acknowledge a fence. */
  readonly fenceAckTimeoutMs: number;
  /** How long the target may take, under the fence, to apply what the source committed. */
  readonly catchUpTimeoutMs: number;
  /** The cut-over starts once the target is this close behind the source (bytes of WAL). */
  readonly maxLagBytes: number;
  /** Failed attempts of a phase before the reshard fails (and is rolled back where it can be). */
  readonly maxAttempts: number;
  /**
   * How long a split waits for the shard it asked the provisioner for. The provisioner dead-letters
   * an add-shard it refuses (a quota, a bad spec) and announces nothing, so without a bound the
   * reshard would wait until cancelled.
   */
  readonly addShardTimeoutMs: number;
}

export const RESHARD_TIMINGS: ReshardTimings = {
  pollMs: 250,
  fenceAckTimeoutMs: 5_000,
  catchUpTimeoutMs: 5_000,
  maxLagBytes: 1 << 20,
  maxAttempts: 10,
  addShardTimeoutMs: 600_000,
};

export interface ReshardMachineDeps {
  readonly owner: string;
  readonly store: ReshardStore;
  readonly routerStore: RouterStore;
  readonly maps: ShardMapRegistry;
  readonly publisher: ShardMapPublisher;
  readonly migrations: MigrationRunner;
  readonly fences: Fences;
  readonly bus: Bus;
  readonly passwords: PasswordResolver;
  /** DBPLANE_SHARD_TLS_CA: the router's own connections to the shards verify-full when set. */
  readonly shardCa?: string | undefined;
  readonly moves: MovePort;
  readonly timings: ReshardTimings;
  readonly logger: Logger;
  /** Tests hold the runner at a point to kill it there (DBPLANE_ROUTER_RESHARD_HOLD_FILE). */
  readonly hold?: Hold;
  /** Told how each reshard this replica ran ended (metrics). */
  readonly onEnded?: (state: "completed" | "failed" | "cancelled") => void;
}

/** `{ ssl }` for verify-full when a shard CA is configured, else nothing (plain connections). */
async function shardTlsOption(caPath: string | undefined): Promise<Pick<ShardConnection, "ssl">> {
  const tls = await shardTls(caPath);
  return tls ? { ssl: tls } : {};
}

/** `"schema"."name"` or `"name"`. */
function quotedTable(table: string): string {
  return table
    .split(".")
    .map((part) => pg.escapeIdentifier(part))
    .join(".");
}

/** The reshard was cancelled while it ran. */
class Cancelled extends Error {}

/** A failure no retry will fix: the reshard fails (rolled back before the cut-over). */
class Permanent extends Error {}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });

/**
 * Runs one reshard from its recorded phase to its end. Every phase is idempotent: a runner that
 * dies anywhere leaves the row at a phase another runner (or this one, restarted) can enter
 * again. The source stays authoritative until the cut-over publishes the next map version; from
 * then on the operation only goes forward.
 */
export class ReshardMachine {
  readonly #d: ReshardMachineDeps;
  #r: Reshard;
  readonly #signal: AbortSignal;
  readonly #log: Logger;

  constructor(deps: ReshardMachineDeps, reshard: Reshard, signal: AbortSignal) {
    this.#d = deps;
    this.#r = reshard;
    this.#signal = signal;
    this.#log = deps.logger.child({ component: "reshard", reshard: reshard.id, database: reshard.database });
  }

  get reshard(): Reshard {
    return this.#r;
  }

  /** Runs until the reshard ends or `signal` aborts (the lease was lost, the replica stops). */
  async run(): Promise<void> {
    while (this.#r.state === "running" && !this.#signal.aborted) {
      const phase = this.#r.phase;
      try {
        if (this.#r.cancelRequested && phase !== "cutting-over" && phase !== "cleaning-up") {
          throw new Cancelled();
        }
        await this.#d.hold?.(phase, this.#signal);
        if (this.#signal.aborted) return;
        await this.#step(phase);
      } catch (err) {
        if (this.#signal.aborted) return;
        if (err instanceof Cancelled) {
          await this.#cancel();
          return;
        }
        const permanent = err instanceof Permanent || this.#d.moves.isPermanent(err);
        const attempts = this.#r.attempts + 1;
        const message = err instanceof Error ? err.message : String(err);
        this.#log.warn({ err, phase, attempts }, "reshard step failed");
        if (permanent || attempts >= this.#d.timings.maxAttempts) {
          await this.#fail(message);
          return;
        }
        await this.#patch({ attempts, error: message });
        await sleep(Math.min(30_000, this.#d.timings.pollMs * 2 ** attempts), this.#signal);
      }
    }
  }

  async #step(phase: ReshardPhase): Promise<void> {
    switch (phase) {
      case "provisioning":
        return this.#provision();
      case "copying":
        return this.#copy();
      case "catching-up":
        return this.#catchUp();
      case "verifying":
        return this.#verify();
      case "cutting-over":
        return this.#cutOver();
      case "cleaning-up":
        return this.#cleanUp();
    }
  }

  // ------------------------------------------------------------------ phases

  /** Finds (or has the provisioner add) the target shard, brings its schema up, picks the split point. */
  async #provision(): Promise<void> {
    if (this.#r.kind !== "split") return this.#provisionKnown();
    let target = this.#r.targetShard;
    if (target === null) target = await this.#chooseTarget();
    const map = this.#map();
    const shard = map.shards.get(target);
    if (!shard) throw new Error(`shard ${target} is not in the map yet`);
    await this.#migrate(shard);
    const ranges = rangesFromText(map.document.ranges);
    const owned = ranges.filter((r) => r.shard === this.#r.sourceShard);
    let at = this.#r.splitAt === null ? undefined : BigInt(this.#r.splitAt);
    if (at === undefined && owned.length === 1 && map.shardedTables.length > 0) {
      const [first] = map.shardedTables;
      const range = owned[0]!;
      at = await this.#d.moves.medianSplitPoint(
        await this.#connection(this.#r.sourceShard),
        { table: first!.table, key: { column: first!.keyColumn, type: first!.keyType } },
        range.from,
        range.to,
      );
    }
    let plan: ReturnType<typeof planSplit>;
    try {
      plan = planSplit(ranges, this.#r.sourceShard, target, at);
    } catch (err) {
      throw new Permanent((err as Error).message);
    }
    await this.#patch({
      targetShard: target,
      rangeFrom: plan.moved.from.toString(),
      rangeTo: plan.moved.to.toString(),
    });
    await this.#clearTarget(target, map);
    await this.#advance("copying");
  }

  /** A move or merge: its target and range were fixed at the request; the target's schema is brought up. */
  async #provisionKnown(): Promise<void> {
    const target = this.#r.targetShard!;
    const shard = this.#map().shards.get(target);
    if (!shard) throw new Permanent(`shard ${target} is not in the map`);
    await this.#migrate(shard);
    this.#nextMap(this.#map().document); // the range still lies within one range of the source
    await this.#advance("copying");
  }

  async #migrate(shard: LiveShard): Promise<void> {
    for (const m of await this.#d.routerStore.migrations(this.#r.database)) {
      const outcome = await this.#d.migrations.applyOne(shard, m);
      if (outcome.status === "failed") {
        throw new Error(
          `migration ${m.id} failed on shard ${shard.index}: ${outcome.error?.message ?? "unknown"}`,
        );
      }
    }
  }

  /**
   * A split's target owns no range, so nothing it holds is served — but a shard a merge emptied
   * still has its old copy of the unsharded tables (and a failed clean-up may have left rows):
   * it is emptied before the copy fills it, which happens only in this phase, before any copy.
   */
  async #clearTarget(target: number, map: LiveMap): Promise<void> {
    if (map.shards.get(target)?.ranges.length)
      throw new Permanent(`shard ${target} owns a range: not a split target`);
    const conn = await this.#connection(target);
    const tables = await this.#tables(conn, map);
    const client = await connectClient({ ...conn, connectionTimeoutMillis: 10_000 });
    try {
      const holding: string[] = [];
      for (const t of tables) {
        const name = quotedTable(t.table);
        const { rows } = await client.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${name}) AS any`);
        if (rows[0]?.any) holding.push(name);
      }
      if (holding.length > 0) {
        this.#log.info(
          { shard: target, tables: holding.length },
          "emptying the split's target (it served nothing)",
        );
        await client.query(`TRUNCATE ${holding.join(", ")}`);
      }
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** The shard named in the request, else one that owns no range, else a new one from the provisioner. */
  async #chooseTarget(): Promise<number> {
    const map = this.#map();
    const empty = [...map.shards.values()].filter((s) => s.ranges.length === 0).map((s) => s.index);
    if (this.#r.toShard !== null) {
      if (!empty.includes(this.#r.toShard)) {
        throw new Permanent(
          map.shards.has(this.#r.toShard)
            ? `shard ${this.#r.toShard} owns a range: only a shard that owns none can take the moved half`
            : `shard ${this.#r.toShard} is not a shard of ${map.database}`,
        );
      }
      return this.#r.toShard;
    }
    if (empty.length > 0) return Math.min(...empty);
    // Recorded before the command leaves: whatever happens next, an ending before the cut-over
    // knows which shard to give back (the provisioner numbers new shards after the last one).
    if (this.#r.addedShard === null) await this.#patch({ addedShard: Math.max(...map.shards.keys()) + 1 });
    // The command's id makes a resumed runner's publish a duplicate, not a second shard.
    await this.#d.bus.publish(
      addShard,
      { name: this.#r.database, count: 1 },
      { subject: this.#r.database, id: `${this.#r.id}:add-shard`, correlationId: this.#r.id },
    );
    this.#log.info("asked the provisioner for a new shard");
    for (;;) {
      if (this.#signal.aborted) throw new Error("stopped while waiting for the new shard");
      const current = this.#map();
      const added = [...current.shards.values()].filter((s) => s.ranges.length === 0);
      if (added.length > 0) {
        const index = Math.min(...added.map((s) => s.index));
        if (index !== this.#r.addedShard) await this.#patch({ addedShard: index });
        return index;
      }
      const fresh = (await this.#d.store.get(this.#r.database, this.#r.id)) ?? this.#r;
      if (fresh.cancelRequested) throw new Cancelled();
      // Provisioning is the first phase: the reshard's age is how long the shard has been asked for.
      const waitedMs = Date.now() - this.#r.createdAt.getTime();
      if (waitedMs > this.#d.timings.addShardTimeoutMs) {
        throw new Permanent(
          `the provisioner added no shard within ${Math.round(this.#d.timings.addShardTimeoutMs / 1000)} s of add-shard ` +
            `(refused — a quota, see its dead-letter queue — or unable to); split onto an existing empty shard with toShard, or retry`,
        );
      }
      await sleep(this.#d.timings.pollMs, this.#signal);
    }
  }

  async #copy(): Promise<void> {
    const move = await this.#move();
    await move.start();
    for (;;) {
      const progress = await move.progress();
      await this.#patch({
        rowsCopied: progress.rowsCopied,
        rowsTotal: progress.rowsTotal,
        lagBytes: progress.lagBytes,
      });
      if (progress.tables.every((t) => t.state === "replicating")) break;
      await this.#pause();
    }
    await this.#advance("catching-up");
  }

  async #catchUp(): Promise<void> {
    const move = await this.#move();
    for (;;) {
      const progress = await move.progress();
      await this.#patch({ rowsCopied: progress.rowsCopied, lagBytes: progress.lagBytes });
      if (progress.lagBytes <= this.#d.timings.maxLagBytes) break;
      await this.#pause();
    }
    await this.#advance("verifying");
  }

  /**
   * VDiff's idea with a short pause: under a fence, once the target has applied everything the
   * source committed, both sides are snapshotted; the fence lifts and the checksums are computed
   * in those snapshots while writes flow again. Different → the reshard fails, the map unchanged.
   */
  async #verify(): Promise<void> {
    const move = await this.#move();
    const { pauseMs, value: snapshots } = await this.#fenced(async () => {
      await move.waitApplied(await move.sourceLsn(), this.#d.timings.catchUpTimeoutMs);
      return move.openSnapshots();
    });
    let result: Awaited<ReturnType<typeof snapshots.verify>>;
    try {
      result = await snapshots.verify();
    } finally {
      await snapshots.close().catch(() => {});
    }
    await this.#patch({
      verification: result.tables,
      writePauseMs: Math.max(pauseMs, this.#r.writePauseMs ?? 0),
    });
    if (!result.equal) {
      const differing = result.tables.filter((t) => !t.equal).map((t) => t.table);
      throw new Permanent(
        `verification found differences in ${differing.join(", ")}; the shard map is unchanged`,
      );
    }
    await this.#advance("cutting-over");
  }

  /**
   * Fence on the source shard across every router replica, wait until the target has applied
   * everything, publish the next map version, lift the fence with that version: held writes
   * go to the new owner. A crash after the publish is seen on resume by the map's version.
   */
  async #cutOver(): Promise<void> {
    const stored = await this.#storedCutOver();
    if (stored !== undefined) {
      // A runner died between the publish and the lift: finish both (the bucket may lag the store).
      await this.#d.publisher.reconcile();
      await this.#d.maps.apply(stored);
      for (const id of this.#fenceIds()) {
        await this.#d.fences.lift({ database: this.#r.database, id, mapVersion: stored.version });
      }
      await this.#advance("cleaning-up");
      return;
    }
    const move = await this.#move();
    // A cut-over retried (or resumed after a crash, its fence still standing) starts from the
    // state before it: the subscription applying, the target's copied rows hidden, the source's shown.
    await move.resumeApplying();
    await move.hideOnTarget();
    await move.revealOnSource();
    let published: number | undefined;
    const { pauseMs } = await this.#fenced(
      async () => {
        await move.waitApplied(await move.sourceLsn(), this.#d.timings.catchUpTimeoutMs);
        await move.syncSequences();
        // From the switch on, writes to unsharded tables reach the target directly: nothing
        // more may stream from the source (a failure before the publish resumes it).
        await move.stopApplying();
        // What each shard shows flips with the map, while reads are held: the target shows the
        // moved rows (a serving target hid them), the source hides them until they are deleted.
        await move.revealOnTarget();
        await move.hideOnSource();
        const next = this.#nextMap(this.#map().document);
        // Recorded first: a runner resuming after the publish recognises it by this version.
        await this.#patch({ mapVersion: next.version });
        await this.#d.hold?.("cutting-over:publishing", this.#signal);
        await this.#d.publisher.publish(next, this.#r.id);
        published = next.version;
        await this.#d.hold?.("cutting-over:published", this.#signal);
        await this.#d.maps.apply(next);
      },
      () => published,
      {
        reads: true,
        async undo() {
          // Failed before the map switch: the shards show what the old map expects again.
          if (published !== undefined) return;
          await move.revealOnSource();
          await move.hideOnTarget();
        },
      },
    );
    await this.#patch({ writePauseMs: Math.max(pauseMs, this.#r.writePauseMs ?? 0) });
    this.#log.info({ pauseMs, mapVersion: this.#r.mapVersion }, "cut over");
    await this.#advance("cleaning-up");
  }

  async #cleanUp(): Promise<void> {
    const move = await this.#move();
    await move.finish();
    await move.deleteFromSource();
    const done = await this.#patch({ state: "completed", error: null });
    this.#d.onEnded?.("completed");
    await this.#publish(reshardCompleted, {
      ...this.#fields(),
      mapVersion: done.mapVersion ?? 1,
      rowsCopied: done.rowsCopied,
      writePauseMs: done.writePauseMs ?? 0,
    });
    this.#log.info({ rowsCopied: done.rowsCopied, writePauseMs: done.writePauseMs }, "reshard completed");
  }

  // ------------------------------------------------------------------ endings

  async #cancel(): Promise<void> {
    if (this.#r.rangeFrom !== null && this.#r.phase !== "provisioning") await (await this.#move()).cancel();
    await this.#giveBackAddedShard();
    await this.#patch({ state: "cancelled" });
    this.#d.onEnded?.("cancelled");
    await this.#publish(reshardCancelled, { ...this.#fields(), phase: this.#r.phase });
    this.#log.info({ phase: this.#r.phase }, "reshard cancelled");
  }

  /**
   * Ends the reshard as failed after its runner saw it stop with an error too many times: the
   * usual rollback first, and when that itself fails, the failure is still recorded and announced.
   */
  async giveUp(message: string): Promise<void> {
    try {
      await this.#fail(message);
    } catch (err) {
      this.#log.warn({ err }, "rollback of a reshard given up failed; recording the failure anyway");
      await this.#recordFailure(message);
    }
  }

  /** Before the cut-over: undo what was built; after it the map is already the new one and stays. */
  async #fail(message: string): Promise<void> {
    const beforeCutOver =
      this.#r.phase !== "cleaning-up" && (await this.#storedCutOver().catch(() => undefined)) === undefined;
    if (beforeCutOver && this.#r.rangeFrom !== null && this.#r.phase !== "provisioning") {
      // Building the move can fail too (the cause of this failure, say): the failure is recorded anyway.
      await this.#move()
        .then((move) => move.cancel())
        .catch((err: unknown) => this.#log.warn({ err }, "rollback failed"));
      for (const id of this.#fenceIds()) {
        await this.#d.fences.lift({ database: this.#r.database, id }).catch(() => {});
      }
    }
    if (beforeCutOver) {
      await this.#giveBackAddedShard().catch((err: unknown) =>
        this.#log.warn({ err, shard: this.#r.addedShard }, "the added shard was not given back"),
      );
    }
    await this.#recordFailure(message);
  }

  /** The reshard is failed: recorded (which releases it), counted, announced and logged. */
  async #recordFailure(message: string): Promise<void> {
    await this.#patch({ state: "failed", error: message });
    this.#d.onEnded?.("failed");
    await this.#publish(reshardFailed, {
      ...this.#fields(),
      phase: this.#r.phase,
      error: message.slice(0, 2000),
    });
    this.#log.error({ phase: this.#r.phase, error: message }, "reshard failed");
  }

  /**
   * Before the cut-over nothing was moved onto the shard this reshard had the provisioner add
   * (its subscription, slot and publication are gone by now): it is removed again, so a cancel
   * leaves the database as it was. Only that shard, and only while the map gives it no range; the
   * provisioner refuses anything else, and `shard.removed` takes it out of the map.
   */
  async #giveBackAddedShard(): Promise<void> {
    const shard = this.#r.addedShard;
    if (shard === null) return;
    const map = this.#d.maps.get(this.#r.database);
    // A database no longer routed was deleted: its shards went with it.
    if (!map) return;
    const owned = map.shards.get(shard)?.ranges.length ?? 0;
    if (owned > 0) {
      this.#log.warn({ shard }, "the added shard owns a range: kept");
      return;
    }
    await this.#d.bus.publish(
      removeShard,
      { name: this.#r.database, shard },
      { subject: this.#r.database, id: `${this.#r.id}:remove-shard`, correlationId: this.#r.id },
    );
    this.#log.info({ shard }, "asked the provisioner to remove the shard added for this reshard");
  }

  // ------------------------------------------------------------------ helpers

  #map(): LiveMap {
    const map = this.#d.maps.get(this.#r.database);
    if (!map) throw new Permanent(`database ${this.#r.database} is not routed any more`);
    return map;
  }

  /**
   * The stored map (the source of truth, ahead of the bucket after a crash between the two
   * writes) when it already gives the moved range to the target; undefined before the cut-over.
   */
  async #storedCutOver(): Promise<ShardMapDocument | undefined> {
    if (this.#r.rangeFrom === null || this.#r.targetShard === null) return undefined;
    const doc = await this.#d.routerStore.latestMap(this.#r.database);
    if (!doc) return undefined;
    const from = BigInt(this.#r.rangeFrom);
    const owner = rangesFromText(doc.ranges).find((r) => from >= r.from && from < r.to);
    return owner?.shard === this.#r.targetShard ? doc : undefined;
  }

  /** The map with the moved range given to the target; Permanent when the source no longer holds it whole. */
  #nextMap(current: ShardMapDocument): ShardMapDocument {
    const from = BigInt(this.#r.rangeFrom!);
    const to = BigInt(this.#r.rangeTo!);
    const ranges = rangesFromText(current.ranges);
    const holder = ranges.find((r) => from >= r.from && from < r.to);
    if (!holder || holder.shard !== this.#r.sourceShard || to > holder.to) {
      throw new Permanent(
        `shard ${this.#r.sourceShard} no longer owns all of [${from}, ${to}): the map changed`,
      );
    }
    return {
      ...current,
      version: current.version + 1,
      ranges: rangesToText(reassignRange(ranges, from, to, this.#r.targetShard!)),
      createdAt: new Date().toISOString(),
    };
  }

  /** The fences a cut-over raises: the source's, and a serving target's (scatter reads reach it). */
  #fenceIds(): string[] {
    return this.#r.targetServes ? [this.#r.id, `${this.#r.id}_t`] : [this.#r.id];
  }

  /**
   * Runs `work` with the source shard fenced on every router replica (writes; with `reads`, reads
   * too, on the source and a serving target). The fences are lifted whatever happens, with the
   * map version `liftVersion` names at that moment: once the next map is published, held
   * statements must wait for it even if a later step failed. `undo` runs before a lift after failure.
   */
  async #fenced<T>(
    work: () => Promise<T>,
    liftVersion: () => number | undefined = () => undefined,
    options: { reads?: boolean; undo?: () => Promise<void> } = {},
  ): Promise<{ value: T; pauseMs: number }> {
    const database = this.#r.database;
    const fences = options.reads
      ? this.#fenceIds().map((id, i) => ({ id, shard: i === 0 ? this.#r.sourceShard : this.#r.targetShard! }))
      : [{ id: this.#r.id, shard: this.#r.sourceShard }];
    const started = performance.now();
    const lift = async () => {
      const mapVersion = liftVersion();
      for (const { id } of fences) {
        await this.#d.fences.lift({ database, id, ...(mapVersion === undefined ? {} : { mapVersion }) });
      }
    };
    let value: T;
    try {
      for (const { id, shard } of fences) {
        await this.#d.fences.raise({
          database,
          shard,
          id,
          timeoutMs: this.#d.timings.fenceAckTimeoutMs,
          ...(options.reads ? { reads: true } : {}),
        });
      }
      value = await work();
    } catch (err) {
      await options.undo?.();
      await lift();
      throw err;
    }
    await lift();
    return { value, pauseMs: Math.round(performance.now() - started) };
  }

  async #move(): Promise<RangeMover> {
    const map = this.#map();
    const source = map.shards.get(this.#r.sourceShard);
    if (!source) throw new Permanent(`shard ${this.#r.sourceShard} is not in the map`);
    const sourceConn = await this.#connection(this.#r.sourceShard);
    // A split's target owns nothing; a move's or merge's serves other ranges and has its own
    // unsharded tables: only sharded rows move, hidden there until the cut-over.
    const { targetServes } = this.#r;
    const movedOf = (all: MovedTable[]) => (targetServes ? all.filter((t) => t.key) : all);
    const tables = movedOf(await this.#tables(sourceConn, map));
    if (tables.length === 0 || !(await this.#copyRan(sourceConn))) {
      return emptyMove(
        async () => movedOf(await this.#tables(sourceConn, this.#map())).length === 0,
        () =>
          new Permanent(
            `shard ${this.#r.sourceShard} holds a table it did not hold when the copy began: nothing of it was copied; the shard map is unchanged, split again`,
          ),
      );
    }
    return this.#d.moves.newMove({
      id: this.#moveId(),
      source: sourceConn,
      target: await this.#connection(this.#r.targetShard!),
      sourceFromTarget: { host: source.spec.primary.host, port: source.spec.primary.port },
      tables,
      from: BigInt(this.#r.rangeFrom!),
      to: BigInt(this.#r.rangeTo!),
      targetServes,
    });
  }

  /**
   * Whether this reshard's copy ran with tables to move — false when the source held none as
   * it began (an empty move). Before the copy it will; between the copy and the cut-over the
   * move's publication on the source says; after the verification, its list of tables does.
   */
  async #copyRan(source: ShardConnection): Promise<boolean> {
    const { phase, verification } = this.#r;
    if (phase === "provisioning" || phase === "copying") return true;
    if (phase === "cleaning-up") return verification === null || verification.length > 0;
    const client = await connectClient({ ...source, connectionTimeoutMillis: 10_000 });
    try {
      const { rowCount } = await client.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [
        objectName({ id: this.#moveId() }),
      ]);
      return (rowCount ?? 0) > 0;
    } finally {
      await client.end().catch(() => {});
    }
  }

  #moveId(): string {
    return this.#r.id.replaceAll(/[^a-z0-9_]/g, "_").slice(0, 40);
  }

  /**
   * The shard's reshard login: its reshard role (replication and the tables' ownership, no
   * superuser), or the shard's own user where an older provisioner announced none.
   */
  async #connection(shard: number): Promise<ShardConnection> {
    const spec: ShardEndpointSpec | undefined = this.#map().document.shards.find((s) => s.shard === shard);
    if (!spec) throw new Permanent(`shard ${shard} is not in the map`);
    const login = spec.reshard ?? { user: spec.user, passwordRef: spec.passwordRef };
    return {
      host: spec.primary.host,
      port: spec.primary.port,
      database: spec.dbname,
      user: login.user,
      password: await this.#d.passwords.resolve(login.passwordRef),
      ...(await shardTlsOption(this.#d.shardCa)),
    };
  }

  /** Sharded tables by the map (those that exist); every other ordinary table of the source is copied whole. */
  async #tables(source: ShardConnection, map: LiveMap): Promise<MovedTable[]> {
    const sharded: MovedTable[] = map.shardedTables.map((t) => ({
      table: t.table,
      key: { column: t.keyColumn, type: t.keyType },
    }));
    const client = await connectClient({ ...source, connectionTimeoutMillis: 10_000 });
    try {
      const { rows } = await client.query<{ name: string }>(
        `SELECT CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END AS name
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
           AND c.relname <> $1 AND n.nspname <> $2
         ORDER BY 1`,
        [SHARD_MIGRATIONS_TABLE, RESHARD_SCHEMA],
      );
      // A sharded table the database declares but no migration has created yet holds nothing.
      const present = new Set(rows.map((r) => r.name));
      const known = new Set(sharded.map((t) => t.table));
      return [
        ...sharded.filter((t) => present.has(t.table)),
        ...rows.filter((r) => !known.has(r.name)).map((r) => ({ table: r.name })),
      ];
    } finally {
      await client.end().catch(() => {});
    }
  }

  #pause(): Promise<void> {
    return sleep(this.#d.timings.pollMs, this.#signal).then(async () => {
      if (this.#signal.aborted) throw new Error("stopped");
      const fresh = await this.#d.store.get(this.#r.database, this.#r.id);
      if (fresh?.cancelRequested && this.#r.phase !== "cutting-over" && this.#r.phase !== "cleaning-up") {
        this.#r = { ...this.#r, cancelRequested: true };
        throw new Cancelled();
      }
    });
  }

  async #patch(patch: ReshardPatch): Promise<Reshard> {
    this.#r = await this.#d.store.update(this.#r.id, this.#d.owner, patch);
    return this.#r;
  }

  async #advance(phase: ReshardPhase): Promise<void> {
    const previousPhase = this.#r.phase;
    await this.#patch({ phase, attempts: 0, error: null });
    await this.#publish(reshardPhaseChanged, { ...this.#fields(), phase, previousPhase });
    this.#log.info({ phase, previousPhase }, "reshard phase changed");
  }

  #fields() {
    const r = this.#r;
    return {
      database: r.database,
      reshardId: r.id,
      kind: r.kind,
      sourceShard: r.sourceShard,
      ...(r.targetShard === null ? {} : { targetShard: r.targetShard }),
      ...(r.rangeFrom === null || r.rangeTo === null ? {} : { moved: { from: r.rangeFrom, to: r.rangeTo } }),
    };
  }

  /** Events carry a deterministic id: a resumed runner's repeat is a duplicate. */
  async #publish<D extends Parameters<Bus["publish"]>[0]>(
    def: D,
    data: Parameters<Bus["publish"]>[1],
  ): Promise<void> {
    const suffix = "phase" in (data as object) ? String((data as { phase: string }).phase) : def.name;
    await this.#d.bus
      .publish(def, data as never, {
        subject: this.#r.database,
        id: `${this.#r.id}:${def.name}:${suffix}`,
        correlationId: this.#r.id,
      })
      .catch((err: unknown) => this.#log.warn({ err, event: def.name }, "reshard event not published"));
  }
}
