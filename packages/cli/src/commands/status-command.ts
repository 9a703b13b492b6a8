import type { Command } from "commander";
import { CliError } from "../cli-error.ts";
import { globalOptions, targetOf } from "../command-options.ts";
import { ExitCode } from "../exit-codes.ts";
import { describeFleet, readFleetSummary } from "../fleet-summary.ts";
import { printResult, renderTable } from "../output-format.ts";
import { SERVICE_NAMES, type ServiceName } from "../service-names.ts";

/** A probe that does not answer in this time counts as not ready: status is for a glance. */
const PROBE_TIMEOUT_MS = 5_000;

interface ServiceStatus {
  readonly service: ServiceName;
  readonly url: string;
  readonly ready: boolean;
  readonly version: string | null;
  readonly detail: string;
}

async function probe(service: ServiceName, url: string): Promise<ServiceStatus> {
  const get = (path: string) => fetch(new URL(path, url), { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  try {
    const [ready, docs] = await Promise.all([get("/health/ready"), get("/docs/json").catch(() => undefined)]);
    const body = (await ready.json().catch(() => ({}))) as { detail?: string; failing?: string[] };
    const version = docs?.ok
      ? ((await docs.json()) as { info?: { version?: string } }).info?.version
      : undefined;
    return {
      service,
      url,
      ready: ready.ok,
      version: version ?? null,
      detail: ready.ok ? "ready" : (body.detail ?? `HTTP ${ready.status}`),
    };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    return { service, url, ready: false, version: null, detail: `unreachable (${cause})` };
  }
}

/**
 * `dbplane status`: every service's readiness and version, then the fleet (databases by state,
 * shards and hot shards, unhealthy databases, projections' lag and parked events, collectors) on
 * one screen; exit 1 unless every service is ready.
 */
export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description(
      "every service's readiness and version, and the fleet summary (exit 1 when one is not ready)",
    )
    .action(async (_o, command: Command) => {
      const target = await targetOf(command);
      const [services, fleet] = await Promise.all([
        Promise.all(
          SERVICE_NAMES.flatMap((name) => {
            const url = target.services[name];
            return url ? [probe(name, url)] : [];
          }),
        ),
        readFleetSummary(target),
      ]);
      printResult(
        globalOptions(command).output,
        { context: target.context, services, fleet },
        () =>
          `${renderTable({
            columns: ["SERVICE", "READY", "VERSION", "URL", "DETAIL"],
            rows: services.map((s) => [s.service, s.ready ? "yes" : "NO", s.version, s.url, s.detail]),
          })}\n\n${describeFleet(fleet)}`,
      );
      const down = services.filter((s) => !s.ready);
      if (down.length > 0) {
        throw new CliError(`not ready: ${down.map((s) => s.service).join(", ")}`, ExitCode.apiError);
      }
    });
}
