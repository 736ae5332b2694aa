/**
 * The npm scripts that run forge fail when forge fails. The npm `forge` wrapper always exits 0,
 * so these run the repository's own scripts (package.json's, scripts/forge.cjs, scripts/test.ts,
 * foundry.toml) through npm in a temporary project holding a copy of one small contract and its
 * test, first as they are, then with a compile error, then with a failing forge test.
 */
import { spawnSync } from "node:child_process";
import { appendFile, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { patience } from "../../harness/wait";

const REPO = resolve(import.meta.dirname, "../..");
const COPIED = [
  "foundry.toml",
  "scripts/forge.cjs",
  "scripts/solc.cjs",
  "scripts/test.ts",
  "scripts/generate-abis.ts",
  "harness/browser.ts",
  "harness/promql.ts",
  "contracts/src/interfaces/AggregatorV3Interface.sol",
  "contracts/src/mocks/MockPriceFeed.sol",
  "contracts/test/utils/TestBase.sol",
  "contracts/test/MockPriceFeed.t.sol",
];
const FEED = "contracts/src/mocks/MockPriceFeed.sol";
const FAILING_TEST = "contracts/test/Failing.t.sol";
/** forge with solc-js, behind npm and tsx, several times per case: slow on a busy machine. */
const CASE_TIMEOUT = 400_000;

let project: string;

function npm(args: string[]) {
  const run = spawnSync("npm", ["run", "-s", ...args], { cwd: project, encoding: "utf8", timeout: patience(300_000) });
  return { status: run.status, output: `${run.stdout}\n${run.stderr}` };
}

/** The `N passed, N failed` line `npm test` ends with. */
function tally(output: string) {
  const match = [...output.matchAll(/^(\d+) passed, (\d+) failed$/gm)].at(-1);
  expect(match, output).toBeDefined();
  return { passed: Number(match![1]), failed: Number(match![2]) };
}

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), "far-tooling-"));
  for (const file of COPIED) {
    await mkdir(dirname(join(project, file)), { recursive: true });
    await copyFile(join(REPO, file), join(project, file));
  }
  const { scripts } = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> };
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "far-tooling-check", private: true, type: "module", scripts }));
  await symlink(join(REPO, "node_modules"), join(project, "node_modules"));
});

afterAll(async () => {
  if (project) await rm(project, { recursive: true, force: true });
});

describe("npm scripts that run forge", () => {
  let baseline: { passed: number; failed: number };

  it("succeed on a project that compiles and passes", () => {
    for (const script of ["build:contracts", "test:contracts"]) {
      const run = npm([script]);
      expect(run.status, `npm run ${script}\n${run.output}`).toBe(0);
    }
    const contracts = npm(["test", "--", "--contracts"]);
    expect(contracts.output).toContain("✓ contracts compile");
    // The copy has none of the contracts abis/ is generated from, so its ABI check fails: the
    // cases below compare their tallies with this one.
    baseline = tally(contracts.output);
    expect(baseline.passed).toBeGreaterThan(1);
  }, CASE_TIMEOUT);

  it("fail on a compile error, and npm test counts it", async () => {
    const source = await readFile(join(project, FEED), "utf8");
    await appendFile(join(project, FEED), "\ncontract Broken { function f() public { notDeclared(); } }\n");
    try {
      for (const script of ["build:contracts", "test:contracts", "abis"]) {
        const run = npm([script]);
        expect(run.status, `npm run ${script}\n${run.output}`).not.toBe(0);
        expect(run.output).toMatch(/Compiler run failed|Undeclared identifier/);
        // `abis` stopped at forge: generate-abis never went looking for the build output.
        expect(run.output).not.toContain("FARToken.json");
      }
      const contracts = npm(["test", "--", "--contracts"]);
      expect(contracts.status).not.toBe(0);
      expect(contracts.output).toContain("✗ contracts compile");
      expect(tally(contracts.output).failed).toBeGreaterThan(baseline.failed);
    } finally {
      await writeFile(join(project, FEED), source);
    }
  }, CASE_TIMEOUT);

  it("fail on a failing forge test, and npm test counts it", async () => {
    await writeFile(
      join(project, FAILING_TEST),
      [
        "// SPDX-License-Identifier: MIT",
        "pragma solidity ^0.8.20;",
        'import {TestBase} from "./utils/TestBase.sol";',
        "contract FailingTest is TestBase {",
        "    function test_Fails() public pure { assertEq(uint256(1), uint256(2)); }",
        "}",
        "",
      ].join("\n"),
    );
    try {
      const run = npm(["test:contracts"]);
      expect(run.status, run.output).not.toBe(0);
      expect(run.output).toContain("[FAIL");
      const contracts = npm(["test", "--", "--contracts"]);
      expect(contracts.status).not.toBe(0);
      expect(contracts.output).toContain("✓ contracts compile");
      expect(tally(contracts.output)).toEqual({ passed: baseline.passed, failed: baseline.failed + 1 });
    } finally {
      await rm(join(project, FAILING_TEST));
    }
  }, CASE_TIMEOUT);
});
