import { RESHARD_ROLE } from "@dbplane/reshard";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { AppSecret } from "../../domain/application-role.ts";
import type { DatabaseSpec } from "../../domain/database-spec.ts";
import { MONITOR_USER } from "../../domain/monitoring-role.ts";
import { postgresSettings, renderSettings } from "../../domain/postgres-settings.ts";
import { appRoleContainer } from "./app-role-container.ts";

/** Labels on everything dbplane makes; delete selects by them and touches nothing else. */
export const MANAGED_BY = { "app.kubernetes.io/managed-by": "dbplane" } as const;
export const DATABASE_LABEL = "dbplane.io/database";
export const SHARD_LABEL = "dbplane.io/shard";
/**
 * Pods of the platform that may open connections to shards (router, collector, provisioner): the
 * chart labels them so; a shard's NetworkPolicy admits them from the platform's namespace.
 */
export const SHARD_CLIENT_LABEL = "dbplane.io/shard-client";
export const SUPERUSER = "dbplane";
const PORT = 5432;
const PGDATA = "/var/lib/postgresql/data/pgdata";
/** uid/gid of the `postgres` user in the official image. */
const POSTGRES_UID = 999;
/** Where the shard's `-tls` Secret is mounted in the server container. */
const TLS_DIR = "/etc/dbplane/tls";
/**
 * 0640 (decimal for the API): a Secret volume's files belong to root and, with the pod's fsGroup,
 * to the postgres group. PostgreSQL takes a key owned by root only if others cannot read it
 * (0640 at most); the kubelet adds g+r to every file under fsGroup anyway, so 0600 would end up 0640.
 */
const KEY_MODE = 0o640;
const CERT_MODE = 0o644;
/** Where the shard's own clients (a standby, the backup Job) find the CA they verify the primary with. */
const CA_DIR = "/etc/dbplane/shard-ca";

/** Names of one shard's objects (DESIGN.md: `{db}-shard-{n}`, `{db}-shard-{n}-credentials`). */
export function shardNames(database: string, shard: number) {
  const base = `${database}-shard-${shard}`;
  return {
    statefulSet: base,
    service: base,
    readService: `${base}-read`,
    headlessService: `${base}-headless`,
    secret: `${base}-credentials`,
    /** The server's certificate and key (`kubernetes.io/tls`, with `ca.crt`). */
    tlsSecret: `${base}-tls`,
    /** The monitoring role's password and verifier: apart, so the collector may read it alone. */
    monitorSecret: `${base}-monitor`,
    /** The reshard role's password and verifier: apart, so the router reads it and not the superuser's. */
    reshardSecret: `${base}-reshard`,
    configMap: `${base}-config`,
    networkPolicy: base,
    podDisruptionBudget: base,
  };
}

export function shardLabels(database: string, shard: number): Record<string, string> {
  return { ...MANAGED_BY, [DATABASE_LABEL]: database, [SHARD_LABEL]: String(shard) };
}

export interface ShardManifestInput {
  readonly spec: DatabaseSpec;
  readonly shard: number;
  readonly replicas: number;
  readonly namespace: string;
  readonly image: string;
  /** The shard's password: an existing Secret's, or a new random one. Goes into the Secret only. */
  readonly password: string;
  /** The monitoring role's password and verifier (its own Secret, kept across passes). */
  readonly monitor: AppSecret;
  /** The reshard role's password and verifier (its own Secret, kept across passes). */
  readonly reshard: AppSecret;
  readonly network: ShardNetwork;
  /**
   * A digest of the server certificate when the provisioner issues it: a pod-template annotation,
   * so a renewed certificate rolls the pods (PostgreSQL reads it at start). Undefined with
   * cert-manager, which renews the Secret in place.
   */
  readonly tlsRevision?: string | undefined;
  /** The `-tls` Secret carries the issuing CA (`ca.crt`): the shard's own clients verify-full. */
  readonly verifyInShard?: boolean | undefined;
}

/**
 * How a shard's own pods (a standby's clone and streaming, the backup Job) reach its primary: over
 * TLS always (the primary admits the network only by hostssl); verify-full against the `ca.crt` of
 * the shard's `-tls` Secret when it surely has one (the provisioner's CA fills it; a cert-manager
 * issuer may not), else `require`. pg_basebackup -R writes these settings into the standby's
 * primary_conninfo, so the server container mounts the CA too.
 */
