import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { servicePermissions } from "@dbplane/bus";
import { field, type KubeObject } from "./kube-object.ts";
import { LAYOUT } from "./repo-layout.ts";
import { servicesIn } from "./workload-policy.ts";

/** Where the chart reads each service's NATS permissions from, relative to the repository root. */
export const NATS_PERMISSIONS_FILE = `${LAYOUT.chart}/files/nats-permissions.json`;

/**
 * The chart's NATS permissions file: per service, the `permissions` block of its NATS user,
 * derived from the contracts' producers and the KV bucket owners (`servicePermissions` of
 * @dbplane/bus). Generated because Helm cannot import TypeScript, checked so it cannot drift.
 */
export function natsPermissionsFile(): string {
  return `${JSON.stringify(servicePermissions(), null, 2)}\n`;
}

/** Writes the file; returns its path relative to the root. */
export function writeNatsPermissionsFile(root: string): string {
  writeFileSync(join(root, NATS_PERMISSIONS_FILE), natsPermissionsFile());
  return NATS_PERMISSIONS_FILE;
}

/** Problems when the checked-in file is missing or differs from what the contracts give. */
export function checkNatsPermissionsCurrent(root: string): string[] {
  const path = join(root, NATS_PERMISSIONS_FILE);
  if (!existsSync(path)) return [`${NATS_PERMISSIONS_FILE} is missing: run pnpm deploy:generate`];
  return readFileSync(path, "utf8") === natsPermissionsFile()
    ? []
    : [`${NATS_PERMISSIONS_FILE} is stale (contracts or KV owners changed): run pnpm deploy:generate`];
}

interface RenderedUser {
  readonly user: string;
  readonly password: string;
  readonly permissions: unknown;
}

/**
 * The users of the chart's `auth.conf` (Secret `secretName`): the nats-server `accounts` block
 * the chart renders as JSON after `accounts: `. Undefined when the chart rendered no such Secret.
 */
export function renderedNatsUsers(
  objects: readonly KubeObject[],
  secretName: string,
): RenderedUser[] | undefined {
  const secret = objects.find((o) => o.kind === "Secret" && o.metadata.name === secretName);
  const encoded = field(secret, "data", "auth.conf");
  if (typeof encoded !== "string") return undefined;
  const conf = Buffer.from(encoded, "base64").toString("utf8");
  const json = conf.slice(conf.indexOf("accounts:") + "accounts:".length).trim();
  const accounts = JSON.parse(json) as Record<string, { users?: RenderedUser[] }>;
  return Object.values(accounts).flatMap((a) => a.users ?? []);
}

/**
 * The rendered chart gives every service Deployment a NATS user from the natsAuth Secret, and
 * the Secret's `auth.conf` has one user per service with exactly the generated permissions.
 */
export function checkChartNatsUsers(objects: readonly KubeObject[], secretName: string): string[] {
  const expected = servicePermissions() as Record<string, unknown>;
  const deployments = servicesIn(objects);
  const problems: string[] = [];
  for (const [service, deployment] of deployments) {
    const env = (field(deployment, "spec", "template", "spec", "containers", 0, "env") ?? []) as {
      name: string;
      valueFrom?: { secretKeyRef?: { name?: string; key?: string } };
    }[];
    const ref = env.find((e) => e.name === "DBPLANE_NATS_PASSWORD")?.valueFrom?.secretKeyRef;
    if (ref?.name !== secretName || ref.key !== `${service}-password`)
      problems.push(
        `Deployment of ${service}: DBPLANE_NATS_PASSWORD is not ${secretName}/${service}-password`,
      );
  }
  const users = renderedNatsUsers(objects, secretName);
  if (!users)
    return [...problems, `no Secret ${secretName} with auth.conf (natsAuth with the nats subchart)`];
  for (const service of deployments.keys()) {
    const user = users.find((u) => u.user === service);
    if (!user) problems.push(`auth.conf has no user ${service}`);
    else if (JSON.stringify(user.permissions) !== JSON.stringify(expected[service]))
      problems.push(`auth.conf: the permissions of ${service} differ from ${NATS_PERMISSIONS_FILE}`);
    else if (user.password.length < 24) problems.push(`auth.conf: the password of ${service} is too short`);
  }
  return problems;
}
