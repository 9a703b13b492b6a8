export type { KubeClient } from "./kube-config.ts";
export { connectKube } from "./kube-config.ts";
export { labelSelector, listLabelled } from "./label-selector.ts";
export type { PasswordRefOwner, PasswordRefScope } from "./password-ref-scope.ts";
export { passwordRefRefusal } from "./password-ref-scope.ts";
export type { PasswordRef } from "./password-resolver.ts";
export {
  PasswordRefRefusedError,
  PasswordResolver,
  PasswordUnavailableError,
  SECRET_CACHE_MAX_ENTRIES,
  SECRET_TTL_MS,
} from "./password-resolver.ts";
export { podNamespace } from "./pod-namespace.ts";
export type { InformedResource, ResourceInformer, ResourceInformerOptions } from "./resource-informer.ts";
export { createResourceInformer, resourcePath } from "./resource-informer.ts";
export type { KubeAccess, SecretSource } from "./secret-access.ts";
export { kubeAccess } from "./secret-access.ts";
export { applyObject, deleteObject, isNotFound, readObject } from "./server-side-apply.ts";
