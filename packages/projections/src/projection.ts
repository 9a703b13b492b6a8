import type { CloudEvent } from "@dbplane/contracts";
import type pg from "pg";

/** An event as a projection sees it: the CloudEvent plus where it sits in `DBPLANE_EVT`. */
export interface ProjectionEvent<T = unknown> extends CloudEvent<T> {
  /** Stream sequence in `DBPLANE_EVT`: the checkpoint unit. */
  readonly seq: number;
  /** The NATS subject it was published on, without the bus namespace. */
  readonly streamSubject: string;
}

/** A transaction's connection: the handler's writes commit or roll back with the checkpoint. */
export type ProjectionTx = pg.ClientBase;

/**
 * The read-model tables of one generation. Names are schema-qualified, quoted and carry the
 * generation, so a rebuild writes new tables while the active generation keeps serving.
 */
export interface ProjectionTables {
  readonly schema: string;
  readonly generation: number;
  /** `"schema"."<projection>_g<generation>_<name>"`, ready to interpolate into SQL. */
  table(name: string): string;
}

/** What a projection is: which events it reads, how it splits them, and what it writes. */
export interface ProjectionDefinition {
  /** kebab-case, unique in the deployment. */
  readonly name: string;
  /** Bump when `setup` or `handle` change meaning: the new version rebuilds from the first event. */
  readonly version: number;
  /** Work units per generation; an aggregate always lands in the same one. */
  readonly partitions: number;
  readonly events: {
    /** Contract subjects (`dbplane.evt.discovery.>`); NATS wildcards allowed. */
    readonly subjects: readonly string[];
    /** CloudEvents types to keep; all types on the subjects when absent. */
    readonly types?: readonly string[];
  };
  /** Creates this generation's tables (runs once per generation, in a transaction). */
  setup(tx: ProjectionTx, tables: ProjectionTables): Promise<void>;
  /**
   * Applies one event. Throwing rolls the transaction back; after N attempts the event is parked.
   * A joining replica also runs it (or `handleBatch`) once on the newest event inside a
   * transaction it rolls back, to warm up: keep every effect in `tx`.
   */
  handle(event: ProjectionEvent, tx: ProjectionTx, tables: ProjectionTables): Promise<void>;
  /**
   * Optional: applies several events of one partition at once (stream order), for throughput.
   * Must have the same effect as `handle` on each in turn; a failure falls back to `handle`.
   */
  handleBatch?(events: readonly ProjectionEvent[], tx: ProjectionTx, tables: ProjectionTables): Promise<void>;
}

const NAME = /^[a-z][a-z0-9-]{0,30}$/;
const TABLE = /^[a-z][a-z0-9_]{0,20}$/;

export class ProjectionDefinitionError extends Error {
  override readonly name = "ProjectionDefinitionError";
}

/** Checks a projection definition and returns it, frozen. */
export function defineProjection<D extends ProjectionDefinition>(definition: D): Readonly<D> {
  if (!NAME.test(definition.name)) {
    throw new ProjectionDefinitionError(
      `projection name ${JSON.stringify(definition.name)} must match ${NAME}`,
    );
  }
  if (!Number.isInteger(definition.version) || definition.version < 1) {
    throw new ProjectionDefinitionError(`${definition.name}: version must be an integer ≥ 1`);
  }
  if (!Number.isInteger(definition.partitions) || definition.partitions < 1 || definition.partitions > 1024) {
    throw new ProjectionDefinitionError(`${definition.name}: partitions must be an integer in 1..1024`);
  }
  if (definition.events.subjects.length === 0) {
    throw new ProjectionDefinitionError(`${definition.name}: at least one subject is required`);
  }
  return Object.freeze(definition);
}

/** The tables of generation `generation` of `projection` in `schema`. */
export function projectionTables(schema: string, projection: string, generation: number): ProjectionTables {
  const prefix = `${projection.replaceAll("-", "_")}_g${generation}_`;
  return {
    schema,
    generation,
    table(name) {
      if (!TABLE.test(name))
        throw new ProjectionDefinitionError(`table name ${JSON.stringify(name)} must match ${TABLE}`);
      return `"${schema}"."${prefix}${name}"`;
    },
  };
}

/** LIKE pattern of a generation's table names (to drop them when it is retired). */
export function tablePattern(projection: string, generation: number): string {
  return `${projection.replaceAll("-", "_")}\\_g${generation}\\_%`;
}

/** `name@version`: what a replica advertises it can run. */
export function capabilityOf(definition: Pick<ProjectionDefinition, "name" | "version">): string {
  return `${definition.name}@${definition.version}`;
}
