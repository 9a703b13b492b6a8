import {
  authEnv,
  httpEnv,
  loadConfig,
  logEnv,
  natsEnv,
  postgresEnv,
  shutdownEnv,
} from "@dbplane/service-kit";
import { z } from "zod";

const ms = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** The provisioner's environment (STYLE.md §4): parsed once, every problem listed, exit 78. */
export const provisionerEnv = z.object({
  ...httpEnv,
  ...logEnv,
  ...authEnv,
  ...shutdownEnv,
  ...natsEnv,
  ...postgresEnv,
  /** PostgreSQL schema the provisioner owns in the platform database. */
  DBPLANE_PROVISIONER_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case PostgreSQL identifier")
    .default("provisioner"),
  /** Where shards run: real clusters on this machine (default) or objects in a Kubernetes cluster. */
  DBPLANE_PROVISIONER_DRIVER: z.enum(["local", "kubernetes"]).default("local"),
  /** Local driver: clusters live under `<dir>/clusters`, backups under `<dir>/backups`. */
  DBPLANE_DATA_DIR: z.string().min(1).default("./.data"),
  /** Local driver: extra directory searched first for initdb/pg_ctl/pg_basebackup/pg_dump. */
  DBPLANE_PG_BIN_DIR: z.string().min(1).optional(),
  /** Local driver, when running as root: the OS user the PostgreSQL servers run as (initdb refuses root). */
  DBPLANE_PG_OS_USER: z.string().min(1).default("postgres"),
  /** Kubernetes driver: kubeconfig path; in-cluster config (or KUBECONFIG) when absent. */
  DBPLANE_KUBECONFIG: z.string().min(1).optional(),
  /**
   * Kubernetes driver: namespace the shards' objects go to. Unset: the pod's own namespace (the
   * chart grants the provisioner's Role there), or `default` outside a cluster.
   */
  DBPLANE_KUBE_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS-1123 label")
    .optional(),
  /** Kubernetes driver: image repository; the tag is the PostgreSQL major version. */
  DBPLANE_POSTGRES_IMAGE: z.string().min(1).default("postgres"),
  /** Kubernetes driver: backups go to `<url>/<db>/<backupId>/shard-<n>.dump` (`s3://bucket/prefix`). */
  DBPLANE_BACKUP_S3_URL: z
    .string()
    .regex(/^s3:\/\/[a-z0-9.-]{3,63}(\/.*)?$/, "must be s3://bucket[/prefix]")
    .optional(),
  /** Kubernetes driver: endpoint of a non-AWS S3 (MinIO, Ceph, R2). */
  DBPLANE_BACKUP_S3_ENDPOINT: z.url().optional(),
  /** Kubernetes driver: Secret holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the upload. */
  DBPLANE_BACKUP_S3_SECRET: z.string().min(1).max(253).optional(),
  /** Kubernetes driver: image with the AWS CLI that uploads dumps. */
  DBPLANE_BACKUP_UPLOADER_IMAGE: z.string().min(1).default("amazon/aws-cli:2.22.35"),
  /** How often the reconcile loop looks for work (it is also kicked on every change). */
  DBPLANE_RECONCILE_INTERVAL_MS: ms(50, 600_000).default(1_000),
  /** How often a ready database is checked again for drift (a stopped server, a deleted Service). */
  DBPLANE_RESYNC_INTERVAL_MS: ms(100, 86_400_000).default(30_000),
  /** Databases reconciled at once per replica. */
  DBPLANE_RECONCILE_CONCURRENCY: ms(1, 64).default(4),
  /** Transient failures of one database in a row before it is marked failed (passes back off 2^n s, ≤ 60 s). */
  DBPLANE_RECONCILE_MAX_ATTEMPTS: ms(1, 1_000).default(20),
  DBPLANE_PG_POOL_SIZE: ms(4, 200).default(12),
});

export type ProvisionerConfig = z.output<typeof provisionerEnv>;

/** Parses the environment once; exits 78 listing every problem. */
export function loadProvisionerConfig(env: NodeJS.ProcessEnv = process.env): ProvisionerConfig {
  return loadConfig(provisionerEnv, env);
}
