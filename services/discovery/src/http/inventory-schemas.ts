import { appDiscovered, databaseDiscovered } from "@dbplane/contracts";
import { ValidationError } from "@dbplane/service-kit";
import { z } from "zod";
import { type InventoryFilter, parseLabelSelector } from "../domain/inventory-filter.ts";

export const inventoryQuery = z.object({
  namespace: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a namespace name (DNS-1123 label)")
    .max(63)
    .optional()
    .describe("Only what was found in this Kubernetes namespace"),
  label: z
    .string()
    .min(1)
    .max(1_000)
    .optional()
    .describe(
      "Label selector on the object it was found in: k=v, k!=v, k, !k, comma-separated (all must hold)",
    ),
});

export const databaseResource = databaseDiscovered.schema.omit({ observedAt: true });
export const appResource = appDiscovered.schema.omit({ observedAt: true });

export const databaseList = z.object({ items: z.array(databaseResource) });
export const appList = z.object({ items: z.array(appResource) });

/** The query as a filter; a malformed label selector is a 400 naming `query.label`. */
export function filterOf(query: z.output<typeof inventoryQuery>): InventoryFilter {
  try {
    return {
      ...(query.namespace !== undefined && { namespace: query.namespace }),
      ...(query.label !== undefined && { labels: parseLabelSelector(query.label) }),
    };
  } catch (err) {
    const message = err instanceof RangeError ? err.message : "is not a label selector";
    throw new ValidationError(`Invalid request: query.label`, {
      errors: [{ field: "query.label", message }],
    });
  }
}
