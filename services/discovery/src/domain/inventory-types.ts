import type { DiscoveredApp, DiscoveredDatabase } from "@dbplane/contracts";

/** A database as discovery knows it: the event data without the time it was observed. */
export type DatabaseRecord = Omit<DiscoveredDatabase, "observedAt">;
/** An app as discovery knows it: the event data without the time it was observed. */
export type AppRecord = Omit<DiscoveredApp, "observedAt">;
export type DatabaseUse = AppRecord["databases"][number];
export type DatabaseAddress = NonNullable<DatabaseRecord["addresses"]>[number];

/** Everything one driver sees right now. */
export interface Inventory {
  readonly databases: readonly DatabaseRecord[];
  readonly apps: readonly AppRecord[];
}
