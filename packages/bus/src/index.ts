export type { Bus, BusOptions } from "./bus.ts";
export { connectBus } from "./bus.ts";
export { ConcurrencyLimit } from "./concurrency-limit.ts";
export type { ConnectionStatus } from "./connection.ts";
export type { NatsAuth, NatsTls } from "./connection-auth.ts";
export { NatsAuthConfigError } from "./connection-auth.ts";
export type { BusConsumer, ConsumeOptions } from "./consumer.ts";
export { CONSUME_DEFAULTS } from "./consumer.ts";
export type { DlqReason } from "./dead-letter.ts";
export { DLQ_HEADERS, DLQ_REASONS } from "./dead-letter.ts";
export type { DefinitionHandler, EventOf, HandlerContext, MessageHandler } from "./delivery.ts";
export { handle } from "./delivery.ts";
export {
  KvConflictError,
  KvContentionError,
  PermanentError,
  PublishError,
  RetryableError,
} from "./errors.ts";
export type { BusKv, KvBucketOptions, KvValue } from "./kv.ts";
export type { KvChange, KvWatch, KvWatchOptions, KvWatchResumeReason } from "./kv-watch.ts";
export type { HandleOutcome } from "./metrics.ts";
export { HANDLE_OUTCOMES } from "./metrics.ts";
export type { BusNames, StreamRole } from "./naming.ts";
export { busNames, commonFilterSubject, serviceInboxPrefix } from "./naming.ts";
export type { NatsUserPermissions } from "./nats-permissions.ts";
export {
  COMMAND_DURABLES,
  EVENT_DURABLES,
  KV_BUCKET_OWNERS,
  PRIVATE_KV_BUCKETS,
  servicePermissions,
} from "./nats-permissions.ts";
export type { EncodedPublish } from "./publish-pipeline.ts";
export { isTransientPublishError } from "./publish-pipeline.ts";
export type { PublishAck, PublishOptions } from "./publisher.ts";
export type { HeaderGetter } from "./raw-headers.ts";
export { headerGetter } from "./raw-headers.ts";
export type { RawPublisher, RawPublisherOptions } from "./raw-publisher.ts";
export { connectRawPublisher } from "./raw-publisher.ts";
export type { JitterOptions, RandomSource } from "./retry-pause.ts";
export { decorrelatedJitter, fullJitter } from "./retry-pause.ts";
export { subjectService, UntrustedSourceError, untrustedSource } from "./source-check.ts";
export { TOPOLOGY_DEFAULTS } from "./topology.ts";
