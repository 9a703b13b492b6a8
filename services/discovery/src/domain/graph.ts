import type { AppRecord, DatabaseRecord, Inventory } from "./inventory-types.ts";

export interface GraphNode {
  readonly id: string;
  readonly type: "database" | "app" | "external";
  readonly label: string;
  readonly namespace?: string;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly via: string;
  readonly role?: string;
}

export interface Graph {
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
}

function databaseLabel(db: DatabaseRecord): string {
  const where = db.workload
    ? `${db.workload.namespace}/${db.workload.name}`
    : `${db.endpoint.host}:${db.endpoint.port}`;
  return db.dbname && !db.workload ? `${where}/${db.dbname}` : where;
}

/** Apps → databases. Connections that lead nowhere known become `external` (or `unknown`) nodes. */
export function buildGraph(inventory: Inventory, apps: readonly AppRecord[] = inventory.apps): Graph {
  const nodes = new Map<string, GraphNode>();
  for (const db of inventory.databases) {
    nodes.set(db.id, {
      id: db.id,
      type: "database",
      label: databaseLabel(db),
      ...(db.workload && { namespace: db.workload.namespace }),
    });
  }
  const edges: GraphEdge[] = [];
  for (const app of apps) {
    nodes.set(app.id, {
      id: app.id,
      type: "app",
      label: `${app.workload.namespace}/${app.name}`,
      namespace: app.workload.namespace,
    });
    for (const use of app.databases) {
      const to =
        use.databaseId ?? (use.endpoint ? `external:${use.endpoint.host}:${use.endpoint.port}` : "unknown");
      if (!nodes.has(to)) {
        const label = use.endpoint ? `${use.endpoint.host}:${use.endpoint.port}` : "unknown";
        nodes.set(to, { id: to, type: "external", label });
      }
      edges.push({
        from: app.id,
        to,
        via: use.variable ? `${use.via} ${use.variable}` : use.via,
        ...(use.role && { role: use.role }),
      });
    }
  }
  return { nodes: [...nodes.values()], edges };
}

/** Text safe inside a Mermaid `["…"]` label. */
function mermaidText(text: string): string {
  return text.replace(/["<>#&]/g, (c) => `#${c.charCodeAt(0)};`);
}

/** The graph as a Mermaid flowchart, for people (paste into any Markdown that renders Mermaid). */
export function renderMermaid(graph: Graph): string {
  const ids = new Map(graph.nodes.map((node, i) => [node.id, `n${i}`]));
  const shape = { database: ['[("', '")]'], app: ['["', '"]'], external: ['{{"', '"}}'] } as const;
  const lines = ["flowchart LR"];
  for (const node of graph.nodes) {
    const [open, close] = shape[node.type];
    lines.push(`  ${ids.get(node.id)}${open}${mermaidText(node.label)}${close}`);
  }
  for (const edge of graph.edges) {
    const label = mermaidText(edge.role ? `${edge.via} (${edge.role})` : edge.via);
    lines.push(`  ${ids.get(edge.from)} -->|"${label}"| ${ids.get(edge.to)}`);
  }
  return `${lines.join("\n")}\n`;
}
