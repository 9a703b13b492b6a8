import {
  ApiException,
  type KubernetesObject,
  type KubernetesObjectApi,
  PatchStrategy,
} from "@kubernetes/client-node";

/** Whether a client-node call failed because the object (or its kind) does not exist. */
export function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

/**
 * Server-side apply of the full desired object under `fieldManager`, forced: an operator is the
 * owner of what it declares, so a field someone else changed (a replica count edited by hand)
 * is taken back instead of failing with 409. Applying an unchanged object changes nothing on the
 * server (same resourceVersion).
 */
export function applyObject<T extends KubernetesObject>(
  objects: KubernetesObjectApi,
  desired: T,
  fieldManager: string,
): Promise<T> {
  return objects.patch(desired, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
}

/** Reads an object, or undefined when it does not exist. */
export async function readObject<T extends KubernetesObject>(
  objects: KubernetesObjectApi,
  header: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
): Promise<T | undefined> {
  try {
    return (await objects.read(header as never)) as T;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Deletes an object; false when it was already gone. */
export async function deleteObject(
  objects: KubernetesObjectApi,
  header: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
): Promise<boolean> {
  try {
    await objects.delete(header, undefined, undefined, undefined, undefined, "Background");
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
