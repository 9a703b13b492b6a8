import { quantity } from "@dbplane/contracts";
import { authEnv, baseEnv, configLoader, envVar, postgresEnv } from "@dbplane/service-kit";
import { z } from "zod";
import type { Quotas } from "./domain/quotas.ts";

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** The provisioner's environment (STYLE.md §4): parsed once, every problem listed, exit 78. */
export const configSchema = z.object({
  ...baseEnv,
  ...authEnv,
  ...postgresEnv,
  DBPLANE_PROVISIONER_SCHEMA: envVar
    .identifier()
    .default("provisioner")
    .describe("PostgreSQL schema the provisioner owns in the platform database."),
  DBPLANE_PROVISIONER_DRIVER: z
    .enum(["local", "kubernetes", "cloudnativepg"])
    .default("local")
    .describe(
      "Where shards run: real clusters on this machine (`local`), StatefulSets dbplane manages in a Kubernetes cluster (`kubernetes`), or one CloudNativePG `Cluster` per shard, the operator running servers, replication and failover (`cloudnativepg`; the operator must be installed).",
    ),
  DBPLANE_DATA_DIR: z
    .string()
    .min(1)
    .default("./.data")
    .describe("Local driver: clusters live under `<dir>/clusters`, backups under `<dir>/backups`."),
  DBPLANE_PG_BIN_DIR: z
    .string()
    .min(1)
    .optional()
    .describe("Local driver: directory searched first for initdb, pg_ctl, pg_basebackup and pg_dump."),
  DBPLANE_PG_OS_USER: z
    .string()
    .min(1)
    .default("postgres")
    .describe(
      "Local driver, when running as root: the OS user the PostgreSQL servers run as (initdb refuses root).",
    ),
  DBPLANE_KUBECONFIG: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Kubernetes and CloudNativePG drivers: kubeconfig path; unset: KUBECONFIG, ~/.kube/config or in-cluster.",
    ),
  // The chart grants the provisioner's Role in the pod's own namespace.
  DBPLANE_KUBE_NAMESPACE: envVar
    .dnsLabel()
    .optional()
    .describe(
      "Kubernetes and CloudNativePG drivers: namespace of the shards' objects; unset: the pod's own, or `default` outside a cluster.",
    ),
  DBPLANE_KUBE_POD_CIDRS: envVar
    .list(z.union([z.cidrv4(), z.cidrv6()]), "must be comma-separated CIDRs (10.244.0.0/16,fd00::/8)")
    .refine((cidrs) => cidrs.length > 0, "must name at least one CIDR")
    .prefault("10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7")
    .describe(
      "Kubernetes driver: the only networks a shard's pg_hba accepts TCP logins from; set the cluster's pod CIDRs (the default is every private range).",
    ),
  DBPLANE_KUBE_PLATFORM_NAMESPACE: envVar
    .dnsLabel()
    .optional()
    .describe(
      "Kubernetes driver: namespace of the router, collector and provisioner pods (labelled dbplane.io/shard-client=true) that each shard's NetworkPolicy admits; Kubernetes and CloudNativePG drivers: namespace of the DBPLANE_KUBE_SECRET_READERS and of the shard CA (DBPLANE_KUBE_SHARD_CA); unset: the pod's own.",
    ),
  DBPLANE_KUBE_SECRET_READERS: envVar
    .list(
      z.string().regex(/^(router|collector)=[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/),
      "must be comma-separated router=<serviceaccount> / collector=<serviceaccount>",
    )
    .optional()
    .describe(
      "Kubernetes and CloudNativePG drivers: ServiceAccounts (in DBPLANE_KUBE_PLATFORM_NAMESPACE) that get, per shard, a Role to read exactly their Secrets: `router=…` the shard's `-reshard` Secret and `<db>-app`, `collector=…` the monitoring Secret; unset: none.",
    ),
  DBPLANE_KUBE_NETWORK_POLICY: z
    .stringbool()
    .default(true)
    .describe(
      "Kubernetes driver: give each shard a NetworkPolicy admitting only its own pods and the platform's shard clients.",
    ),
  DBPLANE_KUBE_CERT_MANAGER_ISSUER: z
    .string()
    .regex(
      /^(Issuer|ClusterIssuer)\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
      "must be Issuer/<name> or ClusterIssuer/<name>",
    )
    .optional()
    .describe(
      "Kubernetes driver: cert-manager issues each shard's server certificate (a Certificate per shard, its Secret `<db>-shard-<n>-tls`) from this `Issuer/<name>` (in the shards' namespace) or `ClusterIssuer/<name>`; unset: the provisioner issues them from its own CA (DBPLANE_KUBE_SHARD_CA).",
    ),
  DBPLANE_KUBE_SHARD_CA: envVar
    .dnsLabel()
    .default("dbplane-shard-ca")
    .describe(
      "Kubernetes driver without DBPLANE_KUBE_CERT_MANAGER_ISSUER, and CloudNativePG driver: the Secret (in DBPLANE_KUBE_PLATFORM_NAMESPACE, made once: tls.crt, tls.key) of the CA that signs each shard's certificate, and the ConfigMap of the same name with its certificate alone (`ca.crt`), which the router and collector trust (DBPLANE_SHARD_TLS_CA).",
    ),
  DBPLANE_POSTGRES_IMAGE: z
    .string()
    .min(1)
    .default("postgres")
    .describe("Kubernetes driver: image repository of the shards; the tag is the PostgreSQL major version."),
  DBPLANE_CNPG_IMAGE: z
    .string()
    .min(1)
    .default("ghcr.io/cloudnative-pg/postgresql")
    .describe(
      "CloudNativePG driver: image repository of the shards' `imageName` (a CloudNativePG operand image, with barman-cloud); the tag is the PostgreSQL major version.",
    ),
  DBPLANE_BACKUP_S3_URL: z
    .string()
    .regex(/^s3:\/\/[a-z0-9.-]{3,63}(\/.*)?$/, "must be s3://bucket[/prefix]")
    .optional()
    .describe(
      "Kubernetes driver: backups go to `<url>/<db>/<backupId>/shard-<n>.dump` (`s3://bucket/prefix`); CloudNativePG driver: each shard's barman object store (base backups and WAL) is `<url>/<db>/<db>-shard-<n>`.",
    ),
  DBPLANE_BACKUP_S3_ENDPOINT: z
    .url()
    .optional()
    .describe("Kubernetes and CloudNativePG drivers: endpoint of a non-AWS S3 (MinIO, Ceph, R2)."),
  DBPLANE_BACKUP_S3_SECRET: z
    .string()
    .min(1)
    .max(253)
    .optional()
    .describe(
      "Kubernetes and CloudNativePG drivers: Secret holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the upload (CloudNativePG without it: the pods' IAM role).",
    ),
  DBPLANE_BACKUP_UPLOADER_IMAGE: z
    .string()
    .min(1)
    .default("amazon/aws-cli:2.22.35")
    .describe("Kubernetes driver: image with the AWS CLI that uploads dumps."),
  DBPLANE_PROVISIONER_ROUTER_PG_HOST: z
    .string()
    .min(1)
    .max(253)
    .default("dbplane-router")
    .describe(
      "Host of the router's PostgreSQL endpoint, written into each database's `uri` and `jdbc-uri` for applications (the chart sets the router Service's name).",
    ),
  DBPLANE_PROVISIONER_ROUTER_PG_PORT: envVar
    .int(1, 65_535)
    .default(6432)
    .describe(
      "Port of the router's PostgreSQL endpoint, in the same `uri` and `jdbc-uri` (`./scripts/dev`: 7432).",
    ),
  DBPLANE_RECONCILE_INTERVAL_MS: envVar
    .ms(50, 600_000)
    .default(1_000)
    .describe("How often the reconcile loop looks for work (it is also kicked on every change)."),
  DBPLANE_RESYNC_INTERVAL_MS: envVar
    .ms(100, 86_400_000)
    .default(30_000)
    .describe("How often a ready database is checked again for drift (a stopped server, a deleted Service)."),
  DBPLANE_FAILOVER_AFTER_MS: envVar
    .ms(500, 600_000)
    .default(5_000)
    .describe(
      "Local driver: how long a shard's primary must not answer before its most advanced replica is promoted in its place.",
    ),
  DBPLANE_FAILOVER_DEAD_AFTER_MS: envVar
    .ms(0, 600_000)
    .default(0)
    .describe(
      "Local driver: the grace instead of DBPLANE_FAILOVER_AFTER_MS (never longer) when the primary is certainly dead, not merely silent: its connection refused and the postmaster its `postmaster.pid` names gone from this host (a crash). Default 0: failover at once, as CloudNativePG's `failoverDelay`.",
    ),
  DBPLANE_FAILOVER_PROBE_MS: envVar
    .ms(100, 60_000)
    .default(1_000)
    .describe(
      "Local driver: how often each shard's primary is probed for failover (also the probe's timeout).",
    ),
  DBPLANE_SLOT_MAX_LAG_BYTES: envVar
    .int(0)
    .default(1024 ** 3)
    .describe(
      "Local driver: WAL (bytes) a replica's replication slot may hold back on its primary (`max_slot_wal_keep_size`, at least `wal_keep_size` 256 MB in effect); past it the slot is invalidated and the replica is copied anew with pg_basebackup when it returns. 0: no bound. Default 1 GiB.",
    ),
  DBPLANE_RECONCILE_CONCURRENCY: envVar
    .int(1, 64)
    .default(4)
    .describe("Databases reconciled at once per replica."),
  DBPLANE_RECONCILE_MAX_ATTEMPTS: envVar
    .int(1, 1_000)
    .default(20)
    .describe(
      "Transient failures of one database in a row before it is marked failed (passes back off 2^n s, ≤ 60 s).",
    ),
  DBPLANE_PG_POOL_SIZE: envVar
    .int(4, 200)
    .default(12)
    .describe("PostgreSQL connections per replica (at least twice DBPLANE_RECONCILE_CONCURRENCY plus 4)."),
  DBPLANE_QUOTA_MAX_DATABASES: envVar
    .int(1, 100_000)
    .default(100)
    .describe("Databases that may exist at once (deleted ones do not count); one more is refused with 409."),
  DBPLANE_QUOTA_MAX_SHARDS: envVar
    .int(1, 64)
    .default(32)
    .describe(
      "Shards one database may have, counting those added later (also by the router's splits); more is refused with 422.",
    ),
  DBPLANE_QUOTA_MAX_REPLICAS: envVar
    .int(0, 5)
    .default(3)
    .describe("Streaming replicas one shard may have besides its primary; more is refused with 422."),
  DBPLANE_QUOTA_MAX_STORAGE: quantity
    .default("1Ti")
    .describe(
      "The largest `storage.size` a database may ask for (the volume of each of its servers); more is refused with 422.",
    ),
  DBPLANE_QUOTA_STORAGE_CLASSES: envVar
    .list(z.string().regex(DNS_SUBDOMAIN), "must be comma-separated StorageClass names (fast-ssd,standard)")
    .refine((names) => names.length > 0, "must name at least one StorageClass")
    .optional()
    .describe(
      "The only StorageClasses a database may name (another is refused with 422; naming none means the cluster default); unset: any.",
    ),
});

/** The quotas of the config, as the desired state checks them. */
export function quotasOf(config: z.output<typeof configSchema>): Quotas {
  return {
    maxDatabases: config.DBPLANE_QUOTA_MAX_DATABASES,
    maxShards: config.DBPLANE_QUOTA_MAX_SHARDS,
    maxReplicas: config.DBPLANE_QUOTA_MAX_REPLICAS,
    maxStorage: config.DBPLANE_QUOTA_MAX_STORAGE,
    storageClasses: config.DBPLANE_QUOTA_STORAGE_CLASSES,
  };
}

/** Parses the environment once; exits 78 listing every problem. */
export const loadProvisionerConfig = configLoader(configSchema);
export type ProvisionerConfig = ReturnType<typeof loadProvisionerConfig>;
