import { KubeConfig, KubernetesObjectApi } from "@kubernetes/client-node";

/** A connection to one cluster: the object API and the namespace objects go to by default. */
export interface KubeClient {
  readonly config: KubeConfig;
  readonly objects: KubernetesObjectApi;
}

/**
 * Loads a kubeconfig: the file at `path` when given, else client-node's default order
 * (`KUBECONFIG`, `~/.kube/config`, then the in-cluster service account).
 */
export function connectKube(path?: string): KubeClient {
  const config = new KubeConfig();
  if (path) config.loadFromFile(path);
  else config.loadFromDefault();
  return { config, objects: KubernetesObjectApi.makeApiClient(config) };
}
