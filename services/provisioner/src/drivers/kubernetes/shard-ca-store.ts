import { applyObject, readObject } from "@dbplane/kube";
import type { Logger } from "@dbplane/service-kit";
import {
  ApiException,
  type KubernetesObjectApi,
  type V1ConfigMap,
  type V1Secret,
} from "@kubernetes/client-node";
import { newShardCa, parseShardCa, type ShardCa } from "./shard-certificates.ts";
import { MANAGED_BY } from "./shard-manifests.ts";

/** A 409 from the API server: the object was created meanwhile (by another replica). */
const isConflict = (err: unknown) => err instanceof ApiException && err.code === 409;
const LABELS = { ...MANAGED_BY, "app.kubernetes.io/component": "shard-ca" };

/** The CA Secret holds no usable certificate and key (edited by hand, or another tool's). */
export class ShardCaInvalidError extends Error {
  override readonly name = "ShardCaInvalidError";
  readonly code = "SHARD_CA_INVALID";
  constructor(where: string, cause: unknown) {
    // The cause names the parse failure, never the key's text.
    super(`shard CA Secret ${where}: tls.crt and tls.key must be a PEM certificate and its key`, { cause });
  }
}

/**
 * The provisioner's shard CA from its Secret (`tls.crt`, `tls.key`), made once: created, never
 * applied, so when two replicas race the loser's create fails with 409 and both use the one that
 * was stored. Its certificate, and never its key, is published in a ConfigMap of the same name
 * for the router and collector. Read on every pass, not cached: a deleted ConfigMap is put back
 * like any other drift.
 * @throws ShardCaInvalidError when the Secret exists but does not hold a certificate and key
 */
export async function loadShardCa(
  objects: KubernetesObjectApi,
  source: { readonly namespace: string; readonly name: string },
  fieldManager: string,
  logger: Logger,
): Promise<ShardCa> {
  const header = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: source.name, namespace: source.namespace },
  };
  let secret = await readObject<V1Secret>(objects, header);
  if (!secret) {
    const { certPem, keyPem } = newShardCa();
    try {
      await objects.create({
        ...header,
        metadata: { ...header.metadata, labels: LABELS },
        type: "kubernetes.io/tls",
        data: {
          "tls.crt": Buffer.from(certPem).toString("base64"),
          "tls.key": Buffer.from(keyPem).toString("base64"),
        },
      } as V1Secret);
      logger.info({ secret: `${source.namespace}/${source.name}` }, "shard CA created");
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    secret = await readObject<V1Secret>(objects, header);
  }
  const decode = (key: string) => Buffer.from(secret?.data?.[key] ?? "", "base64").toString("utf8");
  let ca: ShardCa;
  try {
    ca = parseShardCa(decode("tls.crt"), decode("tls.key"));
  } catch (err) {
    throw new ShardCaInvalidError(`${source.namespace}/${source.name}`, err);
  }
  await applyObject(
    objects,
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { ...header.metadata, labels: LABELS },
      data: { "ca.crt": ca.certPem },
    } as V1ConfigMap,
    fieldManager,
  );
  return ca;
}
