// The reshard's steps as the router replicas logged them (pino JSON lines at info): fence raised,
// acknowledged, lifted, phase changes, replication objects. With the writer's samples they show
// where a fence's time went.
import type { ServiceReplica } from "@dbplane/testkit";

const STEPS = /fence|reshard|subscription|publication|slot|copy|cut over|replication objects|moved rows/i;

export interface TimelineLine {
  /** ms since the epoch */
  readonly at: number;
  readonly replica: string;
  readonly msg: string;
  readonly detail: string;
}

export function routerTimeline(replicas: readonly ServiceReplica[], from: number): TimelineLine[] {
  const lines: TimelineLine[] = [];
  for (const r of replicas) {
    for (const raw of r.svc.output().split("\n")) {
      if (!raw.startsWith("{")) continue;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        continue;
      }
      const msg = String(entry.msg ?? "");
      const at = Date.parse(String(entry.time));
      if (!STEPS.test(msg) || !(at >= from)) continue;
      const detail = [
        "phase",
        "ackMs",
        "pauseMs",
        "mapVersion",
        "rowsTotal",
        "parts",
        "streams",
        "planMs",
        "slotMs",
        "subscriptionMs",
        "ms",
        "deleted",
        "err",
      ]
        .filter((k) => entry[k] !== undefined)
        .map(
          (k) => `${k}=${typeof entry[k] === "object" ? JSON.stringify(entry[k]).slice(0, 160) : entry[k]}`,
        )
        .join(" ");
      lines.push({ at, replica: r.name, msg, detail });
    }
  }
  return lines.sort((a, b) => a.at - b.at);
}
