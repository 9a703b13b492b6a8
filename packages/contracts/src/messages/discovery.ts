import { z } from "zod";
import { endpoint, reason, timestamp } from "../field-types.ts";
import type { MessageData } from "../message.ts";
import { defineEvent } from "../message.ts";

/** Stable id of a discovered thing: the Kubernetes uid, or `local:<host>:<port>/<dbname>`. */
const discoveryId = z.string().min(1).max(512).describe("Stable id: Kubernetes uid or a local address");

const workload = z
  .strictObject({
    namespace: z.string().min(1).max(63),
    kind: z.string().min(1).describe("Kubernetes kind, e.g. StatefulSet, Deployment, Cluster"),
    name: z.string().min(1).max(253),
    uid: z.string().min(1),
  })
  .describe("The Kubernetes object it was found in");

const labels = z
  .record(z.string().max(317), z.string().max(63))
  .describe("Labels of the Kubernetes object it was found in");

const role = z
  .enum(["primary", "replica", "any"])
  .describe("Which servers an address reaches: the primary, replicas only, or any member");

const address = endpoint
  .extend({
    role,
    service: z.string().min(1).max(253).optional().describe("Kubernetes Service behind the address"),
  })
  .describe("One address of a database server");

const discoveredDatabase = z.strictObject({
  id: discoveryId,
  driver: z.enum(["kubernetes", "local"]).describe("Which discovery driver found it"),
  engine: z.literal("postgresql").describe("Database engine"),
  endpoint: endpoint.describe("Address applications connect to (a Service's DNS name on Kubernetes)"),
  dbname: z
    .string()
    .min(1)
    .max(63)
    .optional()
    .describe("Database on the server; absent when only the server is known"),
  serverVersion: z.string().min(1).optional().describe("Server version when known, e.g. 17.2"),
  managedBy: z.string().min(1).optional().describe("Operator managing it, e.g. dbplane or cloudnative-pg"),
  workload: workload.optional(),
  addresses: z
    .array(address)
    .optional()
    .describe("Every address that reaches it (primary and replica Services), endpoint first"),
  labels: labels.optional(),
  observedAt: timestamp.describe("When discovery saw this state"),
});

const databaseUse = z
  .strictObject({
    databaseId: discoveryId.optional().describe("The discovered database it resolves to, when resolved"),
    endpoint: endpoint
      .optional()
      .describe("Address the application is configured with; absent when it could not be read"),
    dbname: z.string().min(1).max(63).optional(),
    via: z
      .enum(["env", "configmap", "secret-ref", "annotation"])
      .describe("Where the connection setting was found; Secret values are never read"),
    variable: z
      .string()
      .min(1)
      .max(253)
      .optional()
      .describe("Environment variable or annotation that holds the setting, e.g. DATABASE_URL"),
    target: z
      .enum(["discovered", "external", "unknown"])
      .optional()
      .describe(
        "discovered: resolved to a discovered database; external: an address outside the discovered ones; unknown: the setting could not be read",
      ),
    role: role.optional().describe("Role of the address the application reaches, when resolved"),
  })
  .describe("A database the application uses");

const discoveredApp = z.strictObject({
  id: discoveryId,
  name: z.string().min(1).max(253).describe("Application name"),
  workload,
  databases: z.array(databaseUse).describe("Databases the application uses"),
  labels: labels.optional(),
  observedAt: timestamp.describe("When discovery saw this state"),
});

const lost = z.strictObject({
  id: discoveryId,
  reason: reason.optional(),
  observedAt: timestamp.describe("When discovery noticed it was gone"),
});

export const databaseDiscovered = defineEvent({
  service: "discovery",
  name: "database.discovered",
  schema: discoveredDatabase,
  summary: "A PostgreSQL server or database was found.",
});

export const databaseChanged = defineEvent({
  service: "discovery",
  name: "database.changed",
  schema: discoveredDatabase,
  summary: "A known PostgreSQL server or database changed (address, version, owner).",
});

export const databaseLost = defineEvent({
  service: "discovery",
  name: "database.lost",
  schema: lost,
  summary: "A known PostgreSQL server or database disappeared.",
});

export const appDiscovered = defineEvent({
  service: "discovery",
  name: "app.discovered",
  schema: discoveredApp,
  summary: "An application that uses a database was found.",
});

export const appChanged = defineEvent({
  service: "discovery",
  name: "app.changed",
  schema: discoveredApp,
  summary: "A known application changed, e.g. the databases it uses.",
});

export const appLost = defineEvent({
  service: "discovery",
  name: "app.lost",
  schema: lost,
  summary: "A known application disappeared.",
});

/** Data of `database.discovered` and `database.changed`. */
export type DiscoveredDatabase = MessageData<typeof databaseDiscovered>;
export type DatabaseLost = MessageData<typeof databaseLost>;
/** Data of `app.discovered` and `app.changed`. */
export type DiscoveredApp = MessageData<typeof appDiscovered>;
export type AppLost = MessageData<typeof appLost>;
/** One entry of `DiscoveredApp.databases`. */
export type DatabaseUse = DiscoveredApp["databases"][number];
/** One entry of `DiscoveredDatabase.addresses`. */
export type DatabaseAddress = NonNullable<DiscoveredDatabase["addresses"]>[number];