export function inShardClientTls(database: string, shard: number, verify: boolean) {
  if (!verify) return { env: [{ name: "PGSSLMODE", value: "require" }], volumeMounts: [], volumes: [] };
  return {
    env: [
      { name: "PGSSLMODE", value: "verify-full" },
      { name: "PGSSLROOTCERT", value: `${CA_DIR}/ca.crt` },
    ],
    volumeMounts: [{ name: "shard-ca", mountPath: CA_DIR, readOnly: true }],
    volumes: [
      {
        name: "shard-ca",
        secret: {
          secretName: shardNames(database, shard).tlsSecret,
          items: [{ key: "ca.crt", path: "ca.crt", mode: CERT_MODE }],
        },
      },
    ],
  };
}

/** Who may reach a shard's PostgreSQL over the network. */
export interface ShardNetwork {
  /** CIDRs pg_hba accepts TCP connections from (the cluster's pod network); nothing else gets a login. */
  readonly podCidrs: readonly string[];
  /**
   * Namespace of the platform's router, collector and provisioner, whose pods carry
   * {@link SHARD_CLIENT_LABEL}; undefined: no NetworkPolicy is made (a cluster without a
   * NetworkPolicy controller, or one that brings its own).
   */
  readonly platformNamespace: string | undefined;
}

/**
 * pg_hba: the pod's own socket trusted (the image's init scripts use it) and its loopback with scram
 * (the app-role container's psql); from the network only `hostssl` — a client that does not
 * start TLS gets no login — only from the pod network, and with scram: 0.0.0.0/0 would let any
 * address that reaches the pod try a password.
 */
export function pgHba(podCidrs: readonly string[]): string {
  if (podCidrs.length === 0) throw new Error("pg_hba needs at least one pod CIDR");
  const lines = [
    "local all all trust",
    "host all all 127.0.0.1/32 scram-sha-256",
    "host all all ::1/128 scram-sha-256",
  ];
  for (const database of ["all", "replication"]) {
    for (const cidr of podCidrs) lines.push(`hostssl ${database} all ${cidr} scram-sha-256`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Ingress to the shard's PostgreSQL port only from its own pods (the standbys' pg_basebackup and
 * replication, the backup Job) and from the platform's shard clients in the platform's namespace.
 */
export function shardNetworkPolicy(
  database: string,
  shard: number,
  namespace: string,
  platformNamespace: string,
): KubernetesObject {
  const selector = { [DATABASE_LABEL]: database, [SHARD_LABEL]: String(shard) };
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      name: shardNames(database, shard).networkPolicy,
      namespace,
      labels: shardLabels(database, shard),
    },
    spec: {
      podSelector: { matchLabels: selector },
      policyTypes: ["Ingress"],
      ingress: [
        {
          ports: [{ port: PORT, protocol: "TCP" }],
          from: [
            { podSelector: { matchLabels: selector } },
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": platformNamespace } },
              podSelector: { matchLabels: { [SHARD_CLIENT_LABEL]: "true" } },
            },
          ],
        },
      ],
    },
  } as KubernetesObject;
}

/**
 * Pod 0 is the primary. Every other pod starts empty and copies the primary with pg_basebackup
 * (`-R`: it then runs as a streaming standby); a pod that already has data keeps it. A standby
 * is never promoted here: failover is out of scope (documented).
 */
function replicaInitScript(names: ReturnType<typeof shardNames>, namespace: string): string {
  const primary = `${names.statefulSet}-0.${names.headlessService}.${namespace}.svc`;
  return [
    "set -eu",
    // Shell parameter expansion, not a JS template: the pod's ordinal from its hostname.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
    'ordinal="${HOSTNAME##*-}"',
    'if [ "$ordinal" = "0" ] || [ -s "$PGDATA/PG_VERSION" ]; then exit 0; fi',
    `until pg_isready -h ${primary} -p ${PORT} -U ${SUPERUSER}; do sleep 2; done`,
    `PGPASSWORD="$POSTGRES_PASSWORD" pg_basebackup -h ${primary} -p ${PORT} -U ${SUPERUSER} -D "$PGDATA" -R -X stream -c fast`,
    'chmod 0700 "$PGDATA"',
  ].join("\n");
}

/** A login role's own Secret (`username`, `password`, `verifier`): one reader may get it alone. */
function roleSecret(metadata: object, user: string, secret: AppSecret): KubernetesObject {
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata,
    type: "Opaque",
    data: { username: b64(user), password: b64(secret.password), verifier: b64(secret.verifier) },
  } as KubernetesObject;
}

