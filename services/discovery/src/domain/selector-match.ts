import type { Labels, Service, Workload } from "./cluster-objects.ts";
import { RUNTIME_POD_LABELS } from "./operators.ts";

/**
 * Whether a Service's selector reaches a workload's pods, judged from the pod template. Labels
 * that controllers add to running pods (pod name, role) are not in the template; they narrow
 * which pods are reached (see `roleOfSelector`) but do not decide whether the workload is.
 */
export function selectsWorkload(service: Service, workload: Workload): boolean {
  if (service.namespace !== workload.namespace) return false;
  return selectsLabels(service.selector, workload.podLabels);
}

export function selectsLabels(selector: Labels, podLabels: Labels): boolean {
  const fixed = Object.entries(selector).filter(([key]) => !RUNTIME_POD_LABELS.has(key));
  return fixed.length > 0 && fixed.every(([key, value]) => podLabels[key] === value);
}
