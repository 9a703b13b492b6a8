import { ApiException, CoreV1Api, KubeConfig } from "@kubernetes/client-node";

/** Reads the `data` of one Secret (values base64, as the API serves them); undefined when it does not exist. */
export interface SecretSource {
  readData(namespace: string, name: string): Promise<Record<string, string> | undefined>;
}

/** How a service reaches the Kubernetes API to read Secrets, or why it cannot. */
export type KubeAccess =
  | { readonly kind: "configured"; readonly source: SecretSource }
  | { readonly kind: "none"; readonly reason: string };

/**
 * Kubernetes access for reading Secrets: the kubeconfig at `kubeconfigPath` when given, else
 * the pod's service account when running in a pod (`KUBERNETES_SERVICE_HOST` set), else none —
 * `~/.kube/config` is deliberately not consulted, so a developer's laptop context never leaks
 * into a locally run service. `who` names the service in the reason given when there is none.
 */
export function kubeAccess(
  kubeconfigPath: string | undefined,
  who: string,
  env: NodeJS.ProcessEnv = process.env,
): KubeAccess {
  const config = new KubeConfig();
  if (kubeconfigPath) config.loadFromFile(kubeconfigPath);
  else if (env.KUBERNETES_SERVICE_HOST) config.loadFromCluster();
  else {
    return {
      kind: "none",
      reason: `the ${who} has no Kubernetes access configured (set DBPLANE_KUBECONFIG, or run it in a pod)`,
    };
  }
  const core = config.makeApiClient(CoreV1Api);
  return {
    kind: "configured",
    source: {
      async readData(namespace, name) {
        try {
          const secret = await core.readNamespacedSecret({ namespace, name });
          return secret.data ?? {};
        } catch (err) {
          if (err instanceof ApiException && err.code === 404) return undefined;
          throw err;
        }
      },
    },
  };
}
