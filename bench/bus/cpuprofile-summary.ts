// Self time per function and per package of a V8 .cpuprofile (what node:inspector's
// Profiler.stop returns), for the profilers beside it. As a script:
//   node bus/cpuprofile-summary.ts /tmp/publish-bus.cpuprofile [top]

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
export interface CpuProfile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: CallFrame }[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly ms: number;
}

/** `zod`, `@nats-io/nats-core`, `bus/src`, `(garbage collector)` … what a frame belongs to. */
function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const modules = url.lastIndexOf("/node_modules/");
  if (modules >= 0) {
    const [scope, name] = url.slice(modules + "/node_modules/".length).split("/");
    return scope?.startsWith("@") ? `${scope}/${name}` : (scope ?? url);
  }
  if (url.startsWith("node:")) return "node";
  const packages = url.match(/\/(packages|bench|services)\/([^/]+)\//);
  return packages ? `${packages[2]}/${packages[1] === "packages" ? "src" : packages[1]}` : url;
}

function frameName(frame: CallFrame): string {
  const file = frame.url.slice(frame.url.lastIndexOf("/") + 1);
  return `${frame.functionName || "(anonymous)"} ${file}${file ? `:${frame.lineNumber + 1}` : ""}`;
}

/** Self milliseconds by function and by package, largest first, and the sampled total. */
export function summarise(profile: CpuProfile): {
  totalMs: number;
  functions: SelfTime[];
  packages: SelfTime[];
} {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const functions = new Map<string, number>();
  const packages = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let totalMs = 0;
  for (let i = 0; i < samples.length; i++) {
    const frame = byId.get(samples[i]!);
    if (!frame) continue;
    // A sample stands for the time until the next one.
    const ms = (deltas[i + 1] ?? 0) / 1000;
    totalMs += ms;
    const fn = frameName(frame);
    functions.set(fn, (functions.get(fn) ?? 0) + ms);
    const pkg = packageOf(frame);
    packages.set(pkg, (packages.get(pkg) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>) =>
    [...m].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);
  return { totalMs, functions: sorted(functions), packages: sorted(packages) };
}

/** The summary as text: the packages, then the `top` functions, with ms and share of the total. */
export function formatSummary(title: string, profile: CpuProfile, top = 25): string {
  const { totalMs, functions, packages } = summarise(profile);
  const line = ({ name, ms }: SelfTime) =>
    `  ${ms.toFixed(0).padStart(7)} ms ${((ms / totalMs) * 100).toFixed(1).padStart(5)}%  ${name}`;
  return [
    `${title}: ${totalMs.toFixed(0)} ms sampled`,
    " by package (self time):",
    ...packages.slice(0, 12).map(line),
    ` top ${top} functions (self time):`,
    ...functions.slice(0, top).map(line),
  ].join("\n");
}

if (import.meta.main) {
  const { readFile } = await import("node:fs/promises");
  const [path, top] = process.argv.slice(2);
  if (!path) {
    process.stderr.write("usage: node bus/cpuprofile-summary.ts <file.cpuprofile> [top]\n");
    process.exit(64);
  }
  const profile = JSON.parse(await readFile(path, "utf8")) as CpuProfile;
  console.log(formatSummary(path, profile, Number(top ?? 25)));
}
