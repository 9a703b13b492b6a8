export type { ChildService, ChildServiceOptions } from "./child-service.ts";
export { startChildService } from "./child-service.ts";
export { disposeOnFailure } from "./dispose-on-failure.ts";
export type { TestServerUrls } from "./env.ts";
export { testServerUrls } from "./env.ts";
export type { SeenEvent } from "./event-stream.ts";
export { lastMessageOn, readEvents } from "./event-stream.ts";
export type { FleetService, FleetWorld, FleetWorldOptions } from "./fleet-world.ts";
export { createFleetWorld } from "./fleet-world.ts";
export { freePort } from "./free-port.ts";
export type { HostileBusOptions, HostileFinding, HostileHttpOptions } from "./hostile-input.ts";
export { deeplyNested, sendHostileHttp, sendHostileMessages } from "./hostile-input.ts";
export type { HttpClient, JsonResponse } from "./http-client.ts";
export { httpClient } from "./http-client.ts";
export type {
  KubeApiDouble,
  KubeApiDoubleOptions,
  KubeObject,
  KubeRequestRecord,
} from "./kube-api/kube-api-double.ts";
export { startKubeApiDouble } from "./kube-api/kube-api-double.ts";
export type { CustomResourceDefinitionInput, KindRef } from "./kube-api/resource-registry.ts";
export { knownCustomResources } from "./kube-api/resource-registry.ts";
export type { TestNats } from "./nats.ts";
export { createTestNats, deleteNamespace } from "./nats.ts";
export type { PrivateNatsServer, PrivateNatsServerOptions } from "./nats-server.ts";
export { startPrivateNatsServer } from "./nats-server.ts";
export type { TestDatabase, TestSchema } from "./postgres.ts";
export { createTestDatabase, createTestSchema } from "./postgres.ts";
export type { PostgresPair } from "./postgres-pair.ts";
export { startPostgresPair } from "./postgres-pair.ts";
export type { PostgresServer, PostgresServerOptions } from "./postgres-server.ts";
export { createPostgresServer } from "./postgres-server.ts";
export type { TestRedis } from "./redis.ts";
export { createTestRedis } from "./redis.ts";
export type { SelfSignedCert } from "./self-signed-cert.ts";
export { makeSelfSignedCert } from "./self-signed-cert.ts";
export type { ReplicaOptions, ServiceReplica, ServiceWorld, ServiceWorldOptions } from "./service-world.ts";
export { serviceWorld } from "./service-world.ts";
export type { KeyRangeText } from "./stray-rows.ts";
export { strayRows } from "./stray-rows.ts";
export type { IssuedCert, TestCa } from "./test-ca.ts";
export { makeTestCa } from "./test-ca.ts";
export type { TestTokenOptions } from "./test-token.ts";
export { DEFAULT_TEST_SCOPES, signTestToken } from "./test-token.ts";
export { uniqueName } from "./unique-name.ts";
export type { WaitForOptions } from "./wait-for.ts";
export { WaitTimeoutError, waitFor } from "./wait-for.ts";
