import type { CoordinationTables } from "@dbplane/projections";
import { type ProjectionRuntime, projectionOverview, type UnitOverview } from "@dbplane/projections";
import { type HttpApp, NotFoundError } from "@dbplane/service-kit";
import type pg from "pg";
import { z } from "zod";

const unitResource = z.object({
  partition: z.int(),
  owner: z.string().nullable().describe("Member id of the replica running the unit"),
  token: z.number().describe("Fencing token of the current ownership"),
  checkpoint: z.number().describe("Last applied DBPLANE_EVT stream sequence"),
  checkpointAt: z.string().nullable(),
  appliedEvents: z.number(),
  lagEvents: z.number().nullable(),
  lagSeconds: z.number().nullable(),
});
const generationResource = z.object({
  generation: z.int(),
  version: z.int(),
  state: z.enum(["building", "active", "retired"]),
  lagEvents: z.number().describe("Sum over units, as their owners last reported"),
  lagSeconds: z.number().describe("Worst unit"),
  units: z.array(unitResource),
});
const projectionList = z.object({
  items: z.array(z.object({ name: z.string(), generations: z.array(generationResource) })),
});
const nameParams = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, "must be a projection name"),
});
const rebuildAccepted = z.object({
  projection: z.string(),
  generation: z.int(),
  version: z.int(),
  state: z.literal("building"),
});

function group(units: readonly UnitOverview[]): z.input<typeof projectionList> {
  const byProjection = new Map<string, Map<number, z.input<typeof generationResource>>>();
  for (const u of units) {
    const gens = byProjection.get(u.projection) ?? new Map();
    byProjection.set(u.projection, gens);
    const g = gens.get(u.generation) ?? {
      generation: u.generation,
      version: u.version,
      state: u.state,
      lagEvents: 0,
      lagSeconds: 0,
      units: [],
    };
    gens.set(u.generation, g);
    g.lagEvents += u.lagEvents ?? 0;
    g.lagSeconds = Math.max(g.lagSeconds, u.lagSeconds ?? 0);
    g.units.push({ ...u, checkpointAt: u.checkpointAt?.toISOString() ?? null });
  }
  return { items: [...byProjection].map(([name, gens]) => ({ name, generations: [...gens.values()] })) };
}

/** `/v1/projections`: units, owners, checkpoints and lag; rebuild into a new generation. */
export function registerProjectionRoutes(
  app: HttpApp,
  deps: { pool: pg.Pool; tables: CoordinationTables; runtime: ProjectionRuntime },
): void {
  app.get(
    "/v1/projections",
    {
      schema: {
        summary: "Projections with their generations and units (owner, checkpoint, lag)",
        tags: ["projections"],
        response: { 200: projectionList },
      },
    },
    async () => group(await projectionOverview(deps.pool, deps.tables)),
  );

  app.post(
    "/v1/projections/:name/rebuild",
    {
      config: { scope: "admin" },
      schema: {
        summary:
          "Rebuild a projection into a new generation of tables; the active one serves reads until it caught up",
        tags: ["projections"],
        params: nameParams,
        response: { 202: rebuildAccepted },
      },
    },
    async (request, reply) => {
      const definition = deps.runtime.definitions.get(request.params.name);
      if (!definition)
        throw new NotFoundError(`no projection ${JSON.stringify(request.params.name)} runs here`);
      const created = await deps.runtime.generations.rebuild(definition);
      return reply.code(202).send({
        projection: created.projection,
        generation: created.generation,
        version: created.version,
        state: "building" as const,
      });
    },
  );
}
