import type { Command } from "commander";

/** One level of the command tree: its path (`db split`), subcommands and options. */
export interface CompletionNode {
  readonly path: string;
  readonly commands: readonly { readonly name: string; readonly description: string }[];
  readonly options: readonly {
    readonly flags: readonly string[];
    readonly description: string;
    readonly choices?: readonly string[];
  }[];
}

export const COMPLETION_SHELLS = ["bash", "zsh"] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** Every command of the program with its subcommands and options (global ones on every level). */
export function completionTree(program: Command): CompletionNode[] {
  const globals = program.options;
  const nodes: CompletionNode[] = [];
  const visit = (command: Command, path: string) => {
    const own = command === program ? [] : command.options;
    const shared = command === program ? globals : globals.filter((o) => o.long !== "--version");
    nodes.push({
      path,
      commands: command.commands.map((c) => ({ name: c.name(), description: c.description() })),
      options: [...own, ...shared].map((o) => ({
        flags: [o.short, o.long].filter((f): f is string => f !== undefined),
        description: o.description,
        ...(o.argChoices && { choices: o.argChoices }),
      })),
    });
    for (const child of command.commands) visit(child, path ? `${path} ${child.name()}` : child.name());
  };
  visit(program, "");
  return nodes;
}

/** A word for a shell script inside single quotes. */
const quoted = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/** The case labels of every path below the root: how a word moves the completion one level down. */
function descents(nodes: readonly CompletionNode[]): string {
  return nodes
    .filter((n) => n.path !== "")
    .map((n) => quoted(n.path))
    .join("|");
}

/** The options that take a fixed set of values (`-o table|json|yaml`), as a case over the previous word. */
function choiceCases(nodes: readonly CompletionNode[], emit: (values: string) => string): string {
  const byFlag = new Map<string, readonly string[]>();
  for (const n of nodes)
    for (const o of n.options) if (o.choices) for (const f of o.flags) byFlag.set(f, o.choices);
  return [...byFlag].map(([flag, values]) => `    ${quoted(flag)}) ${emit(values.join(" "))} ;;`).join("\n");
}

function bashScript(name: string, nodes: readonly CompletionNode[]): string {
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, "_")}`;
  const words = nodes
    .map((n) => {
      const list = [...n.commands.map((c) => c.name), ...n.options.flatMap((o) => o.flags)].join(" ");
      return `    ${quoted(n.path)}) words=${quoted(list)} ;;`;
    })
    .join("\n");
  return `# bash completion for ${name}: source it, e.g. source <(${name} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmdpath="" next w i words=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    next="\${cmdpath:+$cmdpath }$w"
    case "$next" in
      ${descents(nodes)}) cmdpath="$next" ;;
    esac
  done
  case "$prev" in
${choiceCases(nodes, (values) => `COMPREPLY=($(compgen -W ${quoted(values)} -- "$cur")); return 0`)}
  esac
  case "$cmdpath" in
${words}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F ${fn} ${name}
`;
}

function zshScript(name: string, nodes: readonly CompletionNode[]): string {
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, "_")}`;
  const described = (pairs: readonly [string, string][]) =>
    pairs.map(([word, text]) => quoted(`${word.replace(/:/g, "\\:")}:${text}`)).join(" ");
  const levels = nodes
    .map((n) => {
      const commands = described(n.commands.map((c) => [c.name, c.description]));
      const options = described(
        n.options.flatMap((o) => o.flags.map((f) => [f, o.description] as [string, string])),
      );
      return `    ${quoted(n.path)}) commands=(${commands}); options=(${options}) ;;`;
    })
    .join("\n");
  return `#compdef ${name}
# zsh completion for ${name}: put it on $fpath as _${name}, or source <(${name} completion zsh) after compinit
${fn}() {
  local cmdpath="" next w i
  local -a commands options
  for ((i = 2; i < CURRENT; i++)); do
    w="\${words[i]}"
    [[ "$w" == -* ]] && continue
    next="\${cmdpath:+$cmdpath }$w"
    case "$next" in
      ${descents(nodes)}) cmdpath="$next" ;;
    esac
  done
  case "\${words[CURRENT-1]}" in
${choiceCases(nodes, (values) => `compadd -- ${values}; return`)}
  esac
  case "$cmdpath" in
${levels}
  esac
  if [[ "$PREFIX" == -* ]]; then
    _describe -t options option options
  else
    _describe -t commands command commands || _files
  fi
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${name}
fi
`;
}

/** The completion script for `shell`, generated from the command tree (so it never drifts from it). */
export function completionScript(
  shell: CompletionShell,
  name: string,
  nodes: readonly CompletionNode[],
): string {
  return shell === "bash" ? bashScript(name, nodes) : zshScript(name, nodes);
}
