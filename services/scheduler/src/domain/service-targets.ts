import { servicePermissions } from "@dbplane/bus";
import { SERVICES, type ServiceName, serviceSource } from "@dbplane/contracts";

/** The owner id of a job a service scheduled with the `schedule-job` command: `service:<ce-source>`. */
const SERVICE_OWNER_PREFIX = "service:";

export function serviceOwnerId(source: string): string {
  return `${SERVICE_OWNER_PREFIX}${source}`;
}

/** Whether an owner id is a service's (`service:…`), known or not: tokens may not use the prefix. */
export function isServiceOwnerId(id: string | null): id is string {
  return id?.startsWith(SERVICE_OWNER_PREFIX) ?? false;
}

/** The service an owner id names (`service:dbplane/router` → `router`), null for any other. */
export function serviceOfOwner(id: string | null): ServiceName | null {
  if (!isServiceOwnerId(id)) return null;
  const source = id.slice(SERVICE_OWNER_PREFIX.length);
  return SERVICES.find((service) => serviceSource(service) === source) ?? null;
}

/**
 * What each service may publish itself, as the chart's NATS permissions say (derived from the
 * contracts: its own events, and the commands whose `sentBy` names it): only the dbplane
 * commands and events, not the dead letters and JetStream API calls the bus makes for it.
 */
let permissions: ReturnType<typeof servicePermissions> | undefined;
function publishableBy(service: ServiceName) {
  permissions ??= servicePermissions();
  const { allow, deny } = permissions[service].publish;
  return { allow: allow.filter((s) => /^dbplane\.(?:cmd|evt)\./.test(s)), deny };
}

/** NATS subject matching: `*` is one token, a final `>` one or more. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return i === p.length - 1 && s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/**
 * Why `service` may not have a job publishing to `logicalSubject`, or null when it may: a service
 * schedules only what it could publish itself (the router its `rebalance-check`), so a service
 * that can send `schedule-job` gains nothing by it — it cannot make the scheduler send another
 * service's commands (`delete-database`) or forge another service's events.
 */
export function serviceTargetProblem(service: ServiceName, logicalSubject: string): string | null {
  const { allow, deny } = publishableBy(service);
  const allowed =
    allow.some((p) => subjectMatches(p, logicalSubject)) &&
    !deny.some((p) => subjectMatches(p, logicalSubject));
  if (allowed) return null;
  return `the ${service} service may not publish ${JSON.stringify(logicalSubject)} itself (only its own events and the commands whose sentBy names it), so it may not schedule it either`;
}
