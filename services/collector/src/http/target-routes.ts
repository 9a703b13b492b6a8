import { type HttpApp, NotFoundError } from "@dbplane/service-kit";
import { readGroup } from "../coordination/group-view.ts";
import { groupResource, targetIdParams, targetPage, targetQuery, targetResource } from "./target-schemas.ts";
import { type TargetViewDeps, targetResources } from "./target-view.ts";

/** Ids read per round while filling a filtered page. */
const SCAN_CHUNK = 500;

/** `GET /v1/targets`, `GET /v1/targets/:id`, `GET /v1/members`: the whole group's view, from any replica. */
export function registerTargetRoutes(app: HttpApp, deps: TargetViewDeps & { nodeTimeoutMs: number }): void {
  app.get(
    "/v1/targets",
    {
      schema: {
        summary:
          "List targets in id order with owner, health and last sample; filter by engine, health, owner, source",
        tags: ["targets"],
        querystring: targetQuery,
        response: { 200: targetPage },
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const items: Awaited<ReturnType<typeof targetResources>> = [];
      let after = cursor;
      for (;;) {
        const ids = await deps.registry.page(after, SCAN_CHUNK);
        const page = await targetResources(deps, ids);
        for (const item of page) {
          after = item.id;
          const keep =
            (!filter.engine || item.engine === filter.engine) &&
            (!filter.health || item.health?.state === filter.health) &&
            (!filter.owner || item.owner === filter.owner) &&
            (!filter.source || item.source === filter.source);
          if (keep) items.push(item);
          if (items.length === limit) return { items, nextCursor: item.id };
        }
        if (ids.length < SCAN_CHUNK) return { items, nextCursor: null };
        after = ids.at(-1);
      }
    },
  );

  app.get(
    "/v1/targets/:id",
    {
      schema: {
        summary: "Read one target",
        tags: ["targets"],
        params: targetIdParams,
        response: { 200: targetResource },
      },
    },
    async (request) => {
      const [found] = await targetResources(deps, [request.params.id]);
      if (!found) throw new NotFoundError(`target "${request.params.id}" is not known`);
      return found;
    },
  );

  app.get(
    "/v1/members",
    {
      schema: {
        summary: "Members of the collector group: leader, epoch, heartbeats and targets per member",
        tags: ["members"],
        response: { 200: groupResource },
      },
    },
    async () => readGroup(deps.redis, deps.keys, deps.nodeTimeoutMs),
  );
}
