import type { ClusterSnapshot, ConnectionHint, ContainerSpec, Workload } from "./cluster-objects.ts";
import { parseConnectionString } from "./connection-values.ts";
import { hintOf } from "./secret-hints.ts";
import { type SettingPart, settingName } from "./setting-names.ts";
import { configMapNamed, secretNamed } from "./snapshot-index.ts";

type Via = "env" | "configmap" | "secret-ref" | "annotation";

/** One variable as the container sees it: where it comes from and what can be read of it. */
interface ResolvedVar {
  readonly name: string;
  readonly via: Via;
  /** Plain text for literals and ConfigMap values; undefined when unreadable. */
  readonly text?: string;
  /** A Secret's connection hint (the value itself is never available). */
  readonly hint?: ConnectionHint;
}

/** A connection an app is configured with, before it is resolved to a database. */
export interface ConfiguredUse {
  readonly via: Via;
  readonly variable: string;
  /** Undefined when the setting could not be read (missing object, malformed value, unread Secret key). */
  readonly hint?: ConnectionHint;
}

export const DATABASE_ANNOTATION = "dbplane.io/database";

function containerVars(
  container: ContainerSpec,
  workload: Workload,
  snapshot: ClusterSnapshot,
): ResolvedVar[] {
  const configMap = (name: string) => configMapNamed(snapshot, workload.namespace, name);
  const secret = (name: string) => secretNamed(snapshot, workload.namespace, name);
  const vars: ResolvedVar[] = [];
  for (const from of container.envFrom) {
    if (from.source === "configmap") {
      for (const [key, text] of Object.entries(configMap(from.object)?.data ?? {}))
        vars.push({ name: `${from.prefix}${key}`, via: "configmap", text });
    } else {
      const found = secret(from.object);
      for (const key of found?.keys ?? [])
        vars.push({ name: `${from.prefix}${key}`, via: "secret-ref", hint: found?.hints[key] });
    }
  }
  for (const env of container.env) {
    if (env.source === "literal") vars.push({ name: env.name, via: "env", text: env.value });
    else if (env.source === "configmap")
      vars.push({ name: env.name, via: "configmap", text: configMap(env.object)?.data[env.key] });
    else vars.push({ name: env.name, via: "secret-ref", hint: secret(env.object)?.hints[env.key] });
  }
  return vars;
}

/** Kubernetes `$(VAR)` references to earlier plain variables, as the kubelet expands them. */
function expand(text: string, plain: ReadonlyMap<string, string>): string {
  return text.replace(/\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string) => plain.get(name) ?? whole);
}

function hintOfVar(
  variable: ResolvedVar,
  part: SettingPart,
  plain: ReadonlyMap<string, string>,
): ConnectionHint | undefined {
  if (variable.text === undefined) return variable.hint;
  return hintOf(part, expand(variable.text, plain));
}

function containerUses(
  container: ContainerSpec,
  workload: Workload,
  snapshot: ClusterSnapshot,
): ConfiguredUse[] {
  const vars = containerVars(container, workload, snapshot);
  const plain = new Map(vars.filter((v) => v.text !== undefined).map((v) => [v.name, v.text!]));
  const groups = new Map<string, Partial<Record<SettingPart, ResolvedVar>>>();
  for (const variable of vars) {
    const setting = settingName(variable.name);
    if (!setting) continue;
    const group = groups.get(setting.group) ?? {};
    group[setting.part] = variable;
    groups.set(setting.group, group);
  }
  const uses: ConfiguredUse[] = [];
  for (const group of groups.values()) {
    const main = group.url
      ? { variable: group.url, part: "url" as const }
      : group.host
        ? { variable: group.host, part: "host" as const }
        : undefined;
    if (!main) continue;
    const base = hintOfVar(main.variable, main.part, plain);
    const port = group.port ? hintOfVar(group.port, "port", plain)?.port : undefined;
    const dbname = group.dbname ? hintOfVar(group.dbname, "dbname", plain)?.dbname : undefined;
    const hint = base?.host
      ? {
          ...base,
          ...(base.port === undefined && port && { port }),
          ...(base.dbname === undefined && dbname && { dbname }),
        }
      : undefined;
    uses.push({ via: main.variable.via, variable: main.variable.name, ...(hint && { hint }) });
  }
  return uses;
}

function annotationUses(workload: Workload): ConfiguredUse[] {
  const value = workload.annotations[DATABASE_ANNOTATION];
  if (value === undefined) return [];
  return value.split(",").map((part) => {
    const hint = parseConnectionString(part) ?? hintOf("host", part.split("/")[0] ?? "");
    const dbname = part.includes("://") ? undefined : part.split("/")[1];
    return {
      via: "annotation" as const,
      variable: DATABASE_ANNOTATION,
      ...(hint && { hint: { ...hint, ...(dbname && hintOf("dbname", dbname)) } }),
    };
  });
}

/** Every connection a workload's containers and annotations configure, unresolved. */
export function configuredUses(workload: Workload, snapshot: ClusterSnapshot): ConfiguredUse[] {
  return [
    ...workload.containers.flatMap((c) => containerUses(c, workload, snapshot)),
    ...annotationUses(workload),
  ];
}
