import { catalog, type MessageDefinition, SERVICES, type ServiceName } from "@dbplane/contracts";
import { type BusNames, busNames, STREAM_ROLES, serviceInboxPrefix } from "./naming.ts";

/** One NATS user's `permissions` block, as nats-server's config reads it. */
export interface NatsUserPermissions {
  /** `deny` wins over `allow` (nats-server's rule). */
  readonly publish: { readonly allow: readonly string[]; readonly deny: readonly string[] };
  readonly subscribe: { readonly allow: readonly string[] };
}

/**
 * The KV buckets each service writes (`bus.kv(name)`); every service may read every bucket, only
 * its owner may put, delete, purge or create it. A new bucket goes here, or its owner cannot
 * write it under the chart's NATS.
 */
export const KV_BUCKET_OWNERS: Readonly<Record<ServiceName, readonly string[]>> = {
  discovery: ["discovery_facts", "discovery_local_clusters"],
  provisioner: [],
  router: ["shardmaps", "router_fences", "router_fence_acks", "router_replicas"],
  scheduler: [],
  "projection-coordinator": [],
  collector: [],
};

/**
 * The durable consumers on `DBPLANE_CMD`, by owner (the `durable:` of each service's command
 * consumer in its main.ts). Every other service is denied pulling, acking, creating and
 * deleting them: otherwise one could take (and ack away) another's commands. A durable missing
 * here is merely unprotected, never refused to its owner.
 */
export const COMMAND_DURABLES: Readonly<Record<ServiceName, readonly string[]>> = {
  discovery: [],
  provisioner: ["provisioner"],
  router: ["router-commands"],
  scheduler: ["scheduler"],
  "projection-coordinator": [],
  collector: [],
};

/**
 * The durable consumers on `DBPLANE_EVT`, by owner, fenced like COMMAND_DURABLES: otherwise one
 * service could pull another's event durable and ack its events away (the router would never
 * see a `database.ready`). Projections read through ordered consumers of their own, none here.
 */
export const EVENT_DURABLES: Readonly<Record<ServiceName, readonly string[]>> = {
  discovery: ["discovery"],
  provisioner: ["provisioner-shard-maps"],
  router: ["router", "router-load-samples"],
  scheduler: [],
  "projection-coordinator": [],
  collector: ["collector-discovery", "collector-provisioner"],
};

/**
 * KV buckets (of KV_BUCKET_OWNERS) that only their owner reads: no other user may create,
 * pull, list or delete a consumer on them, nor get their messages. The router's write fences
 * live here; their watchers are ephemeral consumers with names the client makes up
 * (`KV_WATCHER_<nuid>`), and NATS permissions match whole subject tokens only, so fencing a
 * name prefix is impossible: the whole stream is the router's instead. Another service that
 * could delete those watchers would stall every replica's view of the fences.
 */
export const PRIVATE_KV_BUCKETS: readonly string[] = [
  "router_fences",
  "router_fence_acks",
  "router_replicas",
];

function foreignDurableCalls(stream: string, durable: string): string[] {
  return [
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`,
    `$JS.API.CONSUMER.CREATE.${stream}.${durable}`,
    `$JS.API.CONSUMER.CREATE.${stream}.${durable}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.${durable}`,
    `$JS.API.CONSUMER.DELETE.${stream}.${durable}`,
    `$JS.ACK.${stream}.${durable}.>`,
    // The v2 ack subject, with domain and account hash.
    `$JS.ACK.*.*.${stream}.${durable}.>`,
  ];
}

/**
 * Every read of a stream through the JetStream API: any consumer call (one-token operations
 * like CREATE, DELETE, INFO, LIST; two-token ones like MSG.NEXT, DURABLE.CREATE), message gets,
 * acks and flow control. Denied to the users that must not read the stream at all.
 */
function streamReads(stream: string): string[] {
  return [
    `$JS.API.CONSUMER.*.${stream}`,
    `$JS.API.CONSUMER.*.${stream}.>`,
    `$JS.API.CONSUMER.*.*.${stream}`,
    `$JS.API.CONSUMER.*.*.${stream}.>`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.ACK.${stream}.>`,
    `$JS.ACK.*.*.${stream}.>`,
    `$JS.FC.${stream}.>`,
  ];
}

