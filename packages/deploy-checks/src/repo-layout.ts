import { resolve } from "node:path";

/** The repository root this package lives in (packages/deploy-checks/src → ../../..). */
export const REPO_ROOT = resolve(import.meta.dirname, "../../..");

/** Where the deployment artefacts live, relative to a repository root. */
export const LAYOUT = {
  chart: "helm/dbplane",
  kustomizeBase: "k8s/base",
  overlays: "k8s/overlays",
  overlayNames: ["dev", "staging", "production"],
  tiltRegistry: "tilt/services.yaml",
  services: "services",
} as const;
