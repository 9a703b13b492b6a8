import swagger, { type SwaggerTransform } from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { createJsonSchemaTransform } from "fastify-type-provider-zod";
import { routeScope } from "./auth.ts";
import { Scope } from "./scopes.ts";

/** Name of the security scheme in the OpenAPI document. */
export const BEARER_SCHEME = "bearerAuth";
/** Operation extension naming the scope a route needs (`db:{db}:query`: `{db}` is the path parameter). */
export const SCOPE_EXTENSION = "x-dbplane-scope";

/**
 * The zod → JSON Schema transform, plus on every route that needs a token the bearer
 * requirement and the scope (OpenAPI lists scopes in `security` only for OAuth2/OIDC schemes,
 * so the scope goes in `x-dbplane-scope` too). A GET open to anonymous readers keeps the scope
 * and lists "no credentials" as an alternative.
 */
function withBearerSecurity(anonymousRead: boolean): SwaggerTransform {
  // Empty skip list: the provider's default hides `/documentation/*`; our UI routes hide themselves.
  const zodTransform = createJsonSchemaTransform({ skipList: [] });
  return (document) => {
    const out = zodTransform(document);
    const schema = out.schema as Record<string, unknown> | undefined;
    const { method, url, config } = document.route;
    const scope = routeScope(method, url, config);
    if (schema?.hide || scope === null) return out;
    const open = anonymousRead && scope === Scope.read;
    const bearer: Record<string, readonly string[]> = { [BEARER_SCHEME]: [] };
    const security = open ? [{}, bearer] : [bearer];
    return { ...out, schema: { ...schema, security, [SCOPE_EXTENSION]: scope } };
  };
}

/**
 * OpenAPI 3.1 at `/docs/json` (and `/docs/yaml`) generated from the routes' zod schemas, Swagger UI
 * at `/docs`. Must be registered before any route so its onRoute hook sees them all.
 */
export async function registerOpenApi(
  app: FastifyInstance,
  options: { name: string; version: string; description?: string; anonymousRead?: boolean },
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
    transform: withBearerSecurity(options.anonymousRead === true),
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
}
