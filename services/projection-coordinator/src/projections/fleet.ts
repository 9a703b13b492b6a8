import {
  appChanged,
  appDiscovered,
  appLost,
  databaseChanged,
  databaseDeleted,
  databaseDiscovered,
  databaseFailed,
  databaseLost,
  databaseReady,
  databaseRequested,
  type MessageDefinition,
  shardFailed,
  shardHot,
  shardLoadSampled,
  shardReady,
  targetHealthChanged,
} from "@dbplane/contracts";
import {
  defineProjection,
  type ProjectionEvent,
  type ProjectionTables,
  type ProjectionTx,
} from "@dbplane/projections";
import { applyDiscoveryEvent } from "./fleet-discovery.ts";
import { applyProvisionerEvent } from "./fleet-provisioner.ts";
import { applyShardSignal } from "./fleet-signals.ts";
import { createFleetTables } from "./fleet-tables.ts";
import { noticeReadModelChange } from "./read-model-notice.ts";

const definitions: readonly MessageDefinition[] = [
  databaseDiscovered,
  databaseChanged,
  databaseLost,
  appDiscovered,
  appChanged,
  appLost,
  databaseRequested,
  databaseReady,
  databaseFailed,
  databaseDeleted,
  shardReady,
  shardFailed,
  shardHot,
  targetHealthChanged,
  shardLoadSampled,
];
const byType = new Map(definitions.map((d) => [d.type, d]));

/** Event as the fleet handlers see it: type and data checked against the contract. */
export interface FleetEvent {
  readonly type: string;
  readonly time: string;
  readonly subject: string;
  readonly data: Record<string, unknown>;
}

/** Applies one service's fleet events (`name` is the type without the service) to the tables. */
export type FleetEventHandler = (
  e: FleetEvent,
  name: string,
  tx: ProjectionTx,
  t: ProjectionTables,
) => Promise<void>;

/** Databases, shards, health and apps, from discovery, provisioner, router and collector events. */
export const fleetProjection = defineProjection({
  name: "fleet",
  version: 1,
  partitions: 8,
  events: {
    subjects: [
      "dbplane.evt.discovery.>",
      "dbplane.evt.provisioner.>",
      "dbplane.evt.router.>",
      "dbplane.evt.collector.>",
    ],
    types: [...byType.keys()],
  },
  setup: createFleetTables,
  handle: applyFleetEvent,
});

async function applyFleetEvent(
  event: ProjectionEvent,
  tx: ProjectionTx,
  tables: ProjectionTables,
): Promise<void> {
  const def = byType.get(event.type);
  if (!def) return;
  // An event that breaks its contract throws here and is parked with the zod message.
  const data = def.schema.parse(event.data) as Record<string, unknown>;
  const fleetEvent: FleetEvent = { type: event.type, time: event.time, subject: event.subject, data };
  if (def.service === "discovery") await applyDiscoveryEvent(fleetEvent, def.name, tx, tables);
  else if (def.service === "provisioner") await applyProvisionerEvent(fleetEvent, def.name, tx, tables);
  else await applyShardSignal(fleetEvent, def.name, tx, tables);
  await noticeReadModelChange(tx, tables, "fleet", [event.type]);
}
