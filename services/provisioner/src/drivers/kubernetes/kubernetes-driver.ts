import { createHash, randomBytes } from "node:crypto";
import { applyObject, connectKube, readObject } from "@dbplane/kube";
import { createScramVerifier } from "@dbplane/pgwire";
import { RESHARD_ROLE } from "@dbplane/reshard";
import type { Logger } from "@dbplane/service-kit";
import {
  type KubernetesObject,
  loadYaml,
  type V1Job,
  type V1Secret,
  type V1StatefulSet,
} from "@kubernetes/client-node";
import {
  APP_USER,
  type AppSecret,
  appCredentialEntries,
  newAppSecret,
  type RouterWireEndpoint,
} from "../../domain/application-role.ts";
import { PermanentProvisionError } from "../../domain/errors.ts";
import { MONITOR_USER } from "../../domain/monitoring-role.ts";
import { assertSupportedVersion } from "../../domain/postgres-version.ts";
import type { BackupOutcome, ShardDriver, ShardObservation } from "../driver.ts";
import { appSecretName } from "./app-role-container.ts";
import { type BackupTarget, backupJob, backupLocation } from "./backup-job.ts";
import { prunableLocations, pruneJob } from "./backup-prune-job.ts";
/** The one field manager of everything the provisioner applies. */
import { namespaceObjects } from "./namespace-objects.ts";
import { type SecretReaders, secretReaderRoles } from "./secret-readers.ts";
import { loadShardCa } from "./shard-ca-store.ts";
import {
  type ShardTlsSource,
  shardCertificate,
  shardDnsNames,
  shardServerTls,
  shardTlsSecret,
} from "./shard-certificates.ts";
import {
  DATABASE_LABEL,
  MANAGED_BY,
  type ShardNetwork,
  SUPERUSER,
  shardLabels,
  shardManifests,
  shardNames,
} from "./shard-manifests.ts";
export const FIELD_MANAGER = "dbplane-provisioner";

export interface KubernetesDriverOptions {
  /** Kubeconfig path; client-node's default order (KUBECONFIG, ~/.kube/config, in-cluster) when absent. */
  readonly kubeconfig: string | undefined;
  readonly namespace: string;
  /** Image repository; the tag is the PostgreSQL major version (`postgres:17`). */
  readonly image: string;
  /** Where backup Jobs upload dumps; backups fail with a clear reason when absent. */
  readonly backup: BackupTarget | undefined;
  /** The router's wire endpoint, for the `uri` and `jdbc-uri` in each database's `<db>-app` Secret. */
  readonly router: RouterWireEndpoint;
  /** pg_hba's pod CIDRs and the platform namespace each shard's NetworkPolicy admits. */
  readonly network: ShardNetwork;
  /** Who gets a per-shard Role to read its Secrets by name; undefined: no Role is made. */
  readonly readers: SecretReaders | undefined;
  /** Where each shard's server certificate comes from (the shards serve TLS either way). */
  readonly tls: ShardTlsSource;
  readonly logger: Logger;
}

/**
 * A manifest in the API's JSON as client-node's typed model, which its serializer expects: the
 * model renames some fields (a NetworkPolicy rule's `from` is `_from`), and a plain object's
 * `from` would be dropped on the way to the server. JSON is YAML, so client-node's own loader does it.
 */
const asClientModel = (manifest: KubernetesObject): KubernetesObject =>
  loadYaml<KubernetesObject>(JSON.stringify(manifest));

/** Kinds the provisioner creates, in the order delete removes them (workload first). */
const BUILT_IN_KINDS = [
  { apiVersion: "batch/v1", kind: "Job" },
  { apiVersion: "apps/v1", kind: "StatefulSet" },
  { apiVersion: "policy/v1", kind: "PodDisruptionBudget" },
  { apiVersion: "v1", kind: "Service" },
  { apiVersion: "v1", kind: "ConfigMap" },
  // Before the Secrets: cert-manager would otherwise issue a deleted `-tls` Secret again.
  { apiVersion: "cert-manager.io/v1", kind: "Certificate" },
  { apiVersion: "v1", kind: "Secret" },
  { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy" },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding" },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role" },
] as const;

/**
 * Shards as Kubernetes objects: per shard a StatefulSet (its pods spread over nodes) and its
 * PodDisruptionBudget, three Services (primary, read, headless
 * for pod DNS), a credentials Secret, a ConfigMap and the server's certificate (a `-tls` Secret,
 * or a cert-manager Certificate that makes it), and per database the application's
 * `<db>-app` Secret, all server-side applied under one field
 * manager with force on every pass — so drift (a deleted Service, a hand-edited replica count) is
 * repaired by the next reconcile, and an unchanged pass changes nothing on the server.
 */