/** What `service` is denied: others' durables, others' private buckets, and the DLQ's contents. */
function denied(names: BusNames, service: ServiceName): string[] {
  const others = SERVICES.filter((other) => other !== service);
  const durables = others.flatMap((other) => [
    ...COMMAND_DURABLES[other].flatMap((d) => foreignDurableCalls(names.stream("cmd"), d)),
    ...EVENT_DURABLES[other].flatMap((d) => foreignDurableCalls(names.stream("evt"), d)),
  ]);
  const privateBuckets = others.flatMap((other) =>
    KV_BUCKET_OWNERS[other]
      .filter((bucket) => PRIVATE_KV_BUCKETS.includes(bucket))
      .flatMap((bucket) => streamReads(`KV_${names.bucket(bucket)}`)),
  );
  // Dead letters are copies of any service's messages: no service reads them back. Operators
  // read them with a NATS user of their own (README, "Security model").
  return [...durables, ...privateBuckets, ...streamReads(names.stream("dlq"))];
}

/**
 * JetStream API calls every service makes: account and stream info, the dbplane streams'
 * idempotent create/update (whichever service starts first makes the topology), durable and
 * watcher consumers with their pulls, acks and flow control, and reads of any stream's messages
 * (KV gets). Deleting or purging a stream is in none of them.
 */
function jetStreamApi(names: BusNames): string[] {
  const streams = STREAM_ROLES.map((role) => names.stream(role));
  return [
    "$JS.API.INFO",
    "$JS.API.STREAM.INFO.*",
    "$JS.API.STREAM.NAMES",
    "$JS.API.STREAM.LIST",
    ...streams.flatMap((s) => [`$JS.API.STREAM.CREATE.${s}`, `$JS.API.STREAM.UPDATE.${s}`]),
    "$JS.API.STREAM.MSG.GET.*",
    "$JS.API.DIRECT.GET.>",
    "$JS.API.CONSUMER.>",
    "$JS.ACK.>",
    "$JS.FC.>",
  ];
}

/** Put, delete and purge of a bucket's keys, and the bucket's own lifecycle: its owner's only. */
function bucketWrites(names: BusNames, bucket: string): string[] {
  const name = names.bucket(bucket);
  const stream = `KV_${name}`;
  return [
    `$KV.${name}.>`,
    `$JS.API.STREAM.CREATE.${stream}`,
    `$JS.API.STREAM.UPDATE.${stream}`,
    `$JS.API.STREAM.PURGE.${stream}`,
    `$JS.API.STREAM.MSG.DELETE.${stream}`,
  ];
}

/**
 * Each service's NATS permissions, derived from the contracts: it publishes its own events
 * (`dbplane.evt.<service>.>`), the commands whose declared producers include it, its own dead
 * letters (`dbplane.dlq.<service>.>`), the JetStream API calls above and writes to the KV
 * buckets it owns, but touches no other service's durables or private buckets and reads no
 * dead letters; it subscribes to its own inboxes only (`_INBOX_<service>.>`: replies, pull
 * consumers and KV watchers deliver there).
 * A forged `delete-database` from any user but the provisioner's is refused by the server
 * before it reaches the stream.
 */
export function servicePermissions(
  options: { readonly namespace?: string; readonly messages?: readonly MessageDefinition[] } = {},
): Record<ServiceName, NatsUserPermissions> {
  const names = busNames(options.namespace);
  const messages = options.messages ?? catalog;
  const entries = SERVICES.map((service): [ServiceName, NatsUserPermissions] => {
    const commands = messages
      .filter((m) => m.kind === "command" && m.producers.includes(service))
      .map((m) => names.subject(m.subject));
    const allow = [
      names.subject(`dbplane.evt.${service}.>`),
      ...[...new Set(commands)].sort(),
      names.dlqSubjectsOf(service),
      ...jetStreamApi(names),
      ...KV_BUCKET_OWNERS[service].flatMap((bucket) => bucketWrites(names, bucket)),
    ];
    return [
      service,
      {
        publish: { allow, deny: denied(names, service) },
        subscribe: { allow: [`${serviceInboxPrefix(service)}.>`] },
      },
    ];
  });
  return Object.fromEntries(entries) as Record<ServiceName, NatsUserPermissions>;
}
