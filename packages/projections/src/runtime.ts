import { busNames, commonFilterSubject } from "@dbplane/bus";
import { jetstream } from "@nats-io/jetstream";
import { Registry } from "prom-client";
import { CoordinationListener } from "./coordination-listener.ts";
import { type CoordinationTables, coordinationTables } from "./coordination-tables.ts";
import { aimAhead } from "./generation-runner.ts";
import { GenerationStore } from "./generation-store.ts";
import { MembershipStore, type UnitRow } from "./membership-store.ts";
import { createProjectionMetrics, type ProjectionMetrics } from "./metrics.ts";
import { type Ownership, OwnershipStore } from "./ownership-store.ts";
import { ParkedStore } from "./parked-store.ts";
import { capabilityOf, type ProjectionDefinition } from "./projection.ts";
import { desiredOwner, type LiveMember, type UnitKey, unitId } from "./rendezvous.ts";
import { type ProjectionRuntimeOptions, RUNTIME_DEFAULTS } from "./runtime-options.ts";
import { UnitHost } from "./unit-host.ts";
import { settle, type WarmUpTimes, warmUp } from "./warm-up.ts";

/** Longest a joining replica waits, twice, for its read-aheads to stop reading a backlog. */
const READ_AHEAD_REST_MAX_MS = 5_000;

/** A running replica of the projection host. */
export interface ProjectionRuntime {
  readonly memberId: string;
  readonly definitions: ReadonlyMap<string, ProjectionDefinition>;
  readonly generations: GenerationStore;
  readonly parked: ParkedStore;
  readonly metrics: ProjectionMetrics;
  readonly readSchema: string;
  /** Units this replica runs now. */
  ownedUnits(): UnitKey[];
  /** Where the warm-up before joining went (undefined until it finished). */
  readonly warmUpTimes: WarmUpTimes | undefined;
  /**
   * Makes sure every projection has a generation for this code's version, warms up (connections,
   * stream reads, every handler run once in a rolled-back transaction), and only then joins the
   * replica set and starts taking units. Call it once the process is otherwise ready: other
   * replicas start handing units over as soon as this one appears.
   */
  start(): Promise<void>;
  /** Releases every unit after its last checkpoint, leaves the replica set. */
  stop(): Promise<void>;
}

/**
 * A replica of the projection host, not started yet (see `start`). The host must have migrated
 * `schema` with `coordinationMigrations` first.
 */
export function createProjectionRuntime(options: ProjectionRuntimeOptions): ProjectionRuntime {
  return new ReplicaCoordinator(options);
}

/** `createProjectionRuntime` and `start` in one go, for hosts with nothing else to set up. */
export async function startProjectionRuntime(options: ProjectionRuntimeOptions): Promise<ProjectionRuntime> {
  const runtime = createProjectionRuntime(options);
  await runtime.start();
  return runtime;
}

class ReplicaCoordinator implements ProjectionRuntime {
  readonly memberId: string;
  readonly definitions: ReadonlyMap<string, ProjectionDefinition>;
  readonly generations: GenerationStore;
  readonly parked: ParkedStore;
  readonly metrics: ProjectionMetrics;
  readonly readSchema: string;
  readonly #o: ProjectionRuntimeOptions;
  readonly #settings: { readonly [K in keyof typeof RUNTIME_DEFAULTS]: number };
  readonly #membership: MembershipStore;
  readonly #ownership: OwnershipStore;
  readonly #host: UnitHost;
  readonly #capabilities: string[];
  readonly #tables: CoordinationTables;
  readonly #listener: CoordinationListener;
  warmUpTimes: WarmUpTimes | undefined;
  /** The last view a round read: a released unit's notification is acted on against it. */
  #view: { members: LiveMember[]; units: UnitRow[] } | undefined;
  #lastMembers = "";
  /** Each unit's checkpoint when `#prefetch` last looked: how far the owners moved since. */
  #expectedSeen: Map<string, number> | undefined;
  #ticks = 0;
  #nextTickMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #beatTimer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #inTick = false;
  readonly #launches = new Set<Promise<void>>();
  #again = false;
  /** The round waiting on `#timer` is a full one, due now. */
  #fullDue = false;
  /** Member row written: before it, a release is nobody's to take for this replica. */
  #joined = false;
  #stopped = false;

