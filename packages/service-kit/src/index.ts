export type { DomainErrorOptions, ErrorKind, FieldIssue } from "@dbplane/contracts";
export { DomainError, ERROR_KINDS } from "@dbplane/contracts";
export type { RouteAuthConfig } from "./auth.ts";
export { routeScope } from "./auth.ts";
export type { Principal, SignTokenOptions, TokenPolicy } from "./bearer-tokens.ts";
export { jwtSecretOrRandom, signToken, tokenVerifier, verifyToken } from "./bearer-tokens.ts";
export type { ConfigIssue } from "./config.ts";
export {
  CONFIG_EXIT_CODE,
  ConfigError,
  configIssues,
  configLoader,
  loadConfig,
  parseConfig,
} from "./config.ts";
export type { LogLevel } from "./env-fragments.ts";
export {
  authEnv,
  baseEnv,
  httpEnv,
  LOG_LEVELS,
  localPostgresEnv,
  localRedisEnv,
  logEnv,
  MIN_JWT_SECRET_LENGTH,
  natsEnv,
  postgresEnv,
  readOnlyAuthEnv,
  redisEnv,
  redisTlsEnv,
  shardTlsEnv,
  shutdownEnv,
} from "./env-fragments.ts";
export { envVar } from "./env-values.ts";
export type { FieldError, HttpErrorOptions } from "./errors.ts";
export {
  ConflictError,
  ForbiddenError,
  HttpError,
  NotFoundError,
  PreconditionFailedError,
  UnauthorizedError,
  ValidationError,
} from "./errors.ts";
export type { CreateHttpAppOptions, HttpApp } from "./http-app.ts";
export { createHttpApp, fastPathValidatorCompiler } from "./http-app.ts";
export type { CreateLoggerOptions, Logger } from "./logger.ts";
export { createLogger } from "./logger.ts";
export type { HistogramSeries } from "./metrics.ts";
export { CountedHistogram } from "./metrics.ts";
export { connectClient, withClient } from "./one-off-client.ts";
export { BEARER_SCHEME, SCOPE_EXTENSION } from "./openapi.ts";
export type { PlatformPoolEnv, PlatformPoolOptions } from "./platform-pool.ts";
export { platformPool, poolReadiness } from "./platform-pool.ts";
export type { Problem } from "./problem.ts";
export {
  MAX_DRAIN_MS,
  MAX_DRAINED_BODY_BYTES,
  PROBLEM_CONTENT_TYPE,
  problem,
  sendProblem,
} from "./problem.ts";
export type { CheckOutcome, ReadinessCheck } from "./readiness.ts";
export type { RedisEnv } from "./redis-client.ts";
export { RedisTlsConfigError, redisClient } from "./redis-client.ts";
export type { ListenEnv, RunningService, RunServiceOptions, ShutdownStep } from "./run-service.ts";
export { listenOptions, runService } from "./run-service.ts";
export type { MigratedTables, SchemaMigration } from "./schema-migrations.ts";
export { migrateSchema, schemaTables } from "./schema-migrations.ts";
export { databaseScope, grants, Scope, scopesOfClaim } from "./scopes.ts";
export { redactUrl } from "./secret-values.ts";
export type { BusEnv, ServiceBusOptions } from "./service-bus.ts";
export { connectServiceBus, natsAuthFromEnv } from "./service-bus.ts";
export { replicaId, serviceVersion } from "./service-identity.ts";
export type { ServiceEnv, ServiceProcess, ServiceShutdown } from "./service-process.ts";
export { serviceProcess } from "./service-process.ts";
export { ShardCaUnavailableError, type ShardTls, shardTls } from "./shard-tls.ts";
export { inTransaction } from "./transaction.ts";
