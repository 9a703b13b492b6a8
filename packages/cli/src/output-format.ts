import { stringify } from "yaml";

export const OUTPUT_FORMATS = ["table", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** A table view of a result: column headings and one row of cells per item. */
export interface TableView {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly unknown[])[];
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Columns padded to their widest cell, two spaces apart, as kubectl prints them. */
export function renderTable(view: TableView): string {
  const cells = [view.columns.map(String), ...view.rows.map((row) => row.map(cell))];
  const widths = view.columns.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  return cells
    .map((row) =>
      row
        .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/**
 * Prints `data` as the user asked: JSON and YAML print the API's own document (what scripts
 * parse), the table its human view.
 */
export function printResult(format: OutputFormat, data: unknown, view: () => TableView | string): void {
  if (format === "json") process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else if (format === "yaml") process.stdout.write(stringify(data));
  else {
    const table = view();
    process.stdout.write(`${typeof table === "string" ? table : renderTable(table)}\n`);
  }
}