/**
 * At most one pod of a shard evicted at a time (a drain, a node upgrade): with replicas, a drain
 * never takes the primary and its replicas together, so reads keep a server and a standby is
 * left to rebuild from. Not `minAvailable: 1` to pin the primary: pod 0 is the primary for good
 * (no failover on this driver), so a budget that refused its eviction would make `kubectl drain`
 * of its node hang forever, and a one-pod shard would block every drain; an eviction of the
 * primary is a short write outage either way. Unhealthy pods may always be evicted, so a pod that
 * crash-loops does not hold a drain up.
 */
export function shardDisruptionBudget(
  database: string,
  shard: number,
  namespace: string,
): KubernetesObject & { spec: Record<string, unknown> } {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: {
      name: shardNames(database, shard).podDisruptionBudget,
      namespace,
      labels: shardLabels(database, shard),
    },
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: { [DATABASE_LABEL]: database, [SHARD_LABEL]: String(shard) } },
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    },
  };
}

/**
 * Spread a shard's pods over nodes: one node's loss then takes the primary or a replica, not
 * both. Preferred, not required, so a cluster with fewer nodes than pods still runs them all.
 */
export function shardPodAntiAffinity(database: string, shard: number) {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            labelSelector: { matchLabels: { [DATABASE_LABEL]: database, [SHARD_LABEL]: String(shard) } },
            topologyKey: "kubernetes.io/hostname",
          },
        },
      ],
    },
  };
}

/**
 * Every object of one shard, as it should be. Pure: the same input gives the same objects. Each
 * pod runs the server and the `app-role` container that keeps the database's application role.
 */