export async function createKubernetesDriver(options: KubernetesDriverOptions): Promise<ShardDriver> {
  const { objects } = connectKube(options.kubeconfig);
  const { namespace, tls } = options;
  // Certificates are listed (for delete) only where cert-manager serves them.
  const ownedKinds = BUILT_IN_KINDS.filter((k) => k.kind !== "Certificate" || tls.kind === "cert-manager");

  const { secretData, keptSecret, deleteLabelled } = namespaceObjects(objects, namespace, options.logger);

  /**
   * The shard's superuser password and its monitoring role's password and verifier: kept from
   * their Secrets when they are there, else fresh random ones.
   */
  const passwordsOf = async (
    names: ReturnType<typeof shardNames>,
  ): Promise<{ password: string; monitor: AppSecret; reshard: AppSecret }> => {
    const credentials = await secretData(names.secret);
    return {
      password: credentials.password || randomBytes(32).toString("base64url"),
      monitor: await keptSecret(names.monitorSecret),
      reshard: await keptSecret(names.reshardSecret),
    };
  };

  /**
   * The shard's certificate objects, applied before its StatefulSet: with cert-manager a
   * Certificate (cert-manager makes the key and the `-tls` Secret); else the `-tls` Secret itself,
   * its certificate and key kept while still good, and a revision that rolls the pods when renewed.
   */
  const tlsOf = async (
    database: string,
    shard: number,
  ): Promise<{ manifests: KubernetesObject[]; revision: string | undefined }> => {
    if (tls.kind === "cert-manager")
      return { manifests: [shardCertificate(database, shard, namespace, tls)], revision: undefined };
    const names = shardNames(database, shard);
    const data = shardServerTls(
      await secretData(names.tlsSecret),
      await loadShardCa(objects, tls, FIELD_MANAGER, options.logger),
      shardDnsNames(database, shard, namespace),
    );
    return {
      manifests: [shardTlsSecret(database, shard, namespace, data)],
      revision: createHash("sha256").update(data["tls.crt"]).digest("hex").slice(0, 16),
    };
  };

  /** The application's password and verifier: kept from the `<db>-app` Secret when it has them. */
  const appSecretOf = async (database: string): Promise<AppSecret> => {
    const secret = await readObject<V1Secret>(objects, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: appSecretName(database), namespace },
    });
    const decode = (v: string | undefined) => (v ? Buffer.from(v, "base64").toString("utf8") : undefined);
    const password = decode(secret?.data?.password);
    if (!password) return newAppSecret();
    return { password, verifier: decode(secret?.data?.verifier) ?? createScramVerifier(password) };
  };

  /** Deletes every object of `kinds` carrying `labels` (only what dbplane labelled). */
  const withVolumes = [...ownedKinds, { apiVersion: "v1", kind: "PersistentVolumeClaim" }] as const;

  return {
    kind: "kubernetes",
    async preflight(spec) {
      assertSupportedVersion(spec);
    },

    async ensureApplication(spec) {
      const name = appSecretName(spec.name);
      const secret = await appSecretOf(spec.name);
      const entries = appCredentialEntries(spec.name, secret, options.router);
      const data = Object.fromEntries(
        Object.entries(entries).map(([key, value]) => [key, Buffer.from(value).toString("base64")]),
      );
      // The type of CloudNativePG's app Secret; `data`, so re-applying the same values is a no-op.
      await applyObject(
        objects,
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name, namespace, labels: { ...MANAGED_BY, [DATABASE_LABEL]: spec.name } },
          type: "kubernetes.io/basic-auth",
          data,
        } as V1Secret,
        FIELD_MANAGER,
      );
      return {
        role: {
          user: APP_USER,
          passwordRef: { kind: "secret", namespace, name, key: "password" },
          verifierRef: { kind: "secret", namespace, name, key: "verifier" },
        },
        verifier: secret.verifier,
      };
    },

    // The application role is made inside each pod (app-role container) from the Secret above.
    async ensureShard(target): Promise<ShardObservation> {
      const names = shardNames(target.spec.name, target.shard);
      const { password, monitor, reshard } = await passwordsOf(names);
      const shardTls = await tlsOf(target.spec.name, target.shard);
      let statefulSet: V1StatefulSet | undefined;
      const manifests = [
        ...shardTls.manifests,
        ...shardManifests({
          ...target,
          namespace,
          image: options.image,
          password,
          monitor,
          reshard,
          network: options.network,
          tlsRevision: shardTls.revision,
          verifyInShard: tls.kind === "provisioner-ca",
        }),
        ...(options.readers
          ? secretReaderRoles(target.spec.name, target.shard, namespace, options.readers)
          : []),
      ];
      for (const manifest of manifests) {
        const applied = await applyObject(objects, asClientModel(manifest), FIELD_MANAGER);
        if (manifest.kind === "StatefulSet") statefulSet = applied as V1StatefulSet;
      }
      const want = 1 + target.replicas;
      const status = statefulSet?.status;
      const generation = statefulSet?.metadata?.generation ?? 0;
      if (!status || (status.observedGeneration ?? 0) < generation || (status.readyReplicas ?? 0) < want) {
        return {
          ready: false,
          waitingFor: `StatefulSet ${names.statefulSet}: ${status?.readyReplicas ?? 0}/${want} ready`,
        };
      }
      const svc = (name: string) => `${name}.${namespace}.svc`;
      return {
        ready: true,
        endpoint: {
          primary: { host: svc(names.service), port: 5432 },
          replicas: Array.from({ length: target.replicas }, (_, i) => ({
            host: `${names.statefulSet}-${i + 1}.${svc(names.headlessService)}`,
            port: 5432,
          })),
          dbname: target.spec.name,
          user: SUPERUSER,
          passwordRef: { kind: "secret", namespace, name: names.secret, key: "password" },
          monitoring: {
            user: MONITOR_USER,
            passwordRef: { kind: "secret", namespace, name: names.monitorSecret, key: "password" },
          },
          reshard: {
            user: RESHARD_ROLE,
            passwordRef: { kind: "secret", namespace, name: names.reshardSecret, key: "password" },
          },
        },
      };
    },

    // The shard served no key: its PVCs go too, or a shard added again under the index would
    // start from the old volume (a StatefulSet reuses claims by name).
    async removeShard(spec, shard) {
      await deleteLabelled(shardLabels(spec.name, shard), withVolumes);
    },

    async removeDatabase(database, { keepVolumes }) {
      await deleteLabelled(
        { ...MANAGED_BY, [DATABASE_LABEL]: database },
        keepVolumes ? ownedKinds : withVolumes,
      );
    },

    async backupShard(target, backupId): Promise<BackupOutcome> {
      if (!options.backup) {
        throw new PermanentProvisionError(
          "backups on Kubernetes need an S3-compatible target: set DBPLANE_BACKUP_S3_URL (and DBPLANE_BACKUP_S3_ENDPOINT / DBPLANE_BACKUP_S3_SECRET as needed)",
        );
      }
      const manifest = backupJob({
        ...target,
        backupId,
        namespace,
        image: options.image,
        target: options.backup,
        verifyInShard: tls.kind === "provisioner-ca",
      });
      const job = (await applyObject(objects, manifest, FIELD_MANAGER)) as V1Job;
      const conditions = job.status?.conditions ?? [];
      const failed = conditions.find((c) => c.type === "Failed" && c.status === "True");
      if (failed)
        throw new Error(
          `backup Job ${manifest.metadata?.name} failed: ${failed.reason ?? ""} ${failed.message ?? ""}`.trim(),
        );
      if ((job.status?.succeeded ?? 0) < 1)
        return { done: false, waitingFor: `Job ${manifest.metadata?.name}` };
      // The size lives in S3, not in the Job's status; 0 says "not measured".
      return {
        done: true,
        location: backupLocation(options.backup, target.spec.name, target.shard, backupId),
        bytes: 0,
      };
    },

    backupKind: "dump",
    // A dump needs no WAL: only the expired files go, by a Job in the namespace (the provisioner
    // itself holds no S3 credentials). Done when the Job succeeded.
    async pruneBackups(spec, shard, expired) {
      if (!options.backup) return true;
      const locations = prunableLocations(options.backup, spec.name, shard, expired);
      if (locations.length === 0) return true;
      const manifest = pruneJob({ spec, shard, locations, namespace, target: options.backup });
      const job = (await applyObject(objects, manifest, FIELD_MANAGER)) as V1Job;
      const failed = job.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True");
      if (failed)
        throw new Error(
          `prune Job ${manifest.metadata?.name} failed: ${failed.reason ?? ""} ${failed.message ?? ""}`.trim(),
        );
      return (job.status?.succeeded ?? 0) >= 1;
    },

    async close() {},
  };
}
