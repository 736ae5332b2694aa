#!/usr/bin/env node
// Runs the forge binary that npm installed and exits with its exit code. The npm wrapper
// (@foundry-rs/forge's bin) always exits 0, so a failing test or a compile error would pass
// unnoticed through every npm script that ran it; this resolver calls the platform binary itself.
const { spawnSync } = require("node:child_process");
const path = require("node:path");

const arch = { x64: "amd64", arm64: "arm64" }[process.arch] ?? process.arch;
const platformPackage = `@foundry-rs/forge-${process.platform}-${arch}`;
let binary;
try {
  binary = path.join(path.dirname(require.resolve(`${platformPackage}/package.json`)), "bin", process.platform === "win32" ? "forge.exe" : "forge");
} catch {
  console.error(`forge: ${platformPackage} is not installed (run npm install on this platform)`);
  process.exit(127);
}

const result = spawnSync(binary, process.argv.slice(2), { stdio: "inherit" });
if (result.error) {
  console.error(`forge: cannot run ${binary}: ${result.error.message}`);
  process.exit(127);
}
// A forge killed by a signal did not succeed either: 128 + signal number, as a shell reports it.
if (result.signal) process.exit(128 + (require("node:os").constants.signals[result.signal] ?? 0));
process.exit(result.status ?? 1);
