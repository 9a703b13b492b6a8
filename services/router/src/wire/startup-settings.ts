/** Startup parameters that are session settings the shards must apply too. */
const startupSettings = ["DateStyle", "TimeZone", "IntervalStyle", "extra_float_digits", "search_path"];

const quote = (value: string) => `'${value.replaceAll("'", "''")}'`;

/**
 * The SET statements a client's startup packet asks for: the settings it names directly
 * (JDBC sends TimeZone, DateStyle, extra_float_digits) and `-c name=value` / `--name=value` in
 * `options` (libpq's PGOPTIONS), spaces escaped with a backslash as PostgreSQL reads them.
 * Keyed by lower-cased name, as the session keeps its SETs.
 */
export function startupSetStatements(parameters: Readonly<Record<string, string>>): Map<string, string> {
  const statements = new Map<string, string>();
  const set = (name: string, value: string) => {
    // A name PostgreSQL would reject never reaches a statement: it is not quoted as an identifier.
    if (/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name))
      statements.set(name.toLowerCase(), `SET ${name} = ${quote(value)}`);
  };
  for (const name of startupSettings) {
    const value = parameters[name];
    if (value !== undefined) set(name, value);
  }
  const words = (parameters.options ?? "").match(/(?:\\.|\S)+/g) ?? [];
  const unescaped = words.map((word) => word.replace(/\\(.)/g, "$1"));
  for (let i = 0; i < unescaped.length; i++) {
    const word = unescaped[i]!;
    const assignment =
      word === "-c"
        ? unescaped[++i]
        : word.startsWith("--")
          ? word.slice(2)
          : word.startsWith("-c")
            ? word.slice(2)
            : undefined;
    const at = assignment?.indexOf("=") ?? -1;
    if (assignment !== undefined && at > 0)
      set(assignment.slice(0, at).replaceAll("-", "_"), assignment.slice(at + 1));
  }
  return statements;
}
