/**
 * The unused-code check (`npm run knip`, a step of `npm test`): every file, export, type and
 * dependency must be reached from an entry point below. knip's own plugins add what package.json's
 * scripts run and vitest's config; the entries here are the ones they cannot see.
 */
import type { KnipConfig } from "knip";

const config: KnipConfig = {
  entry: [
    // package.json's scripts are entries already (knip reads them); these are the other ways in.
    // forge runs the solc-js shim (foundry.toml's `solc`).
    "scripts/solc.cjs",
    // Command-line tools the READMEs name that no package script runs.
    "bench/history.ts",
    "bench/cpu-profile.ts",
    "bench/cpu-share.ts",
    "bench/indexing/profile.ts",
    // Child processes started by path: the raw baseline, the subscriber processes.
    "bench/indexing/raw.ts",
    "bench/subscriptions/clients.ts",
    // Ponder projects' files loaded by Ponder from generated roots (bench/ponder-root.ts): the
    // empty-handler project, the indexing bench's config, and the API entry that adds Ponder's GraphQL beside ours.
    "bench/indexing/empty/**/*.ts",
    "bench/indexing/ponder.config.ts",
    "bench/queries/ponder-api.ts",
    // Ponder loads the config, the schema and src/ (the indexing functions and the embedded API).
    "ponder.config.ts",
    "ponder.schema.ts",
    "src/**/*.ts",
    // The dashboard's browser code, bundled by esbuild at run time (api/dashboard/index.ts).
    "api/dashboard/client/main.ts",
  ],
  project: ["**/*.{ts,cjs}"],
  // The generated ABIs export every contract's ABI and bytecode whether or not a service uses it.
  ignoreIssues: { "abis/**": ["exports", "types"] },
  ignoreDependencies: [
    // Solidity imports, resolved by forge through foundry.toml's remappings.
    "@openzeppelin/contracts",
    // They install the platform binaries that scripts/forge.cjs and common/anvil.ts resolve by
    // their platform package's name (@foundry-rs/<tool>-<platform>), which knip cannot follow.
    "@foundry-rs/anvil",
    "@foundry-rs/forge",
    "@foundry-rs/anvil-linux-amd64",
  ],
  // iproute2's socket lister, which two tests call to count open connections.
  ignoreBinaries: ["ss"],
};

export default config;
