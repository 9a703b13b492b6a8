import type { MessageDefinition } from "./message.ts";
import { shardLoadSampled, targetHealthChanged } from "./messages/collector.ts";
import {
  appChanged,
  appDiscovered,
  appLost,
  databaseChanged,
  databaseDiscovered,
  databaseLost,
} from "./messages/discovery.ts";
import { unitAssigned, unitReleased } from "./messages/projection-coordinator.ts";
import {
  addShard,
  backupCompleted,
  backupFailed,
  createDatabase,
  databaseDeleted,
  databaseFailed,
  databaseReady,
  databaseRequested,
  deleteDatabase,
  removeShard,
  runBackup,
  scaleReplicas,
  shardFailed,
  shardFailedOver,
  shardReady,
  shardRemoved,
} from "./messages/provisioner.ts";
import {
  rebalanceCheck,
  reshardCancelled,
  reshardCompleted,
  reshardFailed,
  reshardPhaseChanged,
  reshardStarted,
  shardHot,
  shardMapPublished,
  splitShard,
} from "./messages/router.ts";
import {
  cancelJob,
  jobDelivered,
  jobDeliveryFailed,
  jobFired,
  jobMissed,
  scheduleJob,
} from "./messages/scheduler.ts";

/**
 * Every command and event of dbplane, grouped by service in DESIGN.md order. The AsyncAPI
 * document, the stream topology and the consumers' dispatch tables are all derived from it.
 */
export const catalog: readonly MessageDefinition[] = Object.freeze([
  databaseDiscovered,
  databaseChanged,
  databaseLost,
  appDiscovered,
  appChanged,
  appLost,
  createDatabase,
  deleteDatabase,
  addShard,
  removeShard,
  scaleReplicas,
  runBackup,
  databaseRequested,
  databaseReady,
  databaseFailed,
  databaseDeleted,
  shardReady,
  shardRemoved,
  shardFailed,
  shardFailedOver,
  backupCompleted,
  backupFailed,
  splitShard,
  rebalanceCheck,
  shardHot,
  shardMapPublished,
  reshardStarted,
  reshardPhaseChanged,
  reshardCompleted,
  reshardFailed,
  reshardCancelled,
  scheduleJob,
  cancelJob,
  jobFired,
  jobMissed,
  jobDelivered,
  jobDeliveryFailed,
  unitAssigned,
  unitReleased,
  targetHealthChanged,
  shardLoadSampled,
]);

const byType = new Map(catalog.map((def) => [def.type, def]));
const bySubject = new Map(catalog.map((def) => [def.subject, def]));

/** The definition whose CloudEvents `type` (`io.dbplane.<service>.<name>.v<N>`) this is. */
export function findMessageByType(type: string): MessageDefinition | undefined {
  return byType.get(type);
}

/**
 * The definition published on `subject`. A namespaced subject (`<ns>.dbplane.…`, as the bus
 * uses for test isolation) is found too: one leading segment before `dbplane.` is ignored.
 */
export function findMessageBySubject(subject: string): MessageDefinition | undefined {
  const exact = bySubject.get(subject);
  if (exact) return exact;
  const dot = subject.indexOf(".");
  const rest = subject.slice(dot + 1);
  return dot > 0 && rest.startsWith("dbplane.") ? bySubject.get(rest) : undefined;
}
