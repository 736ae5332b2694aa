/** The cost rule (api/cost.ts) on real operations of the real schema: variables count like literals, nested lists multiply. */
import { readFile } from "node:fs/promises";
import { getNamedType, parse, typeFromAST, type OperationDefinitionNode, type TypeNode } from "graphql";
import { describe, expect, it } from "vitest";
import { loadApiConfig } from "../../api/config";
import { hasListLongerThan, queryCost } from "../../api/cost";
import { buildSchema } from "../../api/schema";

const schema = buildSchema();
const config = loadApiConfig({});
const cost = (text: string, variables: Record<string, unknown> = {}) => queryCost({ schema, document: parse(text), variables }, config.API_DEFAULT_PAGE_SIZE);
const nested = (first: string) =>
  `query($n: Int) { payouts(first: ${first}) { edges { node { recipientAccount { payouts(first: ${first}) { edges { node { recipientAccount { payouts(first: ${first}) { edges { node { id } } } } } } } } } } } }`;

describe("query cost", () => {
  it.each([
    // [what, query, variables, cost]
    ["one scalar", `{ indexingStatus { chainId } }`, {}, 2],
    ["a page: first × (1 + its selection)", `{ tasks(first: 10) { edges { node { id } } } }`, {}, 10 * (1 + 1 + (1 + 1))],
    ["first from a variable counts the same", `query($n: Int) { tasks(first: $n) { edges { node { id } } } }`, { n: 10 }, 40],
    ["no first: the default page size", `{ tasks { edges { node { id } } } }`, {}, config.API_DEFAULT_PAGE_SIZE * 4],
    ["a variable left unset: the default page size", `query($n: Int) { tasks(first: $n) { edges { node { id } } } }`, {}, config.API_DEFAULT_PAGE_SIZE * 4],
    ["negative first costs nothing (the resolver refuses it)", `{ tasks(first: -5) { edges { node { id } } } }`, {}, 0],
    ["limit: with its default of 10", `{ revenueSummary { topNodes { amount } } }`, {}, 1 + 10 * 2],
    ["nested lists multiply, literal", nested("100"), {}, 4_040_400],
    ["nested lists multiply, variable", nested("$n"), { n: 100 }, 4_040_400],
    ["skipped fields cost nothing", `query($s: Boolean!) { tasks(first: 100) @skip(if: $s) { edges { cursor } } }`, { s: true }, 0],
    ["fragments count where they are spread", `{ a: tasks(first: 2) { ...T } b: tasks(first: 3) { ...T } } fragment T on TaskConnection { edges { cursor } }`, {}, 2 * 3 + 3 * 3],
  ])("%s", (_what, text, variables, expected) => {
    expect(cost(text, variables)).toBe(expected);
  });

  it("leaves variables that do not coerce to execution's own errors", () => {
    expect(cost(`query($n: Int) { tasks(first: $n) { edges { cursor } } }`, { n: "many" })).toBeUndefined();
  });

  it("lets every example query of the READMEs through", async () => {
    const readmes = (await readFile("README.md", "utf8")) + (await readFile("api/README.md", "utf8"));
    const examples = [...readmes.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => match[1]!);
    expect(examples.length).toBeGreaterThan(2);
    for (const example of examples) expect(cost(example, sampleVariables(example)), example).toBeLessThanOrEqual(config.API_MAX_COST);
  });
});

describe("list lengths in variables", () => {
  it.each([
    ["no lists", { a: 1, b: "x" }, 3, false],
    ["a short list", { s: [1, 2, 3] }, 3, false],
    ["a long list", { s: [1, 2, 3, 4] }, 3, true],
    ["a long list inside an object inside a list", { s: [{ t: [1, 2, 3, 4] }] }, 3, true],
    ["a million items, without recursion", { s: Array.from({ length: 1_000_000 }, () => "X") }, 100, true],
    ["deep nesting, without recursion", { s: Array.from({ length: 50_000 }).reduce<unknown>((inner) => [inner], 1) }, 3, false],
    ["null", null, 3, false],
  ])("%s", (_what, variables, max, expected) => {
    expect(hasListLongerThan(variables, max)).toBe(expected);
  });
});

/** A value of the right type for each variable an example declares. */
function sampleVariables(text: string): Record<string, unknown> {
  const samples: Record<string, unknown> = { Address: `0x${"1".repeat(40)}`, Bytes32: `0x${"1".repeat(64)}`, DateTime: "2026-01-01T00:00:00Z", Int: 20, BigInt: "1", Boolean: true, String: "x" };
  const operation = parse(text).definitions.find((definition): definition is OperationDefinitionNode => definition.kind === "OperationDefinition");
  return Object.fromEntries(
    (operation?.variableDefinitions ?? []).map((definition) => [definition.variable.name.value, samples[getNamedType(typeFromAST(schema, definition.type as TypeNode as never)!).name]]),
  );
}
