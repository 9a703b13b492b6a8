import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeObject } from "@dbplane/testkit";
import { Ajv, type ValidateFunction } from "ajv";
import { parse } from "yaml";

/** CloudNativePG's own CRDs (test/fixtures/cloudnativepg, from its repository), as the cluster would hold them. */
export const CNPG_CRD_FILES = ["clusters", "backups", "scheduledbackups"] as const;
type Plural = (typeof CNPG_CRD_FILES)[number];

export function cnpgCrd(plural: Plural): KubeObject {
  const path = join(import.meta.dirname, "fixtures/cloudnativepg", `postgresql.cnpg.io_${plural}.yaml`);
  return parse(readFileSync(path, "utf8")) as KubeObject;
}

type Schema = Record<string, unknown>;

/**
 * The API server prunes fields a structural schema does not name; a field the driver writes that
 * CloudNativePG's schema lacks would vanish in silence. So every object that lists its
 * properties (and does not preserve unknown fields) refuses others here.
 */
function refusingPrunedFields(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(refusingPrunedFields);
  if (!schema || typeof schema !== "object") return schema;
  const out: Schema = Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [
      key,
      key === "properties"
        ? Object.fromEntries(Object.entries(value as Schema).map(([k, v]) => [k, refusingPrunedFields(v)]))
        : refusingPrunedFields(value),
    ]),
  );
  if (
    out.properties &&
    out.additionalProperties === undefined &&
    !out["x-kubernetes-preserve-unknown-fields"]
  )
    out.additionalProperties = false;
  return out;
}

// Kubernetes' OpenAPI formats, which JSON Schema does not define: the types around them still count.
const ajv = new Ajv({
  strict: false,
  allErrors: true,
  formats: { int32: true, int64: true, double: true, byte: true, "date-time": true },
});

/**
 * A validator of one CRD's served `v1` schema (OpenAPI v3 as JSON Schema, with the API server's
 * pruning as an error). CEL rules (`x-kubernetes-validations`) are not evaluated.
 */
export function cnpgValidator(plural: Plural): ValidateFunction {
  const crd = cnpgCrd(plural) as {
    spec: { versions: { name: string; schema: { openAPIV3Schema: Schema } }[] };
  };
  const version = crd.spec.versions.find((v) => v.name === "v1");
  if (!version) throw new Error(`${plural}: no v1 in the CRD`);
  const schema = refusingPrunedFields(version.schema.openAPIV3Schema) as Schema;
  // metadata is `type: object` in every CRD: the API server checks it, not the schema.
  return ajv.compile({
    ...schema,
    properties: { ...(schema.properties as Schema), metadata: { type: "object" } },
  });
}

/** The problems of `obj` under the validator, one line each; empty when it is valid. */
export function schemaErrors(validate: ValidateFunction, obj: unknown): string[] {
  if (validate(obj)) return [];
  return (validate.errors ?? []).map(
    (e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`,
  );
}
