import { applyObject, connectKube, listLabelled, readObject } from "@dbplane/kube";
import { RESHARD_ROLE } from "@dbplane/reshard";
import type { Logger } from "@dbplane/service-kit";
import { type KubernetesObject, loadYaml, PatchStrategy, type V1Secret } from "@kubernetes/client-node";
import { APP_USER, appCredentialEntries, type RouterWireEndpoint } from "../../domain/application-role.ts";
import { PermanentProvisionError } from "../../domain/errors.ts";
import { MONITOR_USER } from "../../domain/monitoring-role.ts";
import { assertSupportedVersion } from "../../domain/postgres-version.ts";
import type { ShardDriver, ShardObservation, ShardTarget } from "../driver.ts";
import { appSecretName } from "../kubernetes/app-role-container.ts";
import { FIELD_MANAGER } from "../kubernetes/kubernetes-driver.ts";
import { namespaceObjects } from "../kubernetes/namespace-objects.ts";
import { type SecretReaders, secretReaderRoles } from "../kubernetes/secret-readers.ts";
import { loadShardCa } from "../kubernetes/shard-ca-store.ts";
import { shardServerTls, shardTlsSecret } from "../kubernetes/shard-certificates.ts";
import { DATABASE_LABEL, MANAGED_BY, shardLabels, shardNames } from "../kubernetes/shard-manifests.ts";
import { backupManifest, backupOutcome, type CnpgBackupStatus } from "./backup-manifest.ts";
import {
  CNPG_API_VERSION,
  CNPG_HEALTHY,
  type CnpgBackupStore,
  clusterManifest,
  cnpgDnsNames,
  cnpgNames,
  isRestoredShard,
  RESHARD_LEFTOVERS_REMOVED,
  roleSecret,
} from "./cluster-manifest.ts";

export interface CloudNativePgDriverOptions {
  readonly kubeconfig: string | undefined;
  readonly namespace: string;
  /** CloudNativePG operand image repository; the tag is the major version. */
  readonly image: string;
  readonly backup: CnpgBackupStore | undefined;
  readonly router: RouterWireEndpoint;
  readonly readers: SecretReaders | undefined;
  /** The provisioner's shard CA (namespace and name of its Secret); absent: CloudNativePG's own CA. */
  readonly shardCa: { readonly namespace: string; readonly name: string } | undefined;
  readonly logger: Logger;
}

/** The label CloudNativePG puts on each of a Cluster's pods and PVCs. */
const CNPG_CLUSTER_LABEL = "cnpg.io/cluster";

/** CloudNativePG's Cluster status, as far as dbplane reads it. */
interface ClusterStatus {
  readonly phase?: string;
  readonly readyInstances?: number;
  readonly currentPrimary?: string;
}

/** Kinds the driver makes, in the order delete removes them (the Cluster takes its pods and PVCs). */
const OWNED_KINDS = [
  { apiVersion: CNPG_API_VERSION, kind: "Backup" },
  { apiVersion: CNPG_API_VERSION, kind: "Cluster" },
  { apiVersion: "v1", kind: "Secret" },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding" },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role" },
] as const;

/**
 * Shards as CloudNativePG `Cluster`s: the operator runs the servers, replication and failover;
 * dbplane applies one Cluster per shard (server-side apply, one field manager, so drift is
 * repaired on the next pass), the Secrets of its managed roles, and reads readiness from the
 * Cluster's status. The endpoint is the Cluster's `-rw` Service, which CloudNativePG points at
 * whichever instance is primary, so a failover changes no endpoint.
 */
