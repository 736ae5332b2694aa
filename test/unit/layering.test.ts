/**
 * The layers, enforced: every import between the project's own files, read from the sources
 * (static imports and re-exports, side-effect and dynamic imports), held to the rules below. A
 * failure lists every offending edge as `from → to`.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Every folder of TypeScript the project writes, and Ponder's entry files at the root. */
const SOURCE_DIRS = ["abis", "api", "bench", "common", "contracts/deploy", "domain", "harness", "indexer", "ops", "oracle", "schema", "scripts", "src", "test", "webhooks"];
const ROOT_FILES = ["ponder.config.ts", "ponder.schema.ts"];

/** An import: `from` is a repo-relative file; `to` a repo-relative file, or a package's specifier. */
type Edge = { from: string; to: string; local: boolean };

/** Every module a source file names: static imports and re-exports, side-effect and dynamic imports. */
export function specifiers(source: string): string[] {
  return [...source.matchAll(/\bfrom\s*["']([^"']+)["']|\bimport\s*\(?\s*["']([^"']+)["']/g)].map((match) => (match[1] ?? match[2])!);
}

/** The file a relative specifier names, as TypeScript's bundler resolution finds it. */
function resolveLocal(from: string, specifier: string): string {
  const base = posix.normalize(posix.join(posix.dirname(from), specifier));
  const candidates = [base, `${base}.ts`, `${base}/index.ts`];
  return candidates.find((candidate) => /\.[cm]?[jt]s$|\.json$/.test(candidate) && existsSync(join(ROOT, candidate))) ?? base;
}

export function edgesOf(from: string, source: string): Edge[] {
  return specifiers(source).map((specifier) =>
    specifier.startsWith(".") ? { from, to: resolveLocal(from, specifier), local: true } : { from, to: specifier, local: false },
  );
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

const under =
  (...prefixes: string[]) =>
  (path: string) =>
    prefixes.some((prefix) => path === prefix || path.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`));

type Rule = { name: string; applies: (from: string) => boolean; forbids: (edge: Edge) => boolean };

/** A file's stage in the data's path, chain → indexer → tables → feed → API; undefined if it has none. */
const STAGES: { name: string; files: (path: string) => boolean }[] = [
  { name: "chain", files: under("contracts", "abis") },
  { name: "indexer", files: under("indexer") },
  // api/db.ts is the API's one reader of the tables (and of Ponder's progress beside them).
  { name: "tables", files: under("schema", "ponder.schema.ts", "api/db.ts") },
  { name: "feed", files: under("api/feed") },
  // The API's settings and errors are shared by its feed: they belong to no stage.
  { name: "API", files: (path) => under("api")(path) && !under("api/config.ts", "api/errors.ts")(path) },
];
const stageOf = (path: string) => STAGES.findIndex((stage) => stage.files(path));

const TXM_PACKAGES = [/^viem(\/|$)/, /^prom-client$/, /^pino$/, /^node:/];

export const RULES: Rule[] = [
  {
    // What two of them need lives in domain/ (or common/).
    name: "api/, indexer/ and oracle/ do not import each other",
    applies: under("api", "indexer", "oracle"),
    forbids: (edge) => edge.local && ["api", "indexer", "oracle"].some((dir) => under(dir)(edge.to) && !under(dir)(edge.from)),
  },
  {
    // The GraphQL schema (api/types/) resolves through the services beside it, never the reverse;
    // api/schema.ts assembles it. (The feed is an earlier stage: the stage rule holds it.)
    name: "within api/, only api/types/ and api/schema.ts import api/types/",
    applies: (from) => under("api")(from) && !under("api/types", "api/schema.ts", "api/feed")(from),
    forbids: (edge) => edge.local && under("api/types")(edge.to),
  },
  { name: "scripts/, bench/ and harness/ do not import test/", applies: under("scripts", "bench", "harness"), forbids: (edge) => edge.local && under("test")(edge.to) },
  { name: "nothing outside bench/ imports bench/", applies: (from) => !under("bench")(from), forbids: (edge) => edge.local && under("bench")(edge.to) },
  {
    name: "oracle/txm/ imports only viem, prom-client, pino, node:*, common/, oracle/db/ and oracle/txm/ (not the job model)",
    applies: under("oracle/txm"),
    forbids: (edge) => (edge.local ? !under("common", "oracle/db", "oracle/txm")(edge.to) : !TXM_PACKAGES.some((pattern) => pattern.test(edge.to))),
  },
  { name: "common/ imports only common/", applies: under("common"), forbids: (edge) => edge.local && !under("common")(edge.to) },
  {
    name: "domain/ imports only viem, common/ and domain/",
    applies: under("domain"),
    forbids: (edge) => (edge.local ? !under("common", "domain")(edge.to) : !/^viem(\/|$)/.test(edge.to)),
  },
  {
    // The deliverer is a client of the API's public subscription, not part of the API.
    name: "webhooks/ imports only common/, domain/ and webhooks/",
    applies: under("webhooks"),
    forbids: (edge) => edge.local && !under("common", "domain", "webhooks")(edge.to),
  },
  { name: "only scripts/ and test/ import webhooks/", applies: (from) => !under("webhooks", "scripts", "test")(from), forbids: (edge) => edge.local && under("webhooks")(edge.to) },
  {
    name: "a stage never imports a later one (chain → indexer → tables → feed → API)",
    applies: (from) => stageOf(from) >= 0,
    forbids: (edge) => edge.local && stageOf(edge.to) > stageOf(edge.from),
  },
];

export function violations(edges: readonly Edge[], rules: readonly Rule[] = RULES): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  for (const rule of rules) {
    const offending = [...new Set(edges.filter((edge) => rule.applies(edge.from) && rule.forbids(edge)).map((edge) => `${edge.from} → ${edge.to}`))];
    if (offending.length > 0) found[rule.name] = offending;
  }
  return found;
}

describe("reading imports", () => {
  it("reads every import form", () => {
    const source = `import { a } from "./a";\nimport type {\n  B,\n} from '../db/sql';\nexport { c } from "./c";\nexport * from "./d";\nimport "node:process";\nconst e = await import("../message");`;
    expect(specifiers(source)).toEqual(["./a", "../db/sql", "./c", "./d", "node:process", "../message"]);
  });

  it("resolves relative specifiers to repo files, and keeps packages as named", () => {
    const source = `import { claimableAt } from "../../domain/staking";\nimport { payout } from "../../schema";\nimport { parseAbi } from "viem";`;
    expect(edgesOf("api/types/staking.ts", source)).toEqual([
      { from: "api/types/staking.ts", to: "domain/staking.ts", local: true },
      { from: "api/types/staking.ts", to: "schema/index.ts", local: true },
      { from: "api/types/staking.ts", to: "viem", local: false },
    ]);
  });
});

describe("the rules", () => {
  /** A repo file ends in .ts; anything else is a package. */
  const edge = (from: string, to: string): Edge => ({ from, to, local: to.endsWith(".ts") });
  it.each<[string, string, boolean]>([
    ["api/db.ts", "indexer/context.ts", false],
    ["api/types/staking.ts", "domain/staking.ts", true],
    ["indexer/tasks.ts", "api/errors.ts", false],
    ["indexer/revenue.ts", "domain/buckets.ts", true],
    ["scripts/gas-report.ts", "test/helpers/reorg.ts", false],
    ["bench/oracle.ts", "test/oracle/helpers.ts", false],
    ["bench/oracle.ts", "harness/chain.ts", true],
    ["harness/ponder.ts", "test/helpers/reorg.ts", false],
    ["test/api/suite.ts", "bench/args.ts", false],
    ["scripts/far.ts", "bench/history.ts", false],
    ["bench/queries.ts", "bench/args.ts", true],
    ["oracle/txm/manager.ts", "oracle/settlement/jobs.ts", false],
    ["oracle/txm/manager.ts", "oracle/message.ts", false],
    ["oracle/txm/manager.ts", "oracle/pricing.ts", false],
    ["oracle/txm/manager.ts", "oracle/intake.ts", false],
    ["oracle/txm/manager.ts", "oracle/worker.ts", false],
    ["oracle/txm/manager.ts", "abis/index.ts", false],
    ["oracle/txm/manager.ts", "zod", false],
    ["oracle/txm/manager.ts", "common/sql.ts", true],
    ["oracle/txm/manager.ts", "common/resilience.ts", true],
    ["oracle/txm/manager.ts", "viem/accounts", true],
    ["oracle/settlement/pipeline.ts", "oracle/txm/manager.ts", true],
    ["oracle/worker.ts", "api/errors.ts", false],
    ["api/create-api.ts", "oracle/metrics.ts", false],
    ["common/config.ts", "oracle/config.ts", false],
    ["common/chain.ts", "domain/tasks.ts", false],
    ["common/chain.ts", "harness/chain.ts", false],
    ["domain/staking.ts", "domain/buckets.ts", true],
    ["domain/staking.ts", "common/errors.ts", true],
    ["domain/staking.ts", "schema/index.ts", false],
    ["domain/staking.ts", "zod", false],
    ["contracts/deploy/deploy.ts", "indexer/context.ts", false],
    ["indexer/revenue.ts", "schema/index.ts", false],
    ["schema/enums.ts", "api/feed/fanout.ts", false],
    ["schema/enums.ts", "domain/buckets.ts", true],
    ["api/feed/fanout.ts", "api/db.ts", true],
    ["api/feed/fanout.ts", "api/errors.ts", true],
    ["api/feed/fanout.ts", "api/types/refs.ts", false],
    ["api/types/refs.ts", "api/feed/fanout.ts", true],
    ["api/types/refs.ts", "schema/index.ts", true],
    ["api/revenue.ts", "api/types/refs.ts", false],
    ["api/status.ts", "api/types/status.ts", false],
    ["api/types/refs.ts", "api/revenue.ts", true],
    ["api/schema.ts", "api/types/nodes.ts", true],
    ["webhooks/deliverer.ts", "common/sql.ts", true],
    ["webhooks/feed.ts", "api/feed/messages.ts", false],
    ["webhooks/feed.ts", "oracle/db/migrate.ts", false],
    ["scripts/far.ts", "webhooks/cli.ts", true],
    ["api/http.ts", "webhooks/deliverer.ts", false],
    ["ops/verify.ts", "webhooks/verify.ts", false],
  ])("%s → %s allowed: %s", (from, to, allowed) => {
    expect(Object.values(violations([edge(from, to)])).flat()).toEqual(allowed ? [] : [`${from} → ${to}`]);
  });
});

describe("the project's imports", () => {
  // This file's own examples above are not imports.
  const files = [...SOURCE_DIRS.flatMap(sourceFiles), ...ROOT_FILES].filter((file) => file !== "test/unit/layering.test.ts");
  const edges = files.flatMap((file) => edgesOf(file, readFileSync(join(ROOT, file), "utf8")));

  it("finds the sources of every folder it checks", () => {
    for (const dir of SOURCE_DIRS) expect(files.some(under(dir)), dir).toBe(true);
    expect(files).toEqual(expect.arrayContaining(["oracle/txm/manager.ts", "api/db.ts", "indexer/revenue.ts", "domain/staking.ts", "harness/chain.ts"]));
    expect(edges.length).toBeGreaterThan(files.length);
  });

  // tsc resolves every import; this holds the reader to the same answer on a few known ones.
  it("resolves imports to the files tsc finds", () => {
    const named = edges.filter((edge) => edge.local).map((edge) => `${edge.from} → ${edge.to}`);
    expect(named).toEqual(
      expect.arrayContaining(["api/db.ts → domain/progress.ts", "api/types/staking.ts → schema/index.ts", "oracle/txm/manager.ts → oracle/txm/types.ts", "bench/oracle.ts → harness/chain.ts"]),
    );
  });

  it("breaks no rule", () => {
    const found = violations(edges);
    expect(found, `forbidden imports:\n${Object.entries(found).map(([rule, list]) => `${rule}:\n  ${list.join("\n  ")}`).join("\n")}`).toEqual({});
  });
});