  constructor(options: ProjectionRuntimeOptions) {
    this.#o = options;
    this.#settings = { ...RUNTIME_DEFAULTS, ...stripUndefined(options) };
    this.memberId = options.memberId;
    this.readSchema = options.readSchema ?? options.schema;
    this.definitions = new Map(options.projections.map((d) => [d.name, d]));
    this.#capabilities = options.projections.map(capabilityOf);
    const tables = coordinationTables(options.schema);
    this.#tables = tables;
    this.#listener = new CoordinationListener(
      options.pool,
      tables.channel,
      (payload) => this.#notified(payload),
      options.logger,
    );
    this.#membership = new MembershipStore(options.pool, tables);
    this.#ownership = new OwnershipStore(options.pool, tables);
    this.generations = new GenerationStore(options.pool, tables, this.readSchema);
    this.parked = new ParkedStore(options.pool, tables);
    this.metrics = createProjectionMetrics(options.registry ?? new Registry(), () => this.#host.units.lag());
    this.#host = new UnitHost({
      memberId: this.memberId,
      readSchema: this.readSchema,
      namespace: options.namespace,
      nc: options.nc,
      definitions: this.definitions,
      ownership: this.#ownership,
      parked: this.parked,
      metrics: this.metrics,
      logger: options.logger,
      settings: this.#settings,
      onUnitChange: options.onUnitChange,
    });
  }

  ownedUnits(): UnitKey[] {
    return this.#host.units.all().map((u) => u.key);
  }

  async start(): Promise<void> {
    for (const definition of this.definitions.values()) await this.generations.ensure(definition);
    await this.#listener.start();
    await this.#warmUp();
    await this.#prefetch();
    // A read-ahead for owners far behind reads 10,000 sequences of backlog before it parks: read
    // before the join, not while the moved units' first commits wait for this replica's turn on
    // a core (traced: a joiner still reading one took 567 ms for a unit's first commit).
    let resting = await this.#host.readAheadsAtRest(READ_AHEAD_REST_MAX_MS);
    const settled = await settle();
    this.metrics.warmUpSeconds.set({ phase: "settle" }, settled / 1000);
    // Owners that overtook the read-ahead while this replica settled: it starts again ahead of them.
    await this.#prefetch();
    resting += await this.#host.readAheadsAtRest(READ_AHEAD_REST_MAX_MS);
    this.metrics.warmUpSeconds.set({ phase: "read-ahead" }, resting / 1000);
    // Joining is what makes the others hand units over: everything above is paid before, by no unit.
    // With where this replica's read-ahead starts: the owners hand the units it expects over there.
    const readAhead = this.#host.readAhead();
    this.#o.logger.info(
      { settleMs: Math.round(settled), readAheadMs: Math.round(resting), readAhead },
      "projection runtime joining",
    );
    await this.#membership.heartbeat(this.memberId, this.#capabilities, {}, readAhead);
    this.#joined = true;
    this.#beat();
    this.#schedule(0);
  }

  async #warmUp(): Promise<void> {
    const names = busNames(this.#o.namespace);
    const times = await warmUp({
      pool: this.#o.pool,
      // Every connection the pool may open but the listener's (held already), all at once: a
      // hand-over uses them together — one acquire and one first commit per moved unit, the
      // round's two view queries, the heartbeat — and any not opened before the join was opened
      // during the moved units' pause (a new PostgreSQL backend per connection).
      connections: Math.max(1, (this.#o.pool.options.max ?? 10) - 1),
      js: jetstream(this.#o.nc),
      stream: names.stream("evt"),
      filterOf: (d) => commonFilterSubject(d.events.subjects.map((s) => names.subject(s))),
      contractSubject: names.contractSubject,
      definitions: this.definitions.values(),
      generations: this.generations,
      ownership: this.#ownership,
      readSchema: this.readSchema,
      memberId: this.memberId,
      logger: this.#o.logger,
    });
    for (const [phase, ms] of Object.entries(times)) this.metrics.warmUpSeconds.set({ phase }, ms / 1000);
    this.warmUpTimes = times;
    this.#o.logger.info({ warmUpMs: times, schema: this.#tables.schema }, "projection runtime warmed up");
  }

  /**
   * The units other members run now and will hand to this replica once it joins (rendezvous over
   * the members and itself) get their read-ahead now, starting a little past their checkpoints
   * (`GenerationRunner.prefetch`). The join tells their owners where (the member row's
   * `read_ahead`, per unit); each applies up to just below it before it releases a unit
   * (`UnitHost.handOver`), so the unit's next events are read and waiting when it arrives here.
   * Units nobody runs are left out: their checkpoints can be
   * far behind (a fresh deployment's are 0), and such a reader would read the backlog twice, once
   * to overflow what it keeps and again for the units. Best effort: a unit not foreseen (another
   * member came or went meanwhile) gets a reader when it is acquired, as always.
   */
  async #prefetch(): Promise<void> {
    try {
      const view = await this.#membership.view();
      const members = [
        ...view.members.filter((m) => m.id !== this.memberId),
        { id: this.memberId, capabilities: this.#capabilities },
      ];
      // The view as it will be once this replica joined: the units released for it right after
      // the join are taken from their notifications, before its first round has read a view.
      this.#view = { members, units: view.units };
      const expected = new Map<string, UnitRow[]>();
      for (const u of view.units) {
        if (!this.definitions.has(u.projection) || u.owner === null || u.owner === this.memberId) continue;
        if (desiredOwner(u, `${u.projection}@${u.version}`, members) !== this.memberId) continue;
        const id = `${u.projection}/${u.generation}`;
        expected.set(id, [...(expected.get(id) ?? []), u]);
      }
      const seen = this.#expectedSeen;
      this.#expectedSeen = new Map(view.units.map((u) => [unitId(u), u.checkpoint]));
      for (const units of expected.values()) {
        const { projection, generation } = units[0]!;
        await this.#host.prefetch(
          this.definitions.get(projection)!,
          generation,
          units,
          aimAhead(units, seen),
        );
      }
    } catch (err) {
      this.#o.logger.warn({ err }, "starting the expected units' readers before joining failed");
    }
  }

  /**
   * A released unit this replica should own (by the members of the last view) is acquired at
   * once, from the notification: no view to read first, no round in flight to wait for. Safe on
   * a stale view: acquiring is a compare-and-set on a free unit, and a unit taken against an old
   * view is handed on by the next round like any other.
   *
   * Only what may concern this replica starts a round: a member joining or leaving, a unit
   * released for it. A unit released for another member, or taken by one, changes nothing here
   * — each used to start a round (a view read) on every replica, a dozen per replica in a join's
   * half second, on the cores the moved units' first commits wait for. A unit taken from this
   * replica (it was thought dead) is noticed by the round its removal from the members starts, or
   * by its next commit's fence.
   */
  #notified(payload: string | undefined): void {
    const released = releasedUnitOf(payload);
    const view = this.#view;
    if (released && view && this.#joined && !this.#stopped) {
      const row = view.units.find((u) => unitId(u) === unitId(released));
      if (row && desiredOwner(row, `${row.projection}@${row.version}`, view.members) !== this.memberId)
        return;
      if (row) {
        this.#o.logger.debug?.({ unit: released }, "released unit acquired from its notification");
        const taking = this.#acquire([{ ...row, owner: null }])
          .catch((err) => this.#o.logger.warn({ err, unit: released }, "acquiring a released unit failed"))
          .finally(() => this.#launches.delete(taking));
        this.#launches.add(taking);
      }
    }
    if (payload === "units") return;
    this.#kick();
  }

  /**
   * A notification (a member joined or left, a unit changed owner): rebalance now rather than on
   * the next tick — an owner releases right after its batch in flight, the next owner acquires
   * as soon as the release commits. A tick already running is followed by another at once.
   */
  #kick(): void {
    this.#o.logger.debug?.({ inTick: this.#inTick }, "coordination notified");
    if (this.#stopped || this.#timer === undefined) return;
    if (this.#inTick) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    // A full round already due (the first one, scheduled at the join) stays full: the join's own
    // notification used to turn it into a short one, and the housekeeping waited a heartbeat.
    this.#schedule(0, this.#fullDue);
  }

  /**
   * Heartbeats run on their own timer: a tick that waits for units to drain must not make
   * this replica look dead to the others.
   */
  #beat(): void {
    if (this.#stopped) return;
    this.#beatTimer = setTimeout(() => {
      this.#membership
        .heartbeat(this.memberId, this.#capabilities, this.#host.units.status(), this.#host.readAhead())
        .catch((err) => this.#o.logger.warn({ err }, "heartbeat failed"))
        .finally(() => this.#beat());
    }, this.#settings.heartbeatMs);
  }

  #schedule(delayMs: number, full = true): void {
    if (this.#stopped) return;
    this.#fullDue = full && delayMs === 0;
    this.#timer = setTimeout(() => {
      this.#fullDue = false;
      this.#inTick = true;
      this.#again = false;
      this.#ticking = this.#tick(full)
        .catch((err) => this.#o.logger.error({ err }, "projection coordination tick failed"))
        .finally(() => {
          this.#inTick = false;
          if (this.#again) this.#schedule(0, false);
          else this.#schedule(this.#nextTickMs);
        });
    }, delayMs);
  }

  /**
   * One coordination round. `full` on the heartbeat's schedule; a notification's round skips the
   * housekeeping (stale members, generation switches) that no join or release calls for, so a
   * hand-over costs the view and the moves only.
   */
  async #tick(full: boolean): Promise<void> {
    if (full) {
      // Counts heartbeat rounds only: never-owned units wait one heartbeat whatever was notified.
      this.#ticks++;
      await this.#membership.removeStale(this.#settings.memberTtlMs);
      await this.#maintainGenerations();
    }
    const view = await this.#membership.view();
    this.#view = view;
    this.#o.logger.debug?.({ full }, "coordination view read");
    const members = view.members.map((m) => m.id).join(",");
    if (members !== this.#lastMembers) {
      if (this.#lastMembers !== "") this.metrics.rebalances.inc();
      this.#lastMembers = members;
    }
    await this.#host.dropLost(view.units);
    const desired = (u: UnitRow) => desiredOwner(u, `${u.projection}@${u.version}`, view.members);
    const moving = view.units.filter((u) => u.owner === this.memberId && desired(u) !== this.memberId);
    // A hand-over under way for a unit that should stay after all (the joiner left again).
    for (const key of this.#host.handingOver())
      if (!moving.some((u) => unitId(u) === unitId(key))) this.#host.cancelHandOver(key);
    // To a member reading ahead for it: applied up to its read-ahead first (not awaited).
    await Promise.all(
      moving.map((u) => {
        const start = view.members.find((m) => m.id === desired(u))?.readAhead?.[unitId(u)];
        return this.#host.handOver(u, start === undefined ? undefined : start - 1);
      }),
    );
    // Units this replica should own but another still drains: look again soon, not a heartbeat
    // later, so a moved unit's pause is the drain plus a short poll.
    const awaited = view.units.filter((u) => u.owner !== this.memberId && desired(u) === this.memberId);
    const soon = awaited.some((u) => u.owner !== null) || (awaited.length > 0 && this.#ticks >= 2);
    this.#nextTickMs = soon ? Math.max(20, this.#settings.heartbeatMs / 10) : this.#settings.heartbeatMs;
    if (this.#stopped) return;
    // On the first tick only units someone released for this replica (token > 0) are taken;
    // never-owned ones wait a heartbeat, so replicas started together see each other first.
    await this.#acquire(awaited.filter((u) => u.owner === null && (this.#ticks >= 2 || u.token > 0)));
  }

  async #maintainGenerations(): Promise<void> {
    for (const s of await this.generations.switchCaughtUp()) {
      this.#o.logger.info(s, "rebuilt generation caught up: it now serves reads");
    }
    await this.generations.dropRetired(this.#settings.retiredTtlMs);
  }

  async #acquire(rows: readonly UnitRow[]): Promise<void> {
    // At once, not one after the other: the units are launched together (one reader for all), so
    // one by one the first unit taken waited for every later round trip — half a second of its
    // pause when six units moved to a joiner on a loaded machine.
    const taken = await Promise.all(
      rows
        .filter((row) => this.definitions.has(row.projection) && !this.#host.units.get(row))
        .map(async (row) => {
          const key: UnitKey = {
            projection: row.projection,
            generation: row.generation,
            partition: row.partition,
          };
          const own = await this.#ownership.acquire(key, this.memberId);
          const { totalCount, idleCount, waitingCount } = this.#o.pool;
          this.#o.logger.debug?.(
            { unit: key, acquired: own !== null, pool: { totalCount, idleCount, waitingCount } },
            "unit acquire answered",
          );
          return own ? { row, own } : undefined;
        }),
    );
    const acquired = taken.filter((a): a is { row: UnitRow; own: Ownership } => a !== undefined);
    // Not awaited: starting a reader is a NATS round trip or two, and a unit released meanwhile
    // must not wait for it to be acquired. The units are registered (`units`) synchronously.
    const launch = this.#host
      .launch(acquired)
      .catch((err) => this.#o.logger.error({ err }, "starting acquired units failed"))
      .finally(() => this.#launches.delete(launch));
    this.#launches.add(launch);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#beatTimer);
    await this.#listener.close();
    await this.#ticking;
    // An acquisition from a notification adds its launch while it is awaited: wait for both.
    while (this.#launches.size > 0) await Promise.all(this.#launches);
    await this.#host.releaseAll();
    await this.#membership.leave(this.memberId);
  }
}

/** The unit a notification's payload says was released (migration 3), if it says so. */
function releasedUnitOf(payload: string | undefined): UnitKey | undefined {
  if (!payload?.startsWith("{")) return undefined;
  try {
    const { released } = JSON.parse(payload) as { released?: UnitKey };
    return released;
  } catch {
    return undefined;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
