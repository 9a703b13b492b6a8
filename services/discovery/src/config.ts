import {
  httpEnv,
  loadConfig,
  logEnv,
  MIN_JWT_SECRET_LENGTH,
  natsEnv,
  shutdownEnv,
} from "@dbplane/service-kit";
import { z } from "zod";

const ms = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function isPostgresUrl(value: string): boolean {
  try {
    return ["postgres:", "postgresql:"].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** Comma-separated list, blanks dropped. */
const list = z.string().transform((value) =>
  value
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean),
);
const namespaces = list.refine((names) => names.every((n) => DNS_LABEL.test(n)), {
  message: "must be comma-separated namespace names (DNS-1123 labels)",
});

/** The discovery service's environment (STYLE.md §4): parsed once, every problem listed, exit 78. */
export const discoveryEnv = z.object({
  ...httpEnv,
  ...logEnv,
  ...shutdownEnv,
  ...natsEnv,
  /** Signs bearer tokens; discovery serves only reads, so a random key is used when unset. */
  DBPLANE_JWT_SECRET: z
    .string()
    .min(MIN_JWT_SECRET_LENGTH, `must be at least ${MIN_JWT_SECRET_LENGTH} characters`)
    .optional(),
  /** The platform PostgreSQL: the local driver's server when DBPLANE_DISCOVERY_POSTGRES_URLS is unset. */
  DBPLANE_PG_URL: z
    .string()
    .refine(isPostgresUrl, "must be a postgres:// or postgresql:// URL")
    .default("postgres://postgres@127.0.0.1:5432/postgres"),
  /** `kubernetes` or `local`; unset: kubernetes when a kubeconfig is given or running in a pod, else local. */
  DBPLANE_DISCOVERY_DRIVER: z.enum(["kubernetes", "local"]).optional(),
  /** Kubernetes driver: kubeconfig path; KUBECONFIG / ~/.kube/config / in-cluster when unset. */
  DBPLANE_KUBECONFIG: z.string().min(1).optional(),
  /** Set by Kubernetes in every pod: selects the kubernetes driver when DBPLANE_DISCOVERY_DRIVER is unset. */
  KUBERNETES_SERVICE_HOST: z.string().optional(),
  /** Kubernetes driver: namespaces to watch (comma-separated); unset: all. */
  DBPLANE_DISCOVERY_NAMESPACES: namespaces.optional(),
  /** Kubernetes driver: namespaces never reported. */
  DBPLANE_DISCOVERY_EXCLUDE_NAMESPACES: namespaces.default(["kube-system", "kube-public", "kube-node-lease"]),
  /** Kubernetes driver: the cluster's DNS domain, for resolving `svc.ns.svc.<domain>`. */
  DBPLANE_CLUSTER_DOMAIN: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "must be a DNS domain")
    .default("cluster.local"),
  /** Local driver: PostgreSQL servers whose databases are listed (comma-separated URLs); default DBPLANE_PG_URL. */
  DBPLANE_DISCOVERY_POSTGRES_URLS: list
    .refine((urls) => urls.every(isPostgresUrl), "must be comma-separated postgres:// URLs")
    .optional(),
  /** Local driver: how often the servers are listed. */
  DBPLANE_DISCOVERY_POLL_MS: ms(100, 3_600_000).default(10_000),
  /** Changes arriving within this window are published together. */
  DBPLANE_DISCOVERY_DEBOUNCE_MS: ms(0, 60_000).default(100),
  /** Full comparison with the published facts this often, even without a change. */
  DBPLANE_DISCOVERY_RESYNC_MS: ms(1_000, 86_400_000).default(300_000),
  /** A fact reported lost leaves the fact bucket this long afterwards (at a resync). */
  DBPLANE_DISCOVERY_LOST_RETENTION_MS: ms(0, 30 * 86_400_000).default(86_400_000),
});

type DiscoveryEnv = z.output<typeof discoveryEnv>;

/** The parsed environment with the defaults that depend on other variables filled in. */
export type DiscoveryConfig = DiscoveryEnv & {
  readonly driver: "kubernetes" | "local";
  readonly postgresUrls: readonly string[];
};

/** Kubernetes when told so, or when a kubeconfig is given or we run in a pod; else local. */
export function resolveDiscoveryConfig(env: DiscoveryEnv): DiscoveryConfig {
  const inCluster = env.DBPLANE_KUBECONFIG !== undefined || env.KUBERNETES_SERVICE_HOST !== undefined;
  return {
    ...env,
    driver: env.DBPLANE_DISCOVERY_DRIVER ?? (inCluster ? "kubernetes" : "local"),
    postgresUrls: env.DBPLANE_DISCOVERY_POSTGRES_URLS ?? [env.DBPLANE_PG_URL],
  };
}

/** Parses the environment once; exits 78 listing every problem. */
export function loadDiscoveryConfig(env: NodeJS.ProcessEnv = process.env): DiscoveryConfig {
  return resolveDiscoveryConfig(loadConfig(discoveryEnv, env));
}
