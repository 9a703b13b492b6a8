import swagger, { type SwaggerTransform } from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { createJsonSchemaTransform } from "fastify-type-provider-zod";
import { requiresAuth } from "./auth.ts";

/** Name of the security scheme in the OpenAPI document. */
export const BEARER_SCHEME = "bearerAuth";

/** The zod → JSON Schema transform, plus the bearer requirement on every route that enforces it. */
function withBearerSecurity(): SwaggerTransform {
  // Empty skip list: the provider's default hides `/documentation/*`; our UI routes hide themselves.
  const zodTransform = createJsonSchemaTransform({ skipList: [] });
  return (document) => {
    const out = zodTransform(document);
    const schema = out.schema as Record<string, unknown> | undefined;
    if (schema?.hide || !requiresAuth(document.route.method, document.route.config)) return out;
    return { ...out, schema: { ...schema, security: [{ [BEARER_SCHEME]: [] }] } };
  };
}

/**
 * OpenAPI 3.1 at `/docs/json` (and `/docs/yaml`) generated from the routes' zod schemas, Swagger UI
 * at `/docs`. Must be registered before any route so its onRoute hook sees them all.
 */
export async function registerOpenApi(
  app: FastifyInstance,
  options: { name: string; version: string; description?: string },
): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: options.name,
        version: options.version,
        description: options.description ?? `dbplane ${options.name} API`,
      },
      components: {
        securitySchemes: { [BEARER_SCHEME]: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      },
    },
    transform: withBearerSecurity(),
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
}
