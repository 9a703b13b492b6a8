import type { HttpApp } from "@dbplane/service-kit";
import { z } from "zod";
import { buildGraph, renderMermaid } from "../domain/graph.ts";
import { filterRecords } from "../domain/inventory-filter.ts";
import type { Inventory } from "../domain/inventory-types.ts";
import { appList, databaseList, filterOf, inventoryQuery } from "./inventory-schemas.ts";

const MERMAID = "text/vnd.mermaid";

const graphQuery = inventoryQuery.extend({
  format: z
    .enum(["json", "mermaid"])
    .optional()
    .describe(`mermaid: the graph as Mermaid text (as does Accept: ${MERMAID})`),
});

const graphBody = z.object({
  nodes: z.array(
    z.object({
      id: z.string(),
      type: z.enum(["database", "app", "external"]),
      label: z.string(),
      namespace: z.string().optional(),
    }),
  ),
  edges: z.array(
    z.object({ from: z.string(), to: z.string(), via: z.string(), role: z.string().optional() }),
  ),
});

/** `/v1/databases`, `/v1/apps`, `/v1/graph`: what this replica sees now, filtered. */
export function registerInventoryRoutes(app: HttpApp, inventory: () => Inventory): void {
  /** Route options of a filtered list of the inventory. */
  const list = <R>(summary: string, response: R) => ({
    schema: { summary, tags: ["inventory"], querystring: inventoryQuery, response: { 200: response } },
  });

  app.get("/v1/databases", list("PostgreSQL servers and databases found", databaseList), async (request) => ({
    items: filterRecords(inventory().databases, filterOf(request.query)),
  }));

  app.get(
    "/v1/apps",
    list("Applications that use a database, each linked to what it reaches", appList),
    async (request) => ({ items: filterRecords(inventory().apps, filterOf(request.query)) }),
  );

  app.get(
    "/v1/graph",
    {
      schema: {
        summary: "Apps → databases: JSON, or Mermaid text with ?format=mermaid or Accept: text/vnd.mermaid",
        tags: ["inventory"],
        querystring: graphQuery,
        // The Mermaid rendering is a string; declaring it keeps the reply typed for both forms.
        response: { 200: z.union([graphBody, z.string().describe(`Mermaid text (${MERMAID})`)]) },
      },
    },
    async (request, reply) => {
      const filter = filterOf(request.query);
      const current = inventory();
      const apps = filterRecords(current.apps, filter);
      // The filtered databases, and those the filtered apps use wherever they live.
      const used = new Set(apps.flatMap((a) => a.databases.map((d) => d.databaseId)));
      const shown = new Set(filterRecords(current.databases, filter));
      const databases = current.databases.filter((d) => shown.has(d) || used.has(d.id));
      const graph = buildGraph({ databases, apps }, apps);
      const wantsMermaid =
        request.query.format === "mermaid" ||
        (request.query.format === undefined && (request.headers.accept ?? "").includes(MERMAID));
      if (!wantsMermaid) return graph;
      return reply
        .type(`${MERMAID}; charset=utf-8`)
        .serializer((payload: unknown) => String(payload))
        .send(renderMermaid(graph));
    },
  );
}
