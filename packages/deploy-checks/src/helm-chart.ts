import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { locateHelm } from "./helm-binary.ts";
import { type KubeObject, parseManifests } from "./kube-object.ts";
import { runTool, toolMessage } from "./tool-process.ts";

const HELM_HINT = "install helm, set DBPLANE_HELM, or run pnpm install";

export interface RenderOptions {
  /** Values files, applied in order after the chart's own values.yaml. */
  readonly valuesFiles?: readonly string[];
  readonly releaseName?: string;
  readonly namespace?: string;
}

/** `helm lint --strict` or `helm template` failed; `message` carries helm's own words. */
export class HelmError extends Error {
  override readonly name = "HelmError";
  readonly code = "HELM_FAILED";
}

/**
 * Runs `body` on a copy of the chart without its `dependencies:`. The NATS, Redis and
 * PostgreSQL subcharts cannot be downloaded offline, and helm refuses to render a chart whose
 * declared dependencies are missing from charts/, even when their `condition:` is false. So
 * what is verified here is dbplane's own templates; the subcharts are not.
 */
export function withOfflineChart<T>(chartDir: string, body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "dbplane-chart-"));
  try {
    cpSync(chartDir, dir, { recursive: true, filter: (src) => !src.includes("/charts/") });
    const chartFile = join(dir, "Chart.yaml");
    const chart = parse(readFileSync(chartFile, "utf8")) as Record<string, unknown>;
    delete chart.dependencies;
    writeFileSync(chartFile, stringify(chart));
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function valuesArgs(files: readonly string[] | undefined): string[] {
  return (files ?? []).flatMap((file) => ["--values", file]);
}

/** `helm lint --strict` with the given values files; returns helm's complaints (empty: clean). */
export function lintChart(chartDir: string, valuesFiles: readonly string[] = []): string[] {
  return withOfflineChart(chartDir, (dir) => {
    const out = runTool(locateHelm(), ["lint", "--strict", dir, ...valuesArgs(valuesFiles)], {
      installHint: HELM_HINT,
    });
    if (out.status === 0) return [];
    const lines = `${out.stdout}\n${out.stderr}`
      .split("\n")
      .filter((line) => /\[(ERROR|WARNING)\]|Error/.test(line));
    return lines.length > 0 ? lines.map((line) => line.trim()) : [toolMessage(out)];
  });
}

/** `helm template` of the chart; throws {@link HelmError} when helm refuses to render. */
export function renderChart(chartDir: string, options: RenderOptions = {}): KubeObject[] {
  return withOfflineChart(chartDir, (dir) => {
    const args = [
      "template",
      options.releaseName ?? "dbplane",
      dir,
      "--namespace",
      options.namespace ?? "dbplane",
      ...valuesArgs(options.valuesFiles),
    ];
    const out = runTool(locateHelm(), args, { installHint: HELM_HINT });
    if (out.status !== 0) throw new HelmError(`helm template: ${toolMessage(out)}`);
    return parseManifests(out.stdout, `helm template ${chartDir}`);
  });
}
