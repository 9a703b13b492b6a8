import { Argument, type Command } from "commander";
import {
  COMPLETION_SHELLS,
  type CompletionShell,
  completionScript,
  completionTree,
} from "../completion-script.ts";

/** `dbplane completion bash|zsh`: a completion script generated from the command tree itself. */
export function registerCompletionCommand(program: Command): void {
  program
    .command("completion")
    .description("print a shell completion script: source <(dbplane completion bash)")
    .addArgument(new Argument("<shell>", "the shell").choices(COMPLETION_SHELLS))
    .action((shell: CompletionShell) => {
      process.stdout.write(completionScript(shell, program.name(), completionTree(program)));
    });
}
