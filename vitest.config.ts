import { defineConfig } from "vitest/config";
import { patience } from "./harness/wait";

export default defineConfig({
  // One graphql for the project's sources and its dependencies (which Node loads as CommonJS):
  // two copies of it refuse each other's schemas.
  resolve: { alias: [{ find: /^graphql$/, replacement: "graphql/index.js" }] },
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    // Suites start their own anvil, Ponder and servers; two cores run two at a time.
    maxWorkers: 2,
    // Safety nets against a hang; the waits inside a test carry their own deadlines and messages.
    testTimeout: patience(120_000),
    hookTimeout: patience(180_000),
    reporters: ["default"],
  },
});
