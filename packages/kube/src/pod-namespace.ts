import { readFileSync } from "node:fs";

/** Where Kubernetes mounts the namespace of the pod's service account. */
const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/** The namespace this pod runs in (the release namespace), or `default` outside a cluster. */
export function podNamespace(path = SERVICE_ACCOUNT_NAMESPACE): string {
  try {
    return readFileSync(path, "utf8").trim() || "default";
  } catch {
    return "default";
  }
}
