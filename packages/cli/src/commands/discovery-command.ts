import type { Command } from "commander";
import { apiClient } from "../api-client.ts";
import { globalOptions, targetOf } from "../command-options.ts";
import { printResult } from "../output-format.ts";

interface Endpoint {
  readonly host: string;
  readonly port: number;
}
interface Workload {
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
}
interface FoundDatabase {
  readonly id: string;
  readonly driver: string;
  readonly endpoint: Endpoint;
  readonly dbname?: string;
  readonly serverVersion?: string;
  readonly managedBy?: string;
  readonly workload?: Workload;
}
interface FoundApp {
  readonly id: string;
  readonly name: string;
  readonly workload: Workload;
  readonly databases: readonly { databaseId?: string; endpoint: Endpoint }[];
}

const where = (w: Workload | undefined) => w && `${w.namespace}/${w.kind}/${w.name}`;

/** `?namespace=…&label=…`: discovery's filters, as given. */
function filterQuery(o: { namespace?: string; label?: string }, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams(extra);
  if (o.namespace) query.set("namespace", o.namespace);
  if (o.label) query.set("label", o.label);
  return query.size > 0 ? `?${query}` : "";
}

/** `dbplane discovery databases|apps|graph`: what discovery found, and who uses what. */
export function registerDiscoveryCommand(program: Command): void {
  const discovery = program
    .command("discovery")
    .description("what discovery found: PostgreSQL servers and databases, the apps using them");
  const client = async (command: Command) => apiClient(await targetOf(command), "discovery");
  const filtered = (name: string, description: string) =>
    discovery
      .command(name)
      .description(description)
      .option("--namespace <namespace>", "only what was found in this Kubernetes namespace")
      .option("--label <selector>", "label selector: k=v, k!=v, k, !k, comma-separated");

  filtered("databases", "PostgreSQL servers and databases found").action(async (o, command: Command) => {
    const list = (
      await (
        await client(command)
      ).request<{ items: FoundDatabase[] }>("GET", `/v1/databases${filterQuery(o)}`)
    ).body;
    printResult(globalOptions(command).output, list, () => ({
      columns: ["ID", "ENDPOINT", "DBNAME", "VERSION", "MANAGED BY", "DRIVER", "WORKLOAD"],
      rows: list.items.map((d) => [
        d.id,
        `${d.endpoint.host}:${d.endpoint.port}`,
        d.dbname,
        d.serverVersion,
        d.managedBy,
        d.driver,
        where(d.workload),
      ]),
    }));
  });

  filtered("apps", "applications that use a database, each with what it reaches").action(
    async (o, command: Command) => {
      const list = (
        await (await client(command)).request<{ items: FoundApp[] }>("GET", `/v1/apps${filterQuery(o)}`)
      ).body;
      printResult(globalOptions(command).output, list, () => ({
        columns: ["ID", "NAME", "WORKLOAD", "DATABASES"],
        rows: list.items.map((a) => [
          a.id,
          a.name,
          where(a.workload),
          a.databases.map((d) => d.databaseId ?? `${d.endpoint.host}:${d.endpoint.port}`).join(", "),
        ]),
      }));
    },
  );

  filtered("graph", "apps → databases; as a table, JSON/YAML, or --mermaid text to paste into a diagram")
    .option("--mermaid", "print discovery's Mermaid rendering instead")
    .action(async (o, command: Command) => {
      const api = await client(command);
      if (o.mermaid) {
        const text = (await api.request<string>("GET", `/v1/graph${filterQuery(o, { format: "mermaid" })}`))
          .body;
        process.stdout.write(`${String(text).trimEnd()}\n`);
        return;
      }
      const graph = (
        await api.request<{
          nodes: { id: string; type: string; label: string }[];
          edges: { from: string; to: string; via: string; role?: string }[];
        }>("GET", `/v1/graph${filterQuery(o)}`)
      ).body;
      const label = new Map(graph.nodes.map((n) => [n.id, n.label]));
      printResult(globalOptions(command).output, graph, () => ({
        columns: ["APP", "DATABASE", "VIA", "ROLE"],
        rows: graph.edges.map((e) => [label.get(e.from) ?? e.from, label.get(e.to) ?? e.to, e.via, e.role]),
      }));
    });
}
