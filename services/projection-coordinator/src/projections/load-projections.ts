import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ProjectionDefinition } from "@dbplane/projections";
import { auditProjection } from "./audit.ts";
import { fleetProjection } from "./fleet.ts";

export const BUILT_IN_PROJECTIONS: readonly ProjectionDefinition[] = [fleetProjection, auditProjection];

export class UnknownProjectionError extends Error {
  override readonly name = "UnknownProjectionError";
}

function isProjection(value: unknown): value is ProjectionDefinition {
  const v = value as Partial<ProjectionDefinition> | null;
  return (
    typeof v?.name === "string" &&
    typeof v.version === "number" &&
    typeof v.handle === "function" &&
    typeof v.setup === "function"
  );
}

/**
 * The projections this replica runs: `names` picked from the built-ins and from every
 * `defineProjection` value the modules export (users' own projections in this image).
 */
export async function loadProjections(
  names: readonly string[],
  modules: readonly string[],
): Promise<ProjectionDefinition[]> {
  const available = new Map(BUILT_IN_PROJECTIONS.map((p) => [p.name, p]));
  for (const path of modules) {
    const exports = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
    for (const value of Object.values(exports)) if (isProjection(value)) available.set(value.name, value);
  }
  return names.map((name) => {
    const found = available.get(name);
    if (!found)
      throw new UnknownProjectionError(
        `no projection named ${name}; known: ${[...available.keys()].join(", ")}`,
      );
    return found;
  });
}
