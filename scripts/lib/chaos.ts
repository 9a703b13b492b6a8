// `./scripts/dev chaos`: SIGKILLs a random ready replica (only processes this stack started) at
// random intervals, a bounded number of times, and prints what the platform did about it, as
// the services' public HTTP APIs show it: the scheduler's live replicas and claims, the
// collector group's leader, epoch and targets per member, the projection units' owners.
import type { ChaosOptions } from "./dev-options.ts";
import type { Replica, Supervisor } from "./supervisor.ts";

/** How long after a kill the service's view is watched for changes. */
const WATCH_MS = 60_000;
const WATCH_EVERY_MS = 1_000;

/** The label of the replica whose process id is in a replica/member id (`host:pid:uuid`). */
function labeller(
  supervisor: Supervisor,
  killed: ReadonlyMap<number, string>,
): (id: string | null | undefined) => string {
  return (id) => {
    if (!id) return "nobody";
    const pid = Number(/:(\d+):/.exec(id)?.[1]);
    const replica = supervisor.replicas.find((r) => r.pid === pid);
    if (replica) return replica.spec.label;
    const gone = killed.get(pid);
    return gone ? `${gone} (killed pid ${pid})` : id;
  };
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return res.json();
}

/** One line describing what a service's survivors say about the group; undefined: no view. */
export async function describeGroup(
  supervisor: Supervisor,
  via: Replica,
  killed: ReadonlyMap<number, string> = new Map(),
): Promise<string | undefined> {
  const label = labeller(supervisor, killed);
  switch (via.spec.service) {
    case "scheduler": {
      const body = (await getJson(`${via.url}/v1/replicas`)) as {
        items: Array<{ id: string; claims: number; held: number }>;
      };
      // Claims come and go with every occurrence; who is listed changes when a replica dies.
      const items = body.items.map((r) => label(r.id));
      return `replicas by heartbeat (a dead one's claims return when its lease ends): ${items.sort().join(", ")}`;
    }
    case "collector": {
      const body = (await getJson(`${via.url}/v1/members`)) as {
        leader: string | null;
        epoch: number;
        targets: number;
        members: Array<{ id: string; live: boolean; assignedTargets: number }>;
      };
      const members = body.members
        .filter((m) => m.live)
        .map((m) => `${label(m.id)} ${m.assignedTargets}`)
        .sort();
      return `leader ${label(body.leader)}, epoch ${body.epoch}, ${body.targets} targets assigned: ${members.join(", ")}`;
    }
    case "projection-coordinator": {
      const body = (await getJson(`${via.url}/v1/projections`)) as {
        items: Array<{
          name: string;
          generations: Array<{ state: string; units: Array<{ owner: string | null }> }>;
        }>;
      };
      const owners = new Map<string, number>();
      for (const p of body.items)
        for (const g of p.generations)
          if (g.state !== "retired")
            for (const u of g.units) owners.set(label(u.owner), (owners.get(label(u.owner)) ?? 0) + 1);
      return `projection units by owner: ${[...owners]
        .sort()
        .map(([o, n]) => `${o} ${n}`)
        .join(", ")}`;
    }
    default:
      return undefined;
  }
}

/** Prints the service's group view whenever it changes, for a while after a kill. */
async function watch(
  supervisor: Supervisor,
  service: string,
  killed: ReadonlyMap<number, string>,
  write: (line: string) => void,
): Promise<void> {
  const until = Date.now() + WATCH_MS;
  let last: string | undefined;
  while (Date.now() < until && !supervisor.isStopping) {
    const via = supervisor.replicas.find((r) => r.spec.service === service && r.state === "ready");
    if (via) {
      try {
        const view = await describeGroup(supervisor, via, killed);
        if (view === undefined) return;
        if (view !== last) write(`[chaos] ${service} (asked ${via.spec.label}): ${view}\n`);
        last = view;
      } catch (err) {
        write(
          `[chaos] ${service}: ${via.spec.label} did not answer (${err instanceof Error ? err.message : err})\n`,
        );
      }
    }
    await new Promise((r) => setTimeout(r, WATCH_EVERY_MS));
  }
}

/** Runs the kills; resolves when all are done (or the stack stops). */
export async function runChaos(
  supervisor: Supervisor,
  options: ChaosOptions,
  write: (line: string) => void,
  random: () => number = Math.random,
): Promise<void> {
  const candidates = () => {
    const multi = new Set(supervisor.replicas.filter((r) => r.spec.index > 1).map((r) => r.spec.service));
    // Only services with several replicas: killing a lone one shows a restart, not a hand-over.
    return supervisor.replicas.filter((r) => multi.has(r.spec.service) && r.state === "ready");
  };
  if (candidates().length === 0) {
    write("[chaos] no service runs 2 or more replicas (--replicas 2): nothing to kill\n");
    return;
  }
  write(
    `[chaos] will SIGKILL ${options.kills} random replica(s), one every ${options.minSeconds}–${options.maxSeconds} s\n`,
  );
  const watches: Promise<void>[] = [];
  const killed = new Map<number, string>();
  for (let kill = 1; kill <= options.kills && !supervisor.isStopping; kill++) {
    const waitMs = (options.minSeconds + random() * (options.maxSeconds - options.minSeconds)) * 1000;
    await new Promise((r) => setTimeout(r, waitMs));
    if (supervisor.isStopping) break;
    const ready = candidates();
    const victim = ready[Math.floor(random() * ready.length)];
    if (!victim?.child) {
      write(`[chaos] kill ${kill}/${options.kills}: no replica is ready, skipped\n`);
      continue;
    }
    write(`[chaos] kill ${kill}/${options.kills}: SIGKILL ${victim.spec.label} (pid ${victim.pid})\n`);
    if (victim.pid) killed.set(victim.pid, victim.spec.label);
    const exited = new Promise((r) => victim.child?.once("exit", r));
    victim.child.kill("SIGKILL");
    // Asked only once it is gone, so the view comes from a survivor.
    await exited;
    watches.push(watch(supervisor, victim.spec.service, killed, write));
  }
  await Promise.all(watches);
  write("[chaos] done; the stack keeps running\n");
}
