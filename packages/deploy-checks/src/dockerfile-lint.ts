import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { validate } from "dockerfile-utils";

const PINNED_IMAGE = /^[\w./-]+(:[\w][\w.-]*\d[\w.-]*)?(@sha256:[0-9a-f]{64})?$/;

function args(instruction: Instruction): string[] {
  return instruction.getArguments().map((a) => a.getValue());
}

/**
 * A hadolint-like lint (hadolint itself is not installable offline here): syntax and semantic
 * diagnostics from dockerfile-utils, plus the rules we hold images to — base images pinned by
 * version (never latest, never untagged), a non-root USER and STOPSIGNAL SIGTERM in the final
 * stage, exec-form CMD, COPY over ADD, frozen-lockfile production installs, pinned global npm
 * installs, `apt-get install --no-install-recommends`, and a required ARG SERVICE: one recipe
 * serves every service, so a default would silently build the wrong one.
 */
export function lintDockerfile(content: string): string[] {
  const problems = validate(content).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
  const dockerfile = DockerfileParser.parse(content);
  const instructions = dockerfile.getInstructions();
  const line = (i: Instruction) => `line ${i.getRange().start.line + 1}`;

  // ARGs before the first FROM may parametrize FROM; resolve their defaults.
  const globalArgs = new Map<string, string>();
  const firstFrom = dockerfile.getFROMs()[0]?.getRange().start.line ?? Number.POSITIVE_INFINITY;
  for (const instruction of instructions.filter((i) => i.getRange().start.line < firstFrom)) {
    const [nameValue] = args(instruction);
    const [name, value] = (nameValue ?? "").split("=");
    if (instruction.getKeyword() === "ARG" && name) globalArgs.set(name, value ?? "");
  }
  if (!globalArgs.has("SERVICE")) problems.push("no ARG SERVICE before the first FROM");
  else if (globalArgs.get("SERVICE") !== "")
    problems.push("ARG SERVICE must have no default (every build names its service)");
  const guarded = instructions.some(
    (i) => i.getKeyword() === "RUN" && /test -n "\$\{?SERVICE\}?"/.test(i.getTextContent()),
  );
  if (!guarded) problems.push('no RUN test -n "$SERVICE" stopping a build without --build-arg SERVICE');
  const stageNames = new Set<string>();
  for (const from of dockerfile.getFROMs()) {
    const raw = args(from)[0] ?? "";
    const image = raw.replace(/\$\{?(\w+)\}?/g, (_, name: string) => globalArgs.get(name) ?? "");
    const stage = from.getBuildStage();
    if (!stageNames.has(image)) {
      if (!image.includes(":") && !image.includes("@"))
        problems.push(`${line(from)}: base image ${image} has no tag`);
      else if (/:latest(@|$)/.test(image)) problems.push(`${line(from)}: base image ${image} uses latest`);
      else if (!PINNED_IMAGE.test(image))
        problems.push(`${line(from)}: base image ${image} is not pinned to a version`);
    }
    if (stage) stageNames.add(stage);
  }

  const stages = dockerfile.getFROMs().map((from, i, all) => {
    const start = from.getRange().start.line;
    const end = all[i + 1]?.getRange().start.line ?? Number.POSITIVE_INFINITY;
    return instructions.filter((x) => x.getRange().start.line >= start && x.getRange().start.line < end);
  });
  const final = stages.at(-1) ?? [];
  const users = final.filter((i) => i.getKeyword() === "USER");
  const user = users.at(-1) ? args(users.at(-1)!)[0] : undefined;
  if (!user) problems.push("final stage: no USER (it would run as root)");
  else if (/^(root|0)(:|$)/.test(user)) problems.push(`final stage: USER ${user} is root`);
  const stop = final.find((i) => i.getKeyword() === "STOPSIGNAL");
  if (!stop || args(stop)[0] !== "SIGTERM") problems.push("final stage: STOPSIGNAL SIGTERM missing");
  const cmds = final.filter((i) => i.getKeyword() === "CMD");
  if (cmds.length !== 1) problems.push(`final stage: exactly one CMD expected (found ${cmds.length})`);
  else if (!cmds[0]!.getTextContent().includes("["))
    problems.push(`${line(cmds[0]!)}: CMD must use the exec form`);

  for (const instruction of instructions) {
    const keyword = instruction.getKeyword();
    const text = instruction.getTextContent();
    if (keyword === "ADD") problems.push(`${line(instruction)}: use COPY instead of ADD`);
    if (keyword === "MAINTAINER")
      problems.push(`${line(instruction)}: MAINTAINER is deprecated (use a LABEL)`);
    if (keyword === "WORKDIR" && !(args(instruction)[0] ?? "").startsWith("/")) {
      problems.push(`${line(instruction)}: WORKDIR must be absolute`);
    }
    if (keyword !== "RUN") continue;
    if (/\bsudo\b/.test(text)) problems.push(`${line(instruction)}: do not use sudo`);
    if (/\bapt-get install\b/.test(text) && !text.includes("--no-install-recommends")) {
      problems.push(`${line(instruction)}: apt-get install without --no-install-recommends`);
    }
    const globalInstall = /\bnpm (?:i|install) (?:-g|--global)\b(.*)/s.exec(text)?.[1] ?? "";
    if (/(^|\s)(pnpm|yarn|npm)(\s|$)/.test(globalInstall)) {
      problems.push(`${line(instruction)}: pin the globally installed package manager (pnpm@x.y.z)`);
    }
    if (/\bpnpm install\b/.test(text)) {
      if (!text.includes("--frozen-lockfile"))
        problems.push(`${line(instruction)}: pnpm install without --frozen-lockfile`);
      if (!text.includes("--prod"))
        problems.push(`${line(instruction)}: pnpm install without --prod (dev dependencies)`);
    }
  }
  return problems;
}
