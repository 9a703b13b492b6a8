import { readFileSync } from "node:fs";
import { join } from "node:path";
import { lintDockerfile, REPO_ROOT } from "@dbplane/deploy-checks";
import { describe, expect, it } from "vitest";

const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");

describe("Dockerfile lint", () => {
  it("the root Dockerfile (every service's image) is clean", () => {
    expect(lintDockerfile(dockerfile)).toEqual([]);
  });

  it("fails a Dockerfile whose final stage runs as root", () => {
    const [build, runtime] = dockerfile.split("AS runtime");
    const asRoot = `${build}AS runtime${runtime!.replace(/^USER node$/m, "USER root")}`;
    expect(lintDockerfile(asRoot)).toEqual(["final stage: USER root is root"]);
    const noUser = dockerfile.replace(/^USER node$/gm, "");
    expect(lintDockerfile(noUser)).toEqual(["final stage: no USER (it would run as root)"]);
  });

  it("fails a latest or untagged base image, a missing STOPSIGNAL and a shell-form CMD", () => {
    const broken = dockerfile
      .replace("ARG NODE_IMAGE=node:24.21.0-bookworm-slim", "ARG NODE_IMAGE=node:latest")
      .replace(/^STOPSIGNAL SIGTERM\nCMD \["node", "src\/main.ts"\]$/m, "CMD node src/main.ts");
    expect(lintDockerfile(broken)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/base image node:latest uses latest/),
        "final stage: STOPSIGNAL SIGTERM missing",
        expect.stringMatching(/CMD must use the exec form/),
      ]),
    );
    expect(lintDockerfile('FROM node\nUSER node\nSTOPSIGNAL SIGTERM\nCMD ["node"]\n')).toEqual(
      expect.arrayContaining([expect.stringMatching(/base image node has no tag/)]),
    );
  });

  it("fails dev dependencies, an unfrozen lockfile, and a SERVICE with a default or no guard", () => {
    const broken = dockerfile
      .replace("--offline --frozen-lockfile --prod", "--offline")
      .replace(/^ARG SERVICE$/m, "ARG SERVICE=scheduler");
    expect(lintDockerfile(broken)).toEqual([
      "ARG SERVICE must have no default (every build names its service)",
      expect.stringMatching(/pnpm install without --frozen-lockfile/),
      expect.stringMatching(/pnpm install without --prod/),
    ]);
    const unguarded = dockerfile.replace(/^RUN test -n "\$\{SERVICE\}".*\n.*\n/m, "");
    expect(lintDockerfile(unguarded)).toEqual([
      'no RUN test -n "$SERVICE" stopping a build without --build-arg SERVICE',
    ]);
    expect(lintDockerfile(dockerfile.replace(/^ARG SERVICE$/m, ""))).toEqual(
      expect.arrayContaining(["no ARG SERVICE before the first FROM"]),
    );
  });
});
