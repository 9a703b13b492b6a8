import * as clientNode from "@kubernetes/client-node";
import { describeObject, type KubeObject } from "./kube-object.ts";

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: unknown) => Validatable;
interface AttributeType {
  readonly baseName: string;
  readonly type: string;
}
interface TypedModel {
  getAttributeTypeMap(): readonly AttributeType[];
}

/** Model modules by apiVersion: kubernetes-models for the built-in kinds, plus the CRDs we emit. */
async function modelsFor(apiVersion: string): Promise<Record<string, unknown> | undefined> {
  try {
    if (apiVersion === "monitoring.coreos.com/v1") {
      return (await import("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1")) as Record<
        string,
        unknown
      >;
    }
    // Resolved at run time from the object; no bundler should try to follow it.
    return (await import(/* @vite-ignore */ `kubernetes-models/${apiVersion}`)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The @kubernetes/client-node model of a built-in kind (V1Deployment, V2HorizontalPodAutoscaler). */
function typedModel(apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.split("/").pop() ?? "";
  const name = `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
  return name in clientNode ? name : undefined;
}

const MAP_TYPE = /^\{ \[key: string\]: (.+); \}$/;
const ARRAY_TYPE = /^Array<(.+)>$/;

/**
 * Fields the API does not know, found by walking the object along the client's generated
 * models (what `kubectl --validate=strict` and kubeconform --strict reject). JSON-schema
 * validation alone accepts them, and the API server silently drops them: `livenesProbe:` would
 * deploy a pod without a liveness probe.
 */
function unknownFields(value: unknown, type: string, path: string, out: string[]): void {
  if (value === null || value === undefined) return;
  const array = ARRAY_TYPE.exec(type);
  if (array?.[1] && Array.isArray(value)) {
    for (const [i, item] of value.entries()) unknownFields(item, array[1], `${path}[${i}]`, out);
    return;
  }
  const map = MAP_TYPE.exec(type);
  if (map?.[1] && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) unknownFields(item, map[1], `${path}.${key}`, out);
    return;
  }
  const model = (clientNode as unknown as Record<string, TypedModel | undefined>)[type];
  if (!model || typeof model.getAttributeTypeMap !== "function" || typeof value !== "object") return;
  const attributes = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [key, item] of Object.entries(value)) {
    const childType = attributes.get(key);
    if (childType === undefined) out.push(`${path}.${key}: unknown field`);
    else unknownFields(item, childType, `${path}.${key}`, out);
  }
}

/**
 * kustomize wraps long base64 values of a Secret over several lines; Go's decoder (and so the
 * API server) skips the newlines, but the "byte" format check does not.
 */
function asDecoded(object: KubeObject): KubeObject {
  if (object.kind !== "Secret" || !object.data || typeof object.data !== "object") return object;
  const data = Object.fromEntries(
    Object.entries(object.data as Record<string, string>).map(([k, v]) => [k, String(v).replace(/\s+/g, "")]),
  );
  return { ...object, data };
}

/**
 * Validates each object against the Kubernetes schema of its kind: types, required fields and
 * enums (kubernetes-models, @kubernetes-models/prometheus-operator), and unknown fields (the
 * generated client models). A kind we have no schema for is itself a problem.
 */
export async function validateAgainstSchemas(objects: readonly KubeObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const object of objects) {
    const where = `${object.apiVersion} ${describeObject(object)}`;
    const Model = (await modelsFor(object.apiVersion))?.[object.kind] as ModelClass | undefined;
    if (!Model) {
      problems.push(`${where}: no schema known for this apiVersion and kind`);
      continue;
    }
    try {
      new Model(asDecoded(object)).validate();
    } catch (err) {
      problems.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const typed = typedModel(object.apiVersion, object.kind);
    if (typed) {
      const unknown: string[] = [];
      unknownFields(object, typed, "", unknown);
      problems.push(...unknown.map((p) => `${where}: ${p.slice(1)}`));
    }
  }
  return problems;
}
