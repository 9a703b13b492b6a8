import { isObject, type JsonObject } from "./patches.ts";
import type { ResourceDefinition } from "./resource-registry.ts";

function isCore(def: ResourceDefinition, kind: string): boolean {
  return def.group === "" && def.kind === kind;
}

/**
 * The few per-kind rules of the real server that callers can observe: a Secret's `stringData` is
 * folded into base64 `data` and its `type` defaults to Opaque; a Namespace is Active. No other
 * defaulting is done (a StatefulSet without `replicas` stays without it).
 */
export function normalizeForKind(
  def: ResourceDefinition,
  obj: JsonObject,
  _live: JsonObject | undefined,
): void {
  if (isCore(def, "Secret")) {
    if (isObject(obj.stringData)) {
      const data: JsonObject = isObject(obj.data) ? { ...obj.data } : {};
      for (const [key, value] of Object.entries(obj.stringData)) {
        data[key] = Buffer.from(String(value), "utf8").toString("base64");
      }
      obj.data = data;
    }
    delete obj.stringData;
    obj.type ??= "Opaque";
  }
  if (isCore(def, "Namespace")) {
    const status = isObject(obj.status) ? obj.status : {};
    status.phase ??= "Active";
    obj.status = status;
  }
}

function generationOf(obj: JsonObject): number {
  return isObject(obj.metadata) ? Number(obj.metadata.generation ?? 1) : 1;
}

function replicasOf(obj: JsonObject): number {
  const spec = isObject(obj.spec) ? obj.spec : {};
  return typeof spec.replicas === "number" ? spec.replicas : 1;
}

/**
 * The status a controller would write once the workload is fully rolled out and ready (a Job:
 * complete; a Pod: running and ready), or undefined for kinds that have no such notion here.
 */
export function readyStatusFor(def: ResourceDefinition, obj: JsonObject): JsonObject | undefined {
  const observedGeneration = generationOf(obj);
  const n = replicasOf(obj);
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const name = isObject(obj.metadata) ? String(obj.metadata.name) : "";
  switch (`${def.group}/${def.kind}`) {
    case "apps/StatefulSet":
      return {
        observedGeneration,
        replicas: n,
        readyReplicas: n,
        currentReplicas: n,
        updatedReplicas: n,
        availableReplicas: n,
        currentRevision: `${name}-${observedGeneration}`,
        updateRevision: `${name}-${observedGeneration}`,
        collisionCount: 0,
      };
    case "apps/Deployment":
      return {
        observedGeneration,
        replicas: n,
        readyReplicas: n,
        updatedReplicas: n,
        availableReplicas: n,
        conditions: [
          { type: "Available", status: "True", reason: "MinimumReplicasAvailable", lastTransitionTime: now },
          { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable", lastTransitionTime: now },
        ],
      };
    case "apps/DaemonSet":
      return {
        observedGeneration,
        desiredNumberScheduled: 1,
        currentNumberScheduled: 1,
        updatedNumberScheduled: 1,
        numberReady: 1,
        numberAvailable: 1,
        numberMisscheduled: 0,
      };
    case "batch/Job":
      return {
        startTime: now,
        completionTime: now,
        succeeded: 1,
        ready: 0,
        conditions: [
          { type: "SuccessCriteriaMet", status: "True", lastTransitionTime: now },
          { type: "Complete", status: "True", lastTransitionTime: now },
        ],
      };
    case "/Pod":
      return {
        phase: "Running",
        podIP: "10.244.0.10",
        conditions: [
          { type: "Ready", status: "True", lastTransitionTime: now },
          { type: "ContainersReady", status: "True", lastTransitionTime: now },
        ],
      };
    default:
      return undefined;
  }
}
