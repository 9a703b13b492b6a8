import { Registry } from "prom-client";
import { coordinationTables } from "./coordination-tables.ts";
import { GenerationStore } from "./generation-store.ts";
import { MembershipStore, type UnitRow } from "./membership-store.ts";
import { createProjectionMetrics, type ProjectionMetrics } from "./metrics.ts";
import { type Ownership, OwnershipStore } from "./ownership-store.ts";
import { ParkedStore } from "./parked-store.ts";
import { capabilityOf, type ProjectionDefinition } from "./projection.ts";
import { desiredOwner, type UnitKey } from "./rendezvous.ts";
import { type ProjectionRuntimeOptions, RUNTIME_DEFAULTS } from "./runtime-options.ts";
import { UnitHost } from "./unit-host.ts";

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
  /**
   * Makes sure every projection has a generation for this code's version, joins the replica set
   * and starts taking units. Call it once the process is otherwise ready: other replicas start
   * handing units over as soon as this one appears.
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
  #lastMembers = "";
  #ticks = 0;
  #nextTickMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #beatTimer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: ProjectionRuntimeOptions) {
    this.#o = options;
    this.#settings = { ...RUNTIME_DEFAULTS, ...stripUndefined(options) };
    this.memberId = options.memberId;
    this.readSchema = options.readSchema ?? options.schema;
    this.definitions = new Map(options.projections.map((d) => [d.name, d]));
    this.#capabilities = options.projections.map(capabilityOf);
    const tables = coordinationTables(options.schema);
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
    await this.#membership.heartbeat(this.memberId, this.#capabilities, {});
    this.#beat();
    this.#schedule(0);
  }

  /**
   * Heartbeats run on their own timer: a tick that waits for units to drain must not make
   * this replica look dead to the others.
   */
  #beat(): void {
    if (this.#stopped) return;
    this.#beatTimer = setTimeout(() => {
      this.#membership
        .heartbeat(this.memberId, this.#capabilities, this.#host.units.status())
        .catch((err) => this.#o.logger.warn({ err }, "heartbeat failed"))
        .finally(() => this.#beat());
    }, this.#settings.heartbeatMs);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#ticking = this.#tick()
        .catch((err) => this.#o.logger.error({ err }, "projection coordination tick failed"))
        .finally(() => this.#schedule(this.#nextTickMs));
    }, delayMs);
  }

  async #tick(): Promise<void> {
    this.#ticks++;
    await this.#membership.removeStale(this.#settings.memberTtlMs);
    await this.#maintainGenerations();
    const view = await this.#membership.view();
    const members = view.members.map((m) => m.id).join(",");
    if (members !== this.#lastMembers) {
      if (this.#lastMembers !== "") this.metrics.rebalances.inc();
      this.#lastMembers = members;
    }
    await this.#host.dropLost(view.units);
    const desired = (u: UnitRow) => desiredOwner(u, `${u.projection}@${u.version}`, view.members);
    const moving = view.units.filter((u) => u.owner === this.memberId && desired(u) !== this.memberId);
    await Promise.all(moving.map((u) => this.#host.release(u)));
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
    const acquired: { row: UnitRow; own: Ownership }[] = [];
    for (const row of rows) {
      if (!this.definitions.has(row.projection) || this.#host.units.get(row)) continue;
      const key: UnitKey = {
        projection: row.projection,
        generation: row.generation,
        partition: row.partition,
      };
      const own = await this.#ownership.acquire(key, this.memberId);
      if (own) acquired.push({ row, own });
    }
    await this.#host.launch(acquired);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#beatTimer);
    await this.#ticking;
    await this.#host.releaseAll();
    await this.#membership.leave(this.memberId);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
