import { locateKubectl } from "./helm-binary.ts";
import { type KubeObject, parseManifests } from "./kube-object.ts";
import { runTool, toolMessage } from "./tool-process.ts";

/** `kubectl kustomize` could not build the directory (bad path, bad patch, typo in a field). */
export class KustomizeError extends Error {
  override readonly name = "KustomizeError";
  readonly code = "KUSTOMIZE_FAILED";
}

/** Renders a kustomization with `kubectl kustomize` (offline: no cluster is contacted). */
export function renderKustomization(dir: string): KubeObject[] {
  const out = runTool(locateKubectl(), ["kustomize", dir], {
    installHint: "put kubectl on PATH or set DBPLANE_KUBECTL",
  });
  if (out.status !== 0) throw new KustomizeError(`kubectl kustomize ${dir}: ${toolMessage(out)}`);
  return parseManifests(out.stdout, `kubectl kustomize ${dir}`);
}
