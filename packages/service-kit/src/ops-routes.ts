import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { HttpMetrics } from "./metrics.ts";
import { problem, sendProblem } from "./problem.ts";
import type { Readiness } from "./readiness.ts";

/** Under pressure, the process must still answer liveness and metrics: restarting it would not help. */
const ignorePressure = { pressureHandler: () => undefined };

/** Paths whose successful requests are not logged: probes hit them every few seconds. */
export const QUIET_PATHS: ReadonlySet<string> = new Set(["/health/live", "/health/ready", "/metrics"]);

/** `/health/live`, `/health/ready` and `/metrics`, all open (GET) and tagged `ops` in the docs. */
export function registerOpsRoutes(app: FastifyInstance, readiness: Readiness, metrics: HttpMetrics): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  typed.get(
    "/health/live",
    {
      config: ignorePressure,
      schema: {
        tags: ["ops"],
        summary: "Liveness: 200 while the event loop turns",
        response: { 200: z.object({ status: z.literal("live") }) },
      },
    },
    async () => ({ status: "live" as const }),
  );

  typed.get(
    "/health/ready",
    {
      schema: {
        tags: ["ops"],
        summary:
          "Readiness: 200 when every check passes; 503 problem when one fails, under pressure or draining",
        response: {
          200: z.object({ status: z.literal("ready"), checks: z.record(z.string(), z.string()) }),
        },
      },
    },
    async (request, reply) => {
      const report = await readiness.run();
      if (report.ready) return { status: "ready" as const, checks: report.checks };
      if (report.draining) {
        return sendProblem(
          reply,
          problem(request, 503, "The service is shutting down.", { code: "DRAINING" }),
        );
      }
      const failing = Object.keys(report.errors);
      request.log.warn({ checks: report.checks, errors: report.errors }, "readiness check failed");
      return sendProblem(
        reply,
        problem(request, 503, `Failing readiness checks: ${failing.join(", ")}`, {
          code: "NOT_READY",
          checks: report.checks,
          failing,
        }),
      );
    },
  );

  typed.get(
    "/metrics",
    { config: ignorePressure, schema: { tags: ["ops"], summary: "Prometheus metrics" } },
    async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
}
