import type { Logger } from "@dbplane/service-kit";
import { ApiException, CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import type { SecretKeys, Workload } from "../domain/cluster-objects.ts";
import { reduceSecret, toSecretKeys } from "./object-reducers.ts";

/** `namespace/name` of a Secret. */
type SecretKey = string;

/**
 * The Secrets the workloads name (env `secretKeyRef`, `envFrom.secretRef`), in their own
 * namespaces: the only Secrets whose connection hints discovery can use.
 */
export function referencedSecrets(workloads: readonly Workload[]): Set<SecretKey> {
  const keys = new Set<SecretKey>();
  for (const workload of workloads) {
    for (const container of workload.containers) {
      for (const env of container.env)
        if (env.source === "secret") keys.add(`${workload.namespace}/${env.object}`);
      for (const from of container.envFrom)
        if (from.source === "secret") keys.add(`${workload.namespace}/${from.object}`);
    }
  }
  return keys;
}

export interface ReferencedSecretsOptions {
  readonly config: KubeConfig;
  /** Namespaces whose Secrets may be read (RBAC: `get` there, nothing else); empty: none is read. */
  readonly namespaces: ReadonlySet<string>;
  /** Secrets already read are read again this often, for changed values and Secrets made later. */
  readonly refreshMs: number;
  readonly logger: Logger;
  /** Called when a Secret's hints arrived or changed. */
  readonly onChange: () => void;
}

/** The referenced Secrets, each read by name and reduced to its hints before it is kept. */
export interface ReferencedSecrets {
  /** Reads the wanted Secrets not read yet, forgets those no longer wanted; resolves once all are read. */
  want(keys: ReadonlySet<SecretKey>): Promise<void>;
  secrets(): SecretKeys[];
  resourceVersion(): number;
  count(): number;
  stop(): void;
}

/**
 * Reads Secrets by name (`get`), never by list or watch: with RBAC that grants only `get` in
 * allow-listed namespaces, discovery sees no Secret no workload references and none elsewhere.
 * A Secret that is missing or forbidden is remembered as absent until the next refresh.
 */
export function createReferencedSecrets(options: ReferencedSecretsOptions): ReferencedSecrets {
  const core = options.config.makeApiClient(CoreV1Api);
  const wanted = new Set<SecretKey>();
  const held = new Map<SecretKey, { keys: SecretKeys; version: number } | null>();
  const reading = new Map<SecretKey, Promise<void>>();
  const refused = new Set<string>();

  const fetchOne = async (key: SecretKey): Promise<{ keys: SecretKeys; version: number } | null> => {
    const [namespace = "", name = ""] = key.split("/");
    try {
      const secret: V1Secret = await core.readNamespacedSecret({ namespace, name });
      reduceSecret(secret);
      return { keys: toSecretKeys(secret), version: Number(secret.metadata?.resourceVersion ?? 0) || 0 };
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return null;
      if (err instanceof ApiException && err.code === 403) {
        // Once per namespace: the fix is RBAC, and every Secret of it would say the same.
        if (!refused.has(namespace))
          options.logger.warn(
            { namespace },
            "reading a referenced Secret is forbidden; its hints stay unknown",
          );
        refused.add(namespace);
        return null;
      }
      throw err;
    }
  };

  const read = (key: SecretKey): Promise<void> => {
    const running = reading.get(key);
    if (running) return running;
    const done = fetchOne(key)
      .then(
        (value) => {
          if (!wanted.has(key)) return; // no workload names it any more
          const before = held.get(key);
          held.set(key, value);
          if (JSON.stringify(before?.keys ?? null) !== JSON.stringify(value?.keys ?? null))
            options.onChange();
        },
        (err: unknown) => {
          // Left unread: the next want or refresh tries again.
          options.logger.warn({ err, secret: key }, "could not read a referenced Secret; retrying later");
        },
      )
      .finally(() => reading.delete(key));
    reading.set(key, done);
    return done;
  };

  const allowed = (key: SecretKey) => options.namespaces.has(key.split("/")[0] ?? "");
  const timer = setInterval(() => {
    // Also the ones a transient error left unread.
    for (const key of wanted) void read(key);
  }, options.refreshMs);
  timer.unref();

  return {
    async want(keys) {
      wanted.clear();
      for (const key of keys) if (allowed(key)) wanted.add(key);
      for (const key of held.keys()) if (!wanted.has(key)) held.delete(key);
      const missing = [...wanted].filter((key) => !held.has(key));
      await Promise.all(missing.map(read));
    },
    secrets: () => [...held.values()].flatMap((value) => (value ? [value.keys] : [])),
    resourceVersion: () => Math.max(0, ...[...held.values()].map((value) => value?.version ?? 0)),
    count: () => [...held.values()].filter(Boolean).length,
    stop: () => clearInterval(timer),
  };
}
