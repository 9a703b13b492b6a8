import { parseAllDocuments } from "yaml";

/** A Kubernetes object as rendered: only the fields every object has are typed. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  readonly [field: string]: unknown;
}

/** The YAML text could not be read as Kubernetes objects (syntax, duplicate keys, no kind). */
export class ManifestParseError extends Error {
  override readonly name = "ManifestParseError";
  readonly code = "MANIFEST_PARSE";
}

/**
 * Parses a multi-document YAML stream into objects. Duplicate keys are errors (the YAML spec
 * says so, and Kubernetes silently keeps the last one — a classic copy-paste bug in labels).
 */
export function parseManifests(text: string, source: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const doc of parseAllDocuments(text, { uniqueKeys: true })) {
    if (doc.errors.length > 0) {
      throw new ManifestParseError(`${source}: ${doc.errors.map((e) => e.message).join("; ")}`);
    }
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    if (typeof value !== "object" || Array.isArray(value)) {
      throw new ManifestParseError(`${source}: a document is not a mapping`);
    }
    const object = value as Partial<KubeObject>;
    if (!object.apiVersion || !object.kind || !object.metadata?.name) {
      throw new ManifestParseError(`${source}: a document lacks apiVersion, kind or metadata.name`);
    }
    objects.push(object as KubeObject);
  }
  return objects;
}

/** `Kind/name` for messages. */
export function describeObject(object: KubeObject): string {
  return `${object.kind}/${object.metadata.name}`;
}

/** Reads a nested field without casts at every call site: `field(obj, "spec", "replicas")`. */
export function field(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}
