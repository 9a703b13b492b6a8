import { RESHARD_ROLE, reshardAccessStatements } from "@dbplane/reshard";
import type { KubernetesObject } from "@kubernetes/client-node";
import { APP_USER, type AppSecret } from "../../domain/application-role.ts";
import { MONITOR_USER } from "../../domain/monitoring-role.ts";
import type { ShardTarget } from "../driver.ts";
import { appSecretName } from "../kubernetes/app-role-container.ts";
import { shardLabels, shardNames } from "../kubernetes/shard-manifests.ts";

export const CNPG_API_VERSION = "postgresql.cnpg.io/v1";
/** What CloudNativePG's status says of a cluster whose instances are all up and replicating. */
export const CNPG_HEALTHY = "Cluster in healthy state";
const PORT = 5432;

/**
 * Names of one shard's objects: the Cluster is `<db>-shard-<n>`, as the other drivers' shards, so
 * CloudNativePG's Services are `<db>-shard-<n>-rw` / `-ro` and every Secret dbplane makes for the
 * shard matches the `<db>-shard-<n>-<word>` the router and collector accept.
 */
export function cnpgNames(database: string, shard: number) {
  const { statefulSet: cluster, monitorSecret, reshardSecret } = shardNames(database, shard);
  return {
    cluster,
    readWriteService: `${cluster}-rw`,
    readOnlyService: `${cluster}-ro`,
    /** The application role's password for the shard's endpoint (the router and collector accept only shard-scoped refs). */
    appSecret: `${cluster}-app`,
    monitorSecret,
    reshardSecret,
  };
}

/**
 * The names a shard's server certificate carries (clients verify-full): CloudNativePG's `-rw`,
 * `-ro` and `-r` Services, short, namespaced and `.svc`.
 */
export function cnpgDnsNames(database: string, shard: number, namespace: string): string[] {
  const { cluster } = cnpgNames(database, shard);
  return ["rw", "ro", "r"].flatMap((suffix) => {
    const svc = `${cluster}-${suffix}`;
    return [svc, `${svc}.${namespace}`, `${svc}.${namespace}.svc`];
  });
}

/** Where a shard's base backups and WAL go: CloudNativePG's barman-cloud object store. */
export interface CnpgBackupStore {
  /** `s3://bucket/prefix`: each database under `<url>/<db>`, each shard under its Cluster's name. */
  readonly url: string;
  readonly endpoint: string | undefined;
  /** Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; absent: the pod's IAM role. */
  readonly credentialsSecret: string | undefined;
}

export interface ClusterManifestInput extends ShardTarget {
  readonly namespace: string;
  /** Image repository of CloudNativePG's operand images; the tag is the major version. */
  readonly image: string;
  readonly backup: CnpgBackupStore | undefined;
  /** The shard's `kubernetes.io/tls` Secret (with `ca.crt`) from the provisioner's CA; absent: CloudNativePG's own CA. */
  readonly tlsSecret: string | undefined;
  /**
   * A restored shard whose reshard leftovers a person has removed (the Cluster carries
   * RESHARD_LEFTOVERS_REMOVED): it gets its logical replication workers back.
   */
  readonly leftoversRemoved?: boolean;
}

/**
 * The annotation a person sets on a restored Cluster (`"true"`) once its reshard leftovers are
 * removed; until then it runs with no logical replication worker (restoredParameters).
 */
export const RESHARD_LEFTOVERS_REMOVED = "dbplane.io/reshard-leftovers-removed";

/** The barman object store of a database's shards, as Cluster and Backup name it. */
export function destinationPath(store: CnpgBackupStore, database: string): string {
  return `${store.url.replace(/\/+$/, "")}/${database}`;
}

/**
 * barman's server name of a shard's archive (its folder under destinationPath): the Cluster's name
 * for the first database of a name, `<cluster>-incarnation-<k>` for the k-th made under it after
 * deletes — a new Cluster finds its archive empty (CloudNativePG refuses to archive into one that
 * is not) and never mixes its WAL with a deleted one's that it may still be restored from.
 */
export function archiveServerName(database: string, shard: number, incarnation = 1): string {
  const { cluster } = cnpgNames(database, shard);
  return incarnation > 1 ? `${cluster}-incarnation-${incarnation}` : cluster;
}

