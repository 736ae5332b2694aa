/**
 * `npm test`: every suite of the project in one run — the contracts (forge: unit, fuzz,
 * invariant), the ABI freshness check, the typecheck, the unused-code check (knip), and vitest
 * (smoke, indexer, API, oracle). Ends with one line `N passed, N failed` that CI reads.
 * `npm test -- --contracts`: the contract steps only (compile, ABI freshness, forge test), which
 * is all a Solidity change needs re-run.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { CHROMIUM_PATH, hasChromium } from "../harness/browser";
import { hasPromtool, PROMTOOL_PATH } from "../harness/promql";

const contractsOnly = process.argv.includes("--contracts");

type Tally = { passed: number; failed: number; skipped: number };
type VitestReport = {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: { name: string; message?: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
};
/** What failed, repeated at the end: CI keeps only the tail of a long run. */
const failures: string[] = [];
const total: Tally = { passed: 0, failed: 0, skipped: 0 };

function run(command: string, args: string[], capture = false): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", capture ? "pipe" : "inherit", "inherit"] });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    });
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

function step(name: string, ok: boolean) {
  if (ok) total.passed += 1;
  else {
    total.failed += 1;
    failures.push(name);
  }
  console.log(`${ok ? "✓" : "✗"} ${name}`);
}

console.log("== contracts: build and ABI freshness; typecheck; unused code ==");
// scripts/forge.cjs, not the npm `forge` wrapper: the wrapper exits 0 even when forge failed.
const build = await run("node", ["scripts/forge.cjs", "build"]);
step("contracts compile", build.code === 0);
const abis = await run("tsx", ["scripts/generate-abis.ts", "--check"]);
step("abis/ matches contracts/", abis.code === 0);
if (!contractsOnly) {
  const typecheck = await run("tsc", ["--noEmit"]);
  step("TypeScript strict typecheck", typecheck.code === 0);
  // Files, exports, types and dependencies nothing reaches from an entry point (knip.config.ts).
  const knip = await run("npm", ["run", "-s", "knip"]);
  step("unused code (knip)", knip.code === 0);
}

console.log("\n== contracts: forge test (unit, fuzz, invariant) ==");
const forge = await run("node", ["scripts/forge.cjs", "test"], true);
const forgeSummary = [...forge.output.matchAll(/(\d+) tests passed, (\d+) failed, (\d+) skipped/g)].at(-1);
if (forgeSummary) {
  total.passed += Number(forgeSummary[1]);
  total.failed += Number(forgeSummary[2]);
  total.skipped += Number(forgeSummary[3]);
}
failures.push(...[...forge.output.matchAll(/^\[FAIL[^\n]*/gm)].map(([line]) => `forge: ${line}`));
if (forge.code !== 0 && (!forgeSummary || Number(forgeSummary[2]) === 0)) step("forge test ran", false);

if (contractsOnly) finish();

console.log("\n== vitest ==");
const skippedSuites = [
  ...(process.env.DATABASE_URL ? [] : ["Postgres suites (set DATABASE_URL to run them)"]),
  ...(process.env.REDIS_URL ? [] : ["Redis suites (set REDIS_URL to run them)"]),
  ...(hasChromium ? [] : [`the browser tests: GraphiQL and the dashboard (no Chromium at ${CHROMIUM_PATH}: apt-get install chromium, or set CHROMIUM_PATH)`]),
  ...(hasPromtool ? [] : [`the alert rules' promtool checks (no promtool at ${PROMTOOL_PATH}: apt-get install prometheus)`]),
];
for (const suite of skippedSuites) console.log(`skipping: ${suite}`);
// The unit tests first and on their own, through `npm run test:unit`, so their time is seen.
const unitStarted = performance.now();
await vitestRun("unit", ["npm", "run", "-s", "test:unit", "--"]);
console.log(`unit tests took ${((performance.now() - unitStarted) / 1000).toFixed(1)} s`);
await vitestRun("end to end", ["vitest", "run", "--exclude", "test/unit/**"]);

if (skippedSuites.length > 0) console.log(`\nskipped: ${skippedSuites.join("; ")}`);

finish();

/**
 * Runs a vitest command line (`command` ends where vitest's own options may follow), adding its
 * tests to the tally and its failures to the list.
 */
async function vitestRun(name: string, [command, ...args]: [string, ...string[]]): Promise<void> {
  const reportPath = join(await mkdtemp(join(tmpdir(), "far-vitest-")), "report.json");
  const vitest = await run(command, [...args, "--reporter=default", "--reporter=json", `--outputFile=${reportPath}`]);
  const report = await readFile(reportPath, "utf8").then(
    (text) => JSON.parse(text) as VitestReport,
    () => undefined,
  );
  if (report) {
    total.passed += report.numPassedTests;
    total.failed += report.numFailedTests;
    total.skipped += report.numPendingTests + report.numTodoTests;
    for (const file of report.testResults) {
      const where = relative(process.cwd(), file.name);
      const failed = file.assertionResults.filter((test) => test.status === "failed");
      for (const test of failed) failures.push(`${where} > ${test.fullName}: ${firstLine(test.failureMessages[0])}`);
      // A file that failed outside any test (a hook, an import) has no failed assertion to name.
      if (failed.length === 0 && file.message) failures.push(`${where}: ${firstLine(file.message)}`);
    }
  }
  if (vitest.code !== 0 && (!report || report.numFailedTests === 0)) step(`vitest (${name}) ran`, false);
}

function firstLine(text = ""): string {
  return (text.split("\n", 1)[0] ?? "").slice(0, 300);
}

function finish(): never {
  if (failures.length > 0) console.log(`\nfailed:\n${failures.map((failure) => `  ✗ ${failure}`).join("\n")}`);
  console.log(`\n${total.skipped} skipped`);
  console.log(`${total.passed} passed, ${total.failed} failed`);
  process.exit(total.failed > 0 ? 1 : 0);
}
