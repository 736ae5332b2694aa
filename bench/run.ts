/**
 * `npm run bench [-- --quick]`: every benchmark in turn, each in a child process of its own (a
 * fresh heap and no state carried from one to the next), `--quick` passed through. Their output
 * streams as it comes; at the end, each one's status and time, then every table again in one
 * place. Exits 1 if any benchmark failed.
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const passThrough = process.argv.slice(2).filter((arg) => arg === "--quick");
const BENCHES = ["indexing", "queries", "subscriptions", "oracle", "overload", "memory", "bsc"];

type Outcome = { name: string; code: number; seconds: number; tables: string[] };

function run(name: string): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(join(root, "node_modules", ".bin", "tsx"), [join("bench", `${name}.ts`), ...passThrough], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    });
    child.on("close", (code, signal) => {
      // Tables and headings are paragraphs of their own (blank lines around them) in every bench's output.
      const tables = output.split(/\n\s*\n/).filter((block) => block.trim().split("\n").every((line) => line.startsWith("|") || line.startsWith("#")));
      resolve({ name, code: code ?? (signal ? 1 : 0), seconds: (Date.now() - started) / 1000, tables });
    });
  });
}

const outcomes: Outcome[] = [];
for (const name of BENCHES) {
  console.log(`\n===== bench/${name}.ts ${passThrough.join(" ")} =====`);
  outcomes.push(await run(name));
}

console.log("\n===== summary =====\n");
console.log("| bench | result | seconds |");
console.log("|---|---|---:|");
for (const outcome of outcomes) console.log(`| ${outcome.name} | ${outcome.code === 0 ? "ok" : `FAILED (exit ${outcome.code})`} | ${outcome.seconds.toFixed(0)} |`);
for (const outcome of outcomes) {
  if (outcome.tables.length === 0) continue;
  console.log(`\n## ${outcome.name}`);
  for (const block of outcome.tables) console.log(`\n${block.trim()}`);
}
if (outcomes.some((outcome) => outcome.code !== 0)) process.exitCode = 1;