/** The server name in a base backup's location (`<destinationPath>/<serverName>/base/<backupId>`). */
export function serverNameOf(location: string): string | undefined {
  return /\/([^/]+)\/base\/[^/]+$/.exec(location)?.[1];
}

function barmanObjectStore(store: CnpgBackupStore, database: string) {
  const key = (name: string) => ({ name: store.credentialsSecret, key: name });
  return {
    destinationPath: destinationPath(store, database),
    ...(store.endpoint ? { endpointURL: store.endpoint } : {}),
    s3Credentials: store.credentialsSecret
      ? { accessKeyId: key("AWS_ACCESS_KEY_ID"), secretAccessKey: key("AWS_SECRET_ACCESS_KEY") }
      : { inheritFromIAMRole: true },
    wal: { compression: "gzip" },
    data: { compression: "gzip" },
  };
}

/**
 * The reshard role's grants and SECURITY DEFINER subscription wrappers, run by CloudNativePG as
 * the superuser in the database right after bootstrap (`postInitApplicationSQL`). The role is made
 * here without login so the grants can name it; CloudNativePG's managed roles then give it its
 * attributes and the password of its Secret, and keep them. `reshardAccessStatements`' first
 * statement (the role's attributes and verifier) is left out: no verifier belongs in a Cluster's spec.
 * A subscription may reach only the same database's shard primaries, as their `-rw` Services.
 */
export function reshardBootstrapSql(database: string, namespace: string): string[] {
  const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const access = {
    owner: APP_USER,
    publishers: [
      { hostPattern: `^${escaped(database)}-shard-[0-9]+-rw\\.${escaped(namespace)}\\.svc$`, port: PORT },
    ],
  };
  return [`CREATE ROLE ${RESHARD_ROLE} NOLOGIN`, ...reshardAccessStatements(access, "", true).slice(1)];
}

/** A managed role's own Secret, as CloudNativePG reads it: `username` (the role) and `password`. */
export function roleSecret(
  database: string,
  shard: number,
  namespace: string,
  name: string,
  user: string,
  secret: AppSecret,
): KubernetesObject {
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  return {
    apiVersion: "v1",
    kind: "Secret",
    // `cnpg.io/reload`: CloudNativePG applies a changed password without a restart.
    metadata: { name, namespace, labels: { ...shardLabels(database, shard), "cnpg.io/reload": "true" } },
    type: "kubernetes.io/basic-auth",
    data: { username: b64(user), password: b64(secret.password), verifier: b64(secret.verifier) },
  } as KubernetesObject;
}

/**
 * One shard as a CloudNativePG `Cluster`: 1 + replicas instances, the database owned by the
 * application role from the database's `<db>-app` Secret (`bootstrap.initdb`), logical WAL for
 * resharding, the monitoring and reshard roles as managed roles, no superuser access (CloudNativePG
 * then makes no `-superuser` Secret), and the object store when backups are configured.
 */
