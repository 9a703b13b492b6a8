import { passwordRef } from "@dbplane/contracts";
import { z } from "zod";
import { ENGINES, type Engine } from "./observation.ts";

/**
 * A collection target as every replica sees it in the shared registry. `url` never holds a
 * password: `credential` says where a replica reads it (a Kubernetes Secret or 0600 file
 * reference from the provisioner, or its own static config for a static target).
 */
export const targetSpec = z.object({
  id: z.string().min(1).max(512),
  engine: z.enum(ENGINES),
  source: z.enum(["static", "discovery", "provisioner"]),
  url: z.string().min(1),
  credential: z
    .union([passwordRef, z.object({ kind: z.literal("config") })])
    .optional()
    .describe("Where the password is; absent when none is needed"),
  shard: z
    .object({
      database: z.string().min(1),
      shard: z.int().min(0),
      role: z.enum(["primary", "replica"]),
    })
    .optional(),
});

export type TargetSpec = z.output<typeof targetSpec>;
export type Credential = NonNullable<TargetSpec["credential"]>;

const SCHEMES: Readonly<Record<string, Engine>> = {
  "postgres:": "postgresql",
  "postgresql:": "postgresql",
  "mysql:": "mysql",
  "mariadb:": "mysql",
  "redis:": "redis",
  "rediss:": "redis",
  "mongodb:": "mongodb",
  "mongodb+srv:": "mongodb",
};

/** The engine a URL's scheme names, or undefined. */
export function engineOfUrl(url: string): Engine | undefined {
  try {
    return SCHEMES[new URL(url).protocol];
  } catch {
    return undefined;
  }
}

/** `url` split into its password (if any) and the URL without it. */
export function splitPassword(url: string): { url: string; password?: string } {
  const parsed = new URL(url);
  if (!parsed.password) return { url: parsed.toString() };
  const password = decodeURIComponent(parsed.password);
  parsed.password = "";
  return { url: parsed.toString(), password };
}

/** `url` with `password` put in (for the driver only; never logged). */
export function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/** Where the target is, for people: scheme, host, port and database, no user info. */
export function displayEndpoint(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === "/" ? "" : parsed.pathname}`;
  } catch {
    return "[unparseable url]";
  }
}
