import { readFileSync } from "node:fs";
import { join } from "node:path";
import { discoverServiceFolders, lintDockerfile, REPO_ROOT } from "@dbplane/deploy-checks";
import { describe, expect, it } from "vitest";

const scheduler = readFileSync(join(REPO_ROOT, "services/scheduler/Dockerfile"), "utf8");

describe("Dockerfile lint", () => {
  it.each(discoverServiceFolders(REPO_ROOT).map((s) => s.name))(
    "services/%s/Dockerfile is clean",
    (service) => {
      const content = readFileSync(join(REPO_ROOT, "services", service, "Dockerfile"), "utf8");
      expect(lintDockerfile(content, { service })).toEqual([]);
    },
  );

  it("fails a Dockerfile whose final stage runs as root", () => {
    const [build, runtime] = scheduler.split("AS runtime");
    const asRoot = `${build}AS runtime${runtime!.replace(/^USER node$/m, "USER root")}`;
    expect(lintDockerfile(asRoot, { service: "scheduler" })).toEqual(["final stage: USER root is root"]);
    const noUser = scheduler.replace(/^USER node$/gm, "");
    expect(lintDockerfile(noUser, { service: "scheduler" })).toEqual([
      "final stage: no USER (it would run as root)",
    ]);
  });

  it("fails a latest or untagged base image, a missing STOPSIGNAL and a shell-form CMD", () => {
    const broken = scheduler
      .replace("ARG NODE_IMAGE=node:24.21.0-bookworm-slim", "ARG NODE_IMAGE=node:latest")
      .replace(/^STOPSIGNAL SIGTERM\nCMD \["node", "src\/main.ts"\]$/m, "CMD node src/main.ts");
    expect(lintDockerfile(broken, { service: "scheduler" })).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/base image node:latest uses latest/),
        "final stage: STOPSIGNAL SIGTERM missing",
        expect.stringMatching(/CMD must use the exec form/),
      ]),
    );
    expect(
      lintDockerfile('FROM node\nUSER node\nSTOPSIGNAL SIGTERM\nCMD ["node"]\n', { service: "x" }),
    ).toEqual(expect.arrayContaining([expect.stringMatching(/base image node has no tag/)]));
  });

  it("fails dev dependencies, an unfrozen lockfile and a copied service's wrong name", () => {
    const broken = scheduler.replace("--offline --frozen-lockfile --prod", "--offline");
    expect(lintDockerfile(broken, { service: "router" })).toEqual([
      'ARG SERVICE must default to "router" (the service folder)',
      expect.stringMatching(/pnpm install without --frozen-lockfile/),
      expect.stringMatching(/pnpm install without --prod/),
    ]);
  });
});
