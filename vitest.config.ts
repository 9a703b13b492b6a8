import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "packages/*/{src,test}/**/*.spec.ts",
      "services/*/{src,test}/**/*.spec.ts",
      "bench/**/*.spec.ts",
      "scripts/*.spec.ts",
    ],
    // Tests talk to real NATS/PostgreSQL/Redis and start child processes: generous limits,
    // and no timing assertions anywhere (DESIGN.md, "Performance").
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