export function clusterManifest(input: ClusterManifestInput): KubernetesObject {
  const { spec, shard, namespace } = input;
  const names = cnpgNames(spec.name, shard);
  const { cpu, memory } = spec.resources ?? {};
  return {
    apiVersion: CNPG_API_VERSION,
    kind: "Cluster",
    metadata: { name: names.cluster, namespace, labels: shardLabels(spec.name, shard) },
    spec: {
      instances: 1 + input.replicas,
      imageName: `${input.image}:${spec.postgresVersion}`,
      enableSuperuserAccess: false,
      // The server presents the provisioner's certificate, so the router and collector verify it
      // with the same CA as on the kubernetes driver; CloudNativePG keeps its own CAs for
      // replication and client certificates.
      ...(input.tlsSecret
        ? { certificates: { serverTLSSecret: input.tlsSecret, serverCASecret: input.tlsSecret } }
        : {}),
      storage: {
        size: spec.storage.size,
        ...(spec.storage.storageClass && { storageClass: spec.storage.storageClass }),
      },
      ...(cpu || memory
        ? {
            resources: {
              requests: { ...(cpu && { cpu }), ...(memory && { memory }) },
              ...(memory && { limits: { memory } }),
            },
          }
        : {}),
      postgresql: {
        parameters: { wal_level: "logical", ...restoredParameters(input) },
        // Synchronous mode: CloudNativePG's own quorum (ANY n of the standbys), capped at the
        // standbys there are, so a commit never waits for one that does not exist.
        ...(spec.synchronous && input.replicas > 0
          ? {
              synchronous: {
                method: "any",
                number: Math.min(spec.synchronous.replicas, input.replicas),
                dataDurability: "required",
              },
            }
          : {}),
      },
      ...bootstrapOf(input),
      managed: {
        roles: [
          {
            name: MONITOR_USER,
            ensure: "present",
            login: true,
            inRoles: ["pg_monitor"],
            passwordSecret: { name: names.monitorSecret },
          },
          {
            name: RESHARD_ROLE,
            ensure: "present",
            login: true,
            replication: true,
            bypassrls: true,
            inRoles: [APP_USER],
            passwordSecret: { name: names.reshardSecret },
          },
        ],
      },
      ...(input.backup
        ? {
            backup: {
              barmanObjectStore: {
                ...barmanObjectStore(input.backup, spec.name),
                ...((input.incarnation ?? 1) > 1 && {
                  serverName: archiveServerName(spec.name, shard, input.incarnation),
                }),
              },
              // Days are all barman keeps by; a count is refused at the create (DriverSupport).
              ...(spec.backup?.retain.days && { retentionPolicy: `${spec.backup.retain.days}d` }),
            },
          }
        : {}),
    },
  } as KubernetesObject;
}

/**
 * A restore of a moment inside a reshard brings back its subscription, still enabled: its apply
 * worker would connect to the LIVE source and consume the live move's slot. So a restored shard
 * starts with no logical replication worker at all, and keeps none until its leftovers are removed
 * (README, "Restored mid-reshard"); the driver does not remove them yet. The worker limit is read at
 * server start only: CloudNativePG restarts the instances when the parameter goes.
 */
function restoredParameters(input: ClusterManifestInput): Record<string, string> {
  return isRestoredShard(input) && !input.leftoversRemoved ? { max_logical_replication_workers: "0" } : {};
}

/**
 * Whether this shard's Cluster recovers from the source's backup: the restored database's shards
 * that the backup had. A shard a split adds later has no backup of its own: it is made new (its
 * database named as the recovered ones, so every shard's endpoint names the same database).
 */
export function isRestoredShard(input: Pick<ClusterManifestInput, "spec" | "shard" | "backup">): boolean {
  const from = input.spec.restoreFrom;
  return from !== undefined && input.backup !== undefined && input.shard < from.bases.length;
}

/** The source a restored shard recovers from, as the Cluster's `externalClusters` names it. */
const RESTORE_SOURCE = "dbplane-restore-source";

/**
 * How a shard's first instance is made: `initdb` for a new database; for a restore, CloudNativePG's
 * recovery bootstrap from the source shard's object store (its Cluster's name is barman's server
 * name), to the restore's moment — the same for every shard. The recovered database keeps the
 * source's name (CloudNativePG does not rename it), and the shard's endpoint says so.
 */
function bootstrapOf(input: ClusterManifestInput) {
  const { spec, shard, namespace } = input;
  const from = spec.restoreFrom;
  if (from && input.backup && isRestoredShard(input)) {
    return {
      bootstrap: {
        recovery: {
          source: RESTORE_SOURCE,
          database: from.database,
          owner: APP_USER,
          secret: { name: appSecretName(spec.name) },
          recoveryTarget: { targetTime: from.targetTime },
        },
      },
      externalClusters: [
        {
          name: RESTORE_SOURCE,
          barmanObjectStore: {
            ...barmanObjectStore(input.backup, from.database),
            // The source's archive: where its base backup is (a later incarnation's has its own name).
            serverName: serverNameOf(from.bases[shard] ?? "") ?? archiveServerName(from.database, shard),
          },
        },
      ],
    };
  }
  return {
    bootstrap: {
      initdb: {
        database: from?.database ?? spec.name,
        owner: APP_USER,
        secret: { name: appSecretName(spec.name) },
        postInitApplicationSQL: reshardBootstrapSql(spec.name, namespace),
      },
    },
  };
}
