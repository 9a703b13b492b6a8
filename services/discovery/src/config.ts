import { baseEnv, envVar, loadConfig, localPostgresEnv, readOnlyAuthEnv } from "@dbplane/service-kit";
import { z } from "zod";

/** Comma-separated Kubernetes namespace names. */
function namespaces() {
  return envVar.list(envVar.dnsLabel(), "must be comma-separated namespace names (DNS-1123 labels)");
}

/** The discovery service's environment (STYLE.md §4): parsed once, every problem listed, exit 78. */
export const configSchema = z.object({
  ...baseEnv,
  // Discovery serves only reads, so a random key is used when unset.
  ...readOnlyAuthEnv,
  DBPLANE_PG_URL: localPostgresEnv.DBPLANE_PG_URL.describe(
    "The platform PostgreSQL: the local driver's server when DBPLANE_DISCOVERY_POSTGRES_URLS is unset.",
  ),
  DBPLANE_DISCOVERY_DRIVER: z
    .enum(["kubernetes", "local"])
    .optional()
    .describe(
      "`kubernetes` or `local`; unset: kubernetes when a kubeconfig is given or in a pod, else local.",
    ),
  DBPLANE_KUBECONFIG: z
    .string()
    .min(1)
    .optional()
    .describe("Kubernetes driver: kubeconfig path; unset: KUBECONFIG, ~/.kube/config or in-cluster."),
  KUBERNETES_SERVICE_HOST: z
    .string()
    .optional()
    .describe(
      "Set by Kubernetes in every pod: selects the kubernetes driver when DBPLANE_DISCOVERY_DRIVER is unset.",
    ),
  DBPLANE_DISCOVERY_NAMESPACES: namespaces()
    .optional()
    .describe("Kubernetes driver: namespaces to watch, comma-separated; unset: all."),
  DBPLANE_DISCOVERY_EXCLUDE_NAMESPACES: namespaces()
    .prefault("kube-system,kube-public,kube-node-lease")
    .describe("Kubernetes driver: namespaces never reported, comma-separated."),
  DBPLANE_DISCOVERY_SECRET_NAMESPACES: namespaces()
    .prefault("")
    .describe(
      "Kubernetes driver: namespaces where the Secrets that workloads reference are read by name (get only, never list or watch) for their connection hints, comma-separated; unset: no Secret is read.",
    ),
  DBPLANE_DISCOVERY_SECRET_REFRESH_MS: envVar
    .ms(1_000, 86_400_000)
    .default(300_000)
    .describe("Kubernetes driver: how often the referenced Secrets already read are read again."),
  DBPLANE_CLUSTER_DOMAIN: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "must be a DNS domain")
    .default("cluster.local")
    .describe("Kubernetes driver: the cluster's DNS domain, for resolving `svc.ns.svc.<domain>`."),
  DBPLANE_DISCOVERY_POSTGRES_URLS: envVar
    .list(envVar.url(["postgres:", "postgresql:"]), "must be comma-separated postgres:// URLs")
    .optional()
    .describe(
      "Local driver: PostgreSQL servers whose databases are listed, comma-separated; unset: DBPLANE_PG_URL.",
    ),
  DBPLANE_DISCOVERY_POLL_MS: envVar
    .ms(100, 3_600_000)
    .default(10_000)
    .describe("Local driver: how often the servers are listed."),
  DBPLANE_DISCOVERY_DEBOUNCE_MS: envVar
    .ms(0, 60_000)
    .default(100)
    .describe("Changes arriving within this window are published together."),
  DBPLANE_DISCOVERY_RESYNC_MS: envVar
    .ms(1_000, 86_400_000)
    .default(300_000)
    .describe("Full comparison with the published facts this often, even without a change."),
  DBPLANE_DISCOVERY_LOST_RETENTION_MS: envVar
    .ms(0, 30 * 86_400_000)
    .default(86_400_000)
    .describe("A fact reported lost leaves the fact bucket this long afterwards (at a resync)."),
});

type DiscoveryEnv = z.output<typeof configSchema>;

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
  return resolveDiscoveryConfig(loadConfig(configSchema, env));
}