export function shardManifests(input: ShardManifestInput): KubernetesObject[] {
  const { spec, shard, namespace } = input;
  const { platformNamespace } = input.network;
  const names = shardNames(spec.name, shard);
  const labels = shardLabels(spec.name, shard);
  const meta = (name: string) => ({ name, namespace, labels });
  const selector = { [DATABASE_LABEL]: spec.name, [SHARD_LABEL]: String(shard) };
  const settings = {
    ...postgresSettings(spec.resources?.memory, PORT),
    listen_addresses: "*",
    data_directory: PGDATA,
    hba_file: "/etc/dbplane/pg_hba.conf",
    // TLS from the shard's `-tls` Secret; pg_hba admits network clients only over it (hostssl).
    ssl: "on",
    ssl_cert_file: `${TLS_DIR}/tls.crt`,
    ssl_key_file: `${TLS_DIR}/tls.key`,
    ssl_min_protocol_version: "TLSv1.2",
  };
  const resources = {
    ...(spec.resources?.cpu || spec.resources?.memory
      ? {
          requests: {
            ...(spec.resources.cpu && { cpu: spec.resources.cpu }),
            ...(spec.resources.memory && { memory: spec.resources.memory }),
          },
          limits: { ...(spec.resources.memory && { memory: spec.resources.memory }) },
        }
      : {}),
  };
  const passwordEnv = {
    name: "POSTGRES_PASSWORD",
    valueFrom: { secretKeyRef: { name: names.secret, key: "password" } },
  };
  const containerSecurity = {
    runAsNonRoot: true,
    runAsUser: POSTGRES_UID,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
  };
  const inShardTls = inShardClientTls(spec.name, shard, input.verifyInShard ?? false);
  const isReady = ["pg_isready", "-h", "127.0.0.1", "-p", String(PORT), "-U", SUPERUSER, "-d", spec.name];
  const service = (name: string, podSelector: Record<string, string>, headless = false) => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(name),
    spec: {
      ...(headless && { clusterIP: "None", publishNotReadyAddresses: true }),
      selector: podSelector,
      ports: [{ name: "postgres", port: PORT, targetPort: PORT, protocol: "TCP" }],
    },
  });
  return [
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: meta(names.secret),
      type: "Opaque",
      // `data`, not `stringData`: the server stores `data`, so re-applying the same values is a no-op.
      data: {
        username: Buffer.from(SUPERUSER).toString("base64"),
        database: Buffer.from(spec.name).toString("base64"),
        password: Buffer.from(input.password).toString("base64"),
      },
    } as KubernetesObject,
    roleSecret(meta(names.monitorSecret), MONITOR_USER, input.monitor),
    roleSecret(meta(names.reshardSecret), RESHARD_ROLE, input.reshard),
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: meta(names.configMap),
      data: { "postgresql.conf": renderSettings(settings), "pg_hba.conf": pgHba(input.network.podCidrs) },
    } as KubernetesObject,
    service(names.headlessService, selector, true),
    // The primary is pod 0; the StatefulSet controller labels each pod with its own name.
    service(names.service, { ...selector, "statefulset.kubernetes.io/pod-name": `${names.statefulSet}-0` }),
    service(names.readService, selector),
    {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: meta(names.statefulSet),
      spec: {
        serviceName: names.headlessService,
        replicas: 1 + input.replicas,
        podManagementPolicy: "OrderedReady",
        selector: { matchLabels: selector },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
        template: {
          metadata: {
            labels,
            ...(input.tlsRevision && { annotations: { "dbplane.io/tls-revision": input.tlsRevision } }),
          },
          spec: {
            // Nothing in a shard pod talks to the Kubernetes API: no token to steal from it.
            automountServiceAccountToken: false,
            affinity: shardPodAntiAffinity(spec.name, shard),
            securityContext: {
              runAsNonRoot: true,
              runAsUser: POSTGRES_UID,
              runAsGroup: POSTGRES_UID,
              fsGroup: POSTGRES_UID,
            },
            initContainers: [
              {
                name: "clone-primary",
                image: `${input.image}:${spec.postgresVersion}`,
                command: ["sh", "-c", replicaInitScript(names, namespace)],
                env: [{ name: "PGDATA", value: PGDATA }, ...inShardTls.env, passwordEnv],
                volumeMounts: [
                  { name: "data", mountPath: "/var/lib/postgresql/data" },
                  ...inShardTls.volumeMounts,
                ],
                securityContext: containerSecurity,
              },
            ],
            containers: [
              {
                name: "postgres",
                image: `${input.image}:${spec.postgresVersion}`,
                args: ["-c", "config_file=/etc/dbplane/postgresql.conf"],
                env: [
                  { name: "POSTGRES_USER", value: SUPERUSER },
                  { name: "POSTGRES_DB", value: spec.name },
                  { name: "PGDATA", value: PGDATA },
                  passwordEnv,
                ],
                ports: [{ name: "postgres", containerPort: PORT, protocol: "TCP" }],
                readinessProbe: {
                  exec: { command: isReady },
                  periodSeconds: 5,
                  timeoutSeconds: 3,
                  failureThreshold: 3,
                },
                livenessProbe: {
                  exec: { command: isReady },
                  initialDelaySeconds: 30,
                  periodSeconds: 10,
                  timeoutSeconds: 5,
                  failureThreshold: 6,
                },
                resources,
                securityContext: containerSecurity,
                volumeMounts: [
                  { name: "data", mountPath: "/var/lib/postgresql/data" },
                  { name: "config", mountPath: "/etc/dbplane", readOnly: true },
                  { name: "tls", mountPath: TLS_DIR, readOnly: true },
                  ...inShardTls.volumeMounts,
                ],
              },
              appRoleContainer({
                database: spec.name,
                image: `${input.image}:${spec.postgresVersion}`,
                port: PORT,
                superuser: SUPERUSER,
                superuserPasswordEnv: passwordEnv,
                monitorVerifierEnv: {
                  valueFrom: { secretKeyRef: { name: names.monitorSecret, key: "verifier" } },
                },
                reshardVerifierEnv: {
                  valueFrom: { secretKeyRef: { name: names.reshardSecret, key: "verifier" } },
                },
                namespace,
                securityContext: containerSecurity,
              }),
            ],
            volumes: [
              { name: "config", configMap: { name: names.configMap } },
              {
                name: "tls",
                secret: {
                  secretName: names.tlsSecret,
                  items: [
                    { key: "tls.crt", path: "tls.crt", mode: CERT_MODE },
                    { key: "tls.key", path: "tls.key", mode: KEY_MODE },
                  ],
                },
              },
              ...inShardTls.volumes,
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: "data", labels },
            spec: {
              accessModes: ["ReadWriteOnce"],
              ...(spec.storage.storageClass && { storageClassName: spec.storage.storageClass }),
              resources: { requests: { storage: spec.storage.size } },
            },
          },
        ],
      },
    } as KubernetesObject,
    shardDisruptionBudget(spec.name, shard, namespace),
    ...(platformNamespace ? [shardNetworkPolicy(spec.name, shard, namespace, platformNamespace)] : []),
  ];
}