export async function createCloudNativePgDriver(options: CloudNativePgDriverOptions): Promise<ShardDriver> {
  const { objects } = connectKube(options.kubeconfig);
  const { namespace } = options;

  const {
    secretData,
    keptSecret,
    deleteLabelled: deleteKinds,
  } = namespaceObjects(objects, namespace, options.logger);
  // As client-node's typed model, which its serializer expects (the kubernetes driver does the same).
  const apply = (manifest: KubernetesObject) =>
    applyObject(objects, loadYaml<KubernetesObject>(JSON.stringify(manifest)), FIELD_MANAGER);

  const deleteLabelled = (labels: Record<string, string>) => deleteKinds(labels, OWNED_KINDS);

  /**
   * CloudNativePG's PVCs are owned by their Cluster, so the garbage collector deletes them with
   * it; without that owner reference they stay (for a person to recover from).
   */
  const keepClaims = async (cluster: string): Promise<void> => {
    const claims = await listLabelled(objects, "v1", "PersistentVolumeClaim", namespace, {
      [CNPG_CLUSTER_LABEL]: cluster,
    });
    for (const claim of claims) {
      const name = claim.metadata?.name;
      if (!name) continue;
      await objects.patch(
        {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: { name, namespace, ownerReferences: null },
        } as never,
        undefined,
        undefined,
        FIELD_MANAGER,
        undefined,
        PatchStrategy.MergePatch,
      );
      options.logger.info({ cluster, name }, "volume kept: owner reference to its Cluster removed");
    }
  };

  /**
   * Whether a restored shard's Cluster says its reshard leftovers are removed; a shard not
   * restored has none. Read before each apply, so a person's annotation takes effect next pass.
   */
  const leftoversRemoved = async (target: ShardTarget): Promise<boolean> => {
    if (!isRestoredShard({ ...target, backup: options.backup })) return true;
    const name = cnpgNames(target.spec.name, target.shard).cluster;
    const cluster = await readObject(objects, {
      apiVersion: CNPG_API_VERSION,
      kind: "Cluster",
      metadata: { name, namespace },
    });
    return cluster?.metadata?.annotations?.[RESHARD_LEFTOVERS_REMOVED] === "true";
  };
  /** Restored Clusters already warned about in this process (one warning each, not one per pass). */
  const warnedLeftovers = new Set<string>();

  return {
    kind: "cloudnativepg",
    // CloudNativePG runs the bootstrap SQL once and a failure there leaves the Cluster never
    // coming up; the reshard grants use `GRANT SET ON PARAMETER`, which PostgreSQL 15 added.
    async preflight(spec) {
      assertSupportedVersion(spec);
    },

    // The same `<db>-app` Secret as the kubernetes driver's; CloudNativePG's initdb reads its
    // `username` and `password` and keeps the owner's password in step with it.
    async ensureApplication(spec) {
      const name = appSecretName(spec.name);
      const secret = await keptSecret(name);
      const entries = appCredentialEntries(spec.name, secret, options.router);
      await apply({
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name,
          namespace,
          labels: { ...MANAGED_BY, [DATABASE_LABEL]: spec.name, "cnpg.io/reload": "true" },
        },
        type: "kubernetes.io/basic-auth",
        data: Object.fromEntries(
          Object.entries(entries).map(([k, v]) => [k, Buffer.from(v).toString("base64")]),
        ),
      } as V1Secret);
      return {
        role: {
          user: APP_USER,
          passwordRef: { kind: "secret", namespace, name, key: "password" },
          verifierRef: { kind: "secret", namespace, name, key: "verifier" },
        },
        verifier: secret.verifier,
      };
    },

    async ensureShard(target): Promise<ShardObservation> {
      const { spec, shard } = target;
      const names = cnpgNames(spec.name, shard);
      const app = await keptSecret(appSecretName(spec.name));
      const secrets = [
        roleSecret(spec.name, shard, namespace, names.appSecret, APP_USER, app),
        roleSecret(
          spec.name,
          shard,
          namespace,
          names.monitorSecret,
          MONITOR_USER,
          await keptSecret(names.monitorSecret),
        ),
        roleSecret(
          spec.name,
          shard,
          namespace,
          names.reshardSecret,
          RESHARD_ROLE,
          await keptSecret(names.reshardSecret),
        ),
      ];
      const tlsSecret = options.shardCa ? shardNames(spec.name, shard).tlsSecret : undefined;
      if (options.shardCa && tlsSecret) {
        const data = shardServerTls(
          await secretData(tlsSecret),
          await loadShardCa(objects, options.shardCa, FIELD_MANAGER, options.logger),
          cnpgDnsNames(spec.name, shard, namespace),
        );
        secrets.push(shardTlsSecret(spec.name, shard, namespace, data));
      }
      const readers = options.readers ? secretReaderRoles(spec.name, shard, namespace, options.readers) : [];
      for (const manifest of [...secrets, ...readers]) await apply(manifest);
      const removed = await leftoversRemoved(target);
      const cluster = await apply(
        clusterManifest({
          ...target,
          namespace,
          image: options.image,
          backup: options.backup,
          tlsSecret,
          leftoversRemoved: removed,
        }),
      );
      const status = (cluster as { status?: ClusterStatus }).status;
      const want = 1 + target.replicas;
      const ready = status?.readyInstances ?? 0;
      if (status?.phase !== CNPG_HEALTHY || ready !== want) {
        return {
          ready: false,
          waitingFor: `Cluster ${names.cluster}: ${status?.phase ?? "no status yet"}, ${ready}/${want} instances ready`,
        };
      }
      if (!removed && options.backup && !warnedLeftovers.has(names.cluster)) {
        warnedLeftovers.add(names.cluster);
        options.logger.warn(
          { database: spec.name, shard, cluster: names.cluster, annotation: RESHARD_LEFTOVERS_REMOVED },
          "restored Cluster runs with max_logical_replication_workers=0: a reshard running at the restored moment may have left its subscription, publications, roles, hiding policies and other shards' rows, which dbplane does not remove on CloudNativePG yet; remove them (README, Restored mid-reshard), then annotate the Cluster to get logical replication back",
        );
      }
      const svc = (name: string) => `${name}.${namespace}.svc`;
      const secretRef = (name: string) => ({ kind: "secret" as const, namespace, name, key: "password" });
      return {
        ready: true,
        endpoint: {
          // The `-rw` Service follows `status.currentPrimary`: a failover moves nothing here.
          primary: { host: svc(names.readWriteService), port: 5432 },
          replicas: target.replicas > 0 ? [{ host: svc(names.readOnlyService), port: 5432 }] : [],
          // A restored database keeps its source's name inside the recovered cluster.
          dbname: spec.restoreFrom?.database ?? spec.name,
          user: APP_USER,
          passwordRef: secretRef(names.appSecret),
          monitoring: { user: MONITOR_USER, passwordRef: secretRef(names.monitorSecret) },
          reshard: { user: RESHARD_ROLE, passwordRef: secretRef(names.reshardSecret) },
        },
      };
    },

    async removeShard(spec, shard) {
      await deleteLabelled(shardLabels(spec.name, shard));
    },

    async removeDatabase(database, { keepVolumes }) {
      const labels = { ...MANAGED_BY, [DATABASE_LABEL]: database };
      if (keepVolumes) {
        for (const cluster of await listLabelled(objects, CNPG_API_VERSION, "Cluster", namespace, labels)) {
          const name = cluster.metadata?.name;
          if (name) await keepClaims(name);
        }
      }
      await deleteLabelled(labels);
    },

    async backupShard(target, backupId) {
      if (!options.backup) {
        throw new PermanentProvisionError(
          "backups with CloudNativePG need its object store: set DBPLANE_BACKUP_S3_URL (and DBPLANE_BACKUP_S3_ENDPOINT / DBPLANE_BACKUP_S3_SECRET as needed)",
        );
      }
      const manifest = backupManifest(target.spec.name, target.shard, namespace, backupId);
      const backup = await apply(manifest);
      return backupOutcome(String(manifest.metadata?.name), (backup as { status?: CnpgBackupStatus }).status);
    },

    async close() {},
  };
}
