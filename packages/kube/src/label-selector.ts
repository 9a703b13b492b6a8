import type { KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";

/** `{ a: "1", b: "2" }` → `a=1,b=2`: an equality-based label selector. */
export function labelSelector(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

/**
 * Every object of a kind in a namespace that carries all `labels`, across pages. List items of
 * built-in kinds come without `apiVersion`/`kind`; they are filled in so the items can be passed
 * straight back to read, apply or delete.
 */
export async function listLabelled(
  objects: KubernetesObjectApi,
  apiVersion: string,
  kind: string,
  namespace: string,
  labels: Readonly<Record<string, string>>,
): Promise<KubernetesObject[]> {
  const out: KubernetesObject[] = [];
  let token: string | undefined;
  do {
    const page = await objects.list(
      apiVersion,
      kind,
      namespace,
      undefined,
      undefined,
      undefined,
      undefined,
      labelSelector(labels),
      500,
      token,
    );
    for (const item of page.items) out.push({ ...item, apiVersion, kind });
    token = page.metadata?._continue || undefined;
  } while (token);
  return out;
}
