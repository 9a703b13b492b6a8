// `pnpm bench discovery`: discovery on
// 10,000 Kubernetes objects in the API double.
//   list_10k_s            — from the driver starting to its first complete view (every list read);
//   list_10k_rss_mb       — the discovery process's peak resident memory after that first view and
//                           the publishing of its 5,000 facts;
//   event_latency_ms_p99  — from an app's env change in the API to its app.changed on the stream
//                           (default 100 ms debounce included), over 100 sequential changes.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { busNames } from "@dbplane/bus";
import {
  createTestNats,
  freePort,
  type KubeApiDouble,
  startChildService,
  startKubeApiDouble,
  waitFor,
} from "@dbplane/testkit";
import {
  configMap,
  deployment,
  env,
  namespace,
  postgresStatefulSet,
  secret,
  service,
} from "../../services/discovery/test/kube-objects.ts";

const NAMESPACES = 20;
const PER_NAMESPACE = { servers: 50, apps: 200, configMaps: 100, secrets: 100 };
const CHANGES = Number(process.env.BENCH_CHANGES ?? 100);
const entry = join(import.meta.dirname, "../../services/discovery/src/main.ts");

function populate(double: KubeApiDouble): { objects: number; app: { ns: string; name: string } } {
  let objects = 0;
  const put = (obj: Parameters<KubeApiDouble["put"]>[0]) => {
    double.put(obj);
    objects++;
  };
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `bench-${n}`;
    namespace(double, ns);
    for (let i = 0; i < PER_NAMESPACE.servers; i++) {
      put(postgresStatefulSet(ns, `pg-${i}`));
      put(service(ns, `pg-${i}`, { app: `pg-${i}` }));
    }
    for (let i = 0; i < PER_NAMESPACE.configMaps; i++)
      put(configMap(ns, `cm-${i}`, { PGHOST: `pg-${i % PER_NAMESPACE.servers}`, other: "x".repeat(200) }));
    for (let i = 0; i < PER_NAMESPACE.secrets; i++)
      put(
        secret(ns, `s-${i}`, { url: `postgres://app:pw-${i}@pg-${i % 50}.${ns}/app`, password: `pw-${i}` }),
      );
    for (let i = 0; i < PER_NAMESPACE.apps; i++) {
      const how = i % 3;
      const envVars =
        how === 0
          ? [env.literal("DATABASE_URL", `postgres://pg-${i % 50}:5432/app`)]
          : how === 1
            ? [env.configMap("PGHOST", `cm-${i % 100}`, "PGHOST")]
            : [env.secret("DATABASE_URL", `s-${i % 100}`, "url")];
      put(deployment(ns, `app-${i}`, envVars));
    }
  }
  return { objects, app: { ns: "bench-0", name: "app-0" } };
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

/** Peak (VmHWM) or current (VmRSS) resident memory of a process, in MB. */
async function rssMb(pid: number, which: "VmHWM" | "VmRSS"): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${which}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
}

const double = await startKubeApiDouble({ historyLimit: 50_000 });
const nats = await createTestNats();
const names = busNames(nats.namespace);
const { objects, app } = populate(double);
const port = await freePort();
const svc = await startChildService({
  entry,
  readyUrl: `http://127.0.0.1:${port}/health/ready`,
  readyTimeoutMs: 300_000,
  env: {
    DBPLANE_HTTP_HOST: "127.0.0.1",
    DBPLANE_HTTP_PORT: String(port),
    DBPLANE_NATS_URL: nats.url,
    DBPLANE_NATS_NAMESPACE: nats.namespace,
    DBPLANE_KUBECONFIG: double.kubeConfigPath,
    DBPLANE_DISCOVERY_DRIVER: "kubernetes",
    DBPLANE_SHUTDOWN_DELAY_MS: "0",
    DBPLANE_LOG_LEVEL: "info",
  },
});
try {
  const logTime = (msg: string) => Date.parse(String(svc.logs().find((l) => l.msg === msg)?.time));
  const listSeconds = (logTime("first view complete; publishing facts") - logTime("driver selected")) / 1000;
  const expected = NAMESPACES * (PER_NAMESPACE.servers + PER_NAMESPACE.apps);
  const published = async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return [...text.matchAll(/^dbplane_discovery_events_published_total\{[^}]*\} (\d+)/gm)].reduce(
      (s, m) => s + Number(m[1]),
      0,
    );
  };
  const publishStart = Date.now();
  await waitFor(async () => (await published()) >= expected, {
    what: "every fact published",
    timeoutMs: 600_000,
    intervalMs: 250,
  });
  const publishSeconds = (Date.now() - publishStart) / 1000;
  const rss = await rssMb(svc.process.pid!, "VmHWM");

  const uid = double.get("Deployment", app.ns, app.name)!.metadata!.uid!;
  const seen = new Map<number, number>();
  const sub = nats.nc.subscribe(names.subject("dbplane.evt.discovery.app.changed"), {
    callback: (_err, msg) => {
      if (msg.headers?.get("ce-subject") === uid) seen.set(seen.size, Date.now());
    },
  });
  const latencies: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const before = seen.size;
    const start = Date.now();
    double.put(deployment(app.ns, app.name, [env.literal("PGHOST", `pg-${(i + 1) % 50}`)]));
    await waitFor(() => seen.size > before, { what: `change ${i}`, timeoutMs: 30_000, intervalMs: 1 });
    latencies.push(seen.get(before)! - start);
  }
  sub.unsubscribe();
  const rssAfter = await rssMb(svc.process.pid!, "VmRSS");
  latencies.sort((a, b) => a - b);

  process.stdout.write(
    [
      `discovery on ${objects} objects (${NAMESPACES} namespaces; ${expected} facts)`,
      `  first complete view (every list)   ${listSeconds.toFixed(2)} s`,
      `  publishing every fact after it      ${publishSeconds.toFixed(2)} s`,
      `  peak RSS                            ${rss.toFixed(0)} MB (${rssAfter.toFixed(0)} MB after the changes)`,
      `  change → event  p50 ${quantile(latencies, 0.5)} ms  p99 ${quantile(latencies, 0.99)} ms  (${CHANGES} changes, debounce 100 ms)`,
      `figure list_10k_s ${listSeconds.toFixed(2)}`,
      `figure list_10k_rss_mb ${rss.toFixed(0)}`,
      `figure event_latency_ms_p99 ${quantile(latencies, 0.99)}`,
      "",
    ].join("\n"),
  );
} finally {
  await svc.dispose();
  await nats.cleanup();
  await double.close();
}
