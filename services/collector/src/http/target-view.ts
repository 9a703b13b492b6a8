import type { Redis } from "ioredis";
import type { SampleStore } from "../collection/sample-store.ts";
import type { CoordinationKeys } from "../coordination/coordination-keys.ts";
import { ownersOf } from "../coordination/group-view.ts";
import { displayEndpoint } from "../domain/target-spec.ts";
import type { TargetRegistry } from "../targets/target-registry.ts";
import type { TargetResource } from "./target-schemas.ts";

export interface TargetViewDeps {
  readonly redis: Redis;
  readonly keys: CoordinationKeys;
  readonly registry: TargetRegistry;
  readonly samples: SampleStore;
}

/** Specs, owners, health and last samples of `ids`, joined (unknown ids are left out). */
export async function targetResources(
  deps: TargetViewDeps,
  ids: readonly string[],
): Promise<TargetResource[]> {
  const [specs, owners, healths, samples] = await Promise.all([
    deps.registry.get(ids),
    ownersOf(deps.redis, deps.keys, ids),
    deps.samples.healths(ids),
    deps.samples.samples(ids),
  ]);
  return ids.flatMap((id, i) => {
    const spec = specs[i];
    if (!spec) return [];
    return [
      {
        id,
        engine: spec.engine,
        source: spec.source,
        endpoint: displayEndpoint(spec.url),
        ...(spec.shard && { shard: spec.shard }),
        owner: owners[i] ?? null,
        health: healths[i] ?? null,
        lastSample: samples[i] ?? null,
      },
    ];
  });
}
