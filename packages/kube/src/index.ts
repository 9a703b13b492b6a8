export type { KubeClient } from "./kube-config.ts";
export { connectKube } from "./kube-config.ts";
export { labelSelector, listLabelled } from "./label-selector.ts";
export { applyObject, deleteObject, isNotFound, readObject } from "./server-side-apply.ts";
