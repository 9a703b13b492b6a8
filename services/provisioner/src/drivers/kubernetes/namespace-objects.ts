import { deleteObject, listLabelled, readObject } from "@dbplane/kube";
import { createScramVerifier } from "@dbplane/pgwire";
import type { Logger } from "@dbplane/service-kit";
import type { KubernetesObjectApi, V1Secret } from "@kubernetes/client-node";
import { type AppSecret, newAppSecret } from "../../domain/application-role.ts";
import { DATABASE_LABEL } from "./shard-manifests.ts";

/**
 * What both Kubernetes-based drivers (kubernetes, cloudnativepg) do with the objects of their
 * shards' namespace: read a Secret's values, keep a role's password across passes, and delete
 * what a database or shard labelled.
 */
export function namespaceObjects(objects: KubernetesObjectApi, namespace: string, logger: Logger) {
  /** A Secret's `data`, decoded; empty when it does not exist. */
  const secretData = async (name: string): Promise<Record<string, string>> => {
    const secret = await readObject<V1Secret>(objects, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace },
    });
    return Object.fromEntries(
      Object.entries(secret?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
    );
  };
  return {
    secretData,
    /** A role's password and verifier, kept from its Secret when there, else new. */
    async keptSecret(name: string): Promise<AppSecret> {
      const data = await secretData(name);
      return data.password
        ? { password: data.password, verifier: data.verifier || createScramVerifier(data.password) }
        : newAppSecret();
    },
    /** Deletes every object of `kinds` carrying `labels`, in that order, logging each. */
    async deleteLabelled(
      labels: Record<string, string>,
      kinds: readonly { apiVersion: string; kind: string }[],
    ): Promise<void> {
      for (const { apiVersion, kind } of kinds) {
        for (const obj of await listLabelled(objects, apiVersion, kind, namespace, labels)) {
          const name = obj.metadata?.name;
          if (!name) continue;
          await deleteObject(objects, { apiVersion, kind, metadata: { name, namespace } });
          logger.info({ database: labels[DATABASE_LABEL], kind, name }, "deleted");
        }
      }
    },
  };
}
