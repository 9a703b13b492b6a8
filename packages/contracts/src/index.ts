export type { AsyncApiDocument } from "./asyncapi.ts";
export { buildAsyncApiDocument, renderAsyncApiYaml } from "./asyncapi.ts";
export { catalog, findMessageBySubject, findMessageByType } from "./catalog.ts";
export type { DomainErrorOptions, ErrorKind, FieldIssue } from "./domain-error.ts";
export { DomainError, ERROR_KINDS } from "./domain-error.ts";
export type { CloudEvent, CloudEventAttributes, EnvelopeOptions } from "./envelope.ts";
export {
  CE_HEADER_PREFIX,
  CE_HEADERS,
  CE_REQUIRED_HEADERS,
  createEnvelope,
  fromBinaryHeaders,
  InvalidEnvelopeError,
  toBinaryHeaders,
} from "./envelope.ts";
export type { ApplicationRole, JsonValue, MonitoringRole, ReshardRole, ShardedTable } from "./field-types.ts";
export {
  applicationRole,
  databaseName,
  endpoint,
  identifier,
  isJsonValue,
  jsonValue,
  MAX_JSON_DEPTH,
  monitoringRole,
  passwordRef,
  quantity,
  reason,
  reshardRole,
  shardEndpoint,
  shardedTable,
  shardIndex,
  sqlIdentifier,
  sqlTableName,
  timestamp,
} from "./field-types.ts";
export type { MessageData, MessageDefinition, MessageInput, MessageKind, ServiceName } from "./message.ts";
export {
  cloudEventType,
  commandSubject,
  defineCommand,
  defineEvent,
  eventSubject,
  InvalidMessageNameError,
  MESSAGE_KINDS,
  SERVICES,
  serviceSource,
} from "./message.ts";
export type { ShardLoadSampled, TargetHealthChanged } from "./messages/collector.ts";
export { shardLoadSampled, targetHealthChanged } from "./messages/collector.ts";
export type { AppLost, DatabaseLost, DiscoveredApp, DiscoveredDatabase } from "./messages/discovery.ts";
export {
  appChanged,
  appDiscovered,
  appLost,
  databaseChanged,
  databaseDiscovered,
  databaseLost,
} from "./messages/discovery.ts";
export type { UnitAssigned, UnitReleased } from "./messages/projection-coordinator.ts";
export { unitAssigned, unitReleased } from "./messages/projection-coordinator.ts";
export type {
  AddShard,
  BackupCompleted,
  BackupFailed,
  BackupPolicy,
  CreateDatabase,
  DatabaseDeleted,
  DatabaseFailed,
  DatabaseReady,
  DatabaseRequested,
  DeleteDatabase,
  RemoveShard,
  RunBackup,
  ScaleReplicas,
  ShardFailed,
  ShardFailedOver,
  ShardReady,
  ShardRemoved,
} from "./messages/provisioner.ts";
export {
  addShard,
  backupCompleted,
  backupFailed,
  backupPolicy,
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
export type { ReshardPhase, ShardHot, ShardMapPublished, SplitShard } from "./messages/router.ts";
export {
  KEYSPACE_END,
  KEYSPACE_START,
  RESHARD_PHASES,
  rebalanceCheck,
  reshardCancelled,
  reshardCompleted,
  reshardFailed,
  reshardPhase,
  reshardPhaseChanged,
  reshardStarted,
  shardHot,
  shardMapPublished,
  splitShard,
} from "./messages/router.ts";
export type {
  CancelJob,
  JobDelivered,
  JobDeliveryFailed,
  JobFired,
  JobMissed,
  ScheduleJob,
} from "./messages/scheduler.ts";
export {
  cancelJob,
  jobDelivered,
  jobDeliveryFailed,
  jobFired,
  jobMissed,
  scheduleJob,
} from "./messages/scheduler.ts";
export type { MessageDataIssue } from "./validate.ts";
export { InvalidMessageDataError, parseMessageData } from "./validate.ts";
