import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";

export interface KubeConfigFile {
  readonly yaml: string;
  readonly path: string;
  remove(): Promise<void>;
}

/**
 * A kubeconfig for the double. Plain HTTP needs `insecure-skip-tls-verify` or client-node refuses
 * it; the token is a placeholder (the double authorises everyone) so the auth header path still runs.
 */
export function kubeConfigYaml(server: string, namespace: string): string {
  const name = "dbplane-kube-api-double";
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server, "insecure-skip-tls-verify": true } }],
    users: [{ name, user: { token: "kube-api-double" } }],
    contexts: [{ name, context: { cluster: name, user: name, namespace } }],
    "current-context": name,
  });
}

/** Writes the kubeconfig to a fresh temp directory, for code that reads `KUBECONFIG`. */
export async function writeKubeConfig(server: string, namespace: string): Promise<KubeConfigFile> {
  const dir = await mkdtemp(join(tmpdir(), "kube-api-double-"));
  const path = join(dir, "kubeconfig.yaml");
  const yaml = kubeConfigYaml(server, namespace);
  await writeFile(path, yaml, { mode: 0o600 });
  return { yaml, path, remove: () => rm(dir, { recursive: true, force: true }) };
}
