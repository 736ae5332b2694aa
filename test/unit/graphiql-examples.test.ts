/** GraphiQL's tabs (api/graphiql-examples.ts): api/README.md's examples, each valid against the schema with its variables. */
import { readFile } from "node:fs/promises";
import { coerceInputValue, getOperationAST, parse, typeFromAST, validate, type GraphQLInputType } from "graphql";
import { describe, expect, it } from "vitest";
import { graphiqlExamples, graphiqlOptions } from "../../api/graphiql-examples";
import { buildSchema } from "../../api/schema";

const schema = buildSchema();
const examples = graphiqlExamples(new Date("2026-12-03T06:00:00Z"));

describe("GraphiQL's examples", () => {
  it.each(examples.map((example) => [getOperationAST(parse(example.query))?.name?.value ?? "anonymous", example] as const))("%s validates, its variables too", (_name, example) => {
    const document = parse(example.query);
    expect(validate(schema, document).map((error) => error.message)).toEqual([]);
    const operation = getOperationAST(document)!;
    const problems: string[] = [];
    for (const definition of operation.variableDefinitions ?? []) {
      const type = typeFromAST(schema, definition.type) as GraphQLInputType;
      coerceInputValue(example.variables?.[definition.variable.name.value], type, (_path, _value, error) => problems.push(`$${definition.variable.name.value}: ${error.message}`));
    }
    expect(problems).toEqual([]);
    // Every variable the operation declares is given (none of them has a default).
    expect(Object.keys(example.variables ?? {}).sort()).toEqual((operation.variableDefinitions ?? []).map((definition) => definition.variable.name.value).sort());
  });

  it("are api/README.md's example queries, in its order, each named (GraphiQL titles its tabs by name)", async () => {
    const readme = await readFile("api/README.md", "utf8");
    const documented = [...readme.slice(readme.indexOf("## Example queries")).matchAll(/```graphql\n([\s\S]*?)\n```/g)].map((match) => match[1]);
    expect(examples.map((example) => example.query)).toEqual(documented);
    for (const example of examples) expect(getOperationAST(parse(example.query))?.name).toBeDefined();
  });

  it("open GraphiQL on the overview, with the others in tabs", () => {
    const options = graphiqlOptions();
    expect(options.defaultTabs?.[0]?.query).toMatch(/^query Overview \{/);
    expect(options.defaultTabs).toHaveLength(examples.length);
    const earnings = JSON.parse(options.defaultTabs!.find((tab) => tab.query?.startsWith("query NodeEarnings"))!.variables!) as { from: string; to: string };
    expect(Date.parse(earnings.from)).toBeLessThan(Date.now());
    expect(Date.parse(earnings.to)).toBeGreaterThan(Date.now());
  });
});
