export type { CoordinationMigration, CoordinationTables } from "./coordination-tables.ts";
export { coordinationMigrations, coordinationTables } from "./coordination-tables.ts";
export { FencedError, HandlerError } from "./errors.ts";
export type { GenerationRow } from "./generation-store.ts";
export { GenerationStore, RebuildInProgressError } from "./generation-store.ts";
export type { LagSample, ProjectionMetrics } from "./metrics.ts";
export type { ParkedEvent } from "./parked-store.ts";
export { ParkedNotFoundError, ParkedResolvedError, ParkedStore, RetryFailedError } from "./parked-store.ts";
export { fnv1a32, partitionOf } from "./partition.ts";
export type {
  ProjectionDefinition,
  ProjectionEvent,
  ProjectionTables,
  ProjectionTx,
} from "./projection.ts";
export { capabilityOf, defineProjection, ProjectionDefinitionError, projectionTables } from "./projection.ts";
export type { UnitOverview } from "./projection-overview.ts";
export { projectionOverview } from "./projection-overview.ts";
export type { LiveMember, UnitKey } from "./rendezvous.ts";
export { desiredOwner, unitId } from "./rendezvous.ts";
export type { ProjectionRuntime } from "./runtime.ts";
export { createProjectionRuntime, startProjectionRuntime } from "./runtime.ts";
export type { RuntimeLogger } from "./runtime-logger.ts";
export type { ProjectionRuntimeOptions, UnitChange } from "./runtime-options.ts";
export { RUNTIME_DEFAULTS } from "./runtime-options.ts";
