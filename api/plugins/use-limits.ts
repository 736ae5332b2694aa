/**
 * Limits against abusive queries: depth, aliases and tokens (graphql-armor), the cost computed
 * with the variables' values and the length of every list argument (here, before any resolver
 * runs, on every transport), each refusal tagged with its own `extensions.code`, and
 * introspection when it is switched off.
 */
import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ExecutionArgs, type ValidationRule } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { ApiConfig } from "../config";
import { hasListLongerThan, queryCost } from "../cost";

/** Armor's errors carry no code; this stamps one on each before armor throws it. */
const tag = (code: string) => [(_context: unknown, error: GraphQLError) => void Object.assign(error.extensions, { code })];

const tooLong = (max: number) => new GraphQLError(`A list argument has more than ${max} items`, { extensions: { code: "LIST_TOO_LONG" } });

/** Lists written in the query itself. */
const listLengthRule =
  (max: number): ValidationRule =>
  (context) => ({
    ListValue(node) {
      if (node.values.length > max) context.reportError(new GraphQLError(tooLong(max).message, { nodes: node, extensions: { code: "LIST_TOO_LONG" } }));
    },
  });

/** Why this operation must not run, if it must not: checked once its variables are known. */
function refusal(args: Pick<ExecutionArgs, "schema" | "document" | "variableValues" | "operationName">, config: ApiConfig): GraphQLError | undefined {
  if (hasListLongerThan(args.variableValues, config.API_MAX_LIST_LENGTH)) return tooLong(config.API_MAX_LIST_LENGTH);
  const cost = queryCost({ schema: args.schema, document: args.document, variables: args.variableValues, operationName: args.operationName }, config.API_DEFAULT_PAGE_SIZE);
  if (cost !== undefined && cost > config.API_MAX_COST) {
    return new GraphQLError(`The query's estimated cost is ${cost}; at most ${config.API_MAX_COST} is served (lower first: or nest fewer lists)`, {
      extensions: { code: "QUERY_TOO_COMPLEX" },
    });
  }
  return undefined;
}

export function useLimits(config: ApiConfig): (Plugin | ReturnType<typeof EnvelopArmorPlugin>)[] {
  const armor = EnvelopArmorPlugin({
    maxDepth: { n: config.API_MAX_DEPTH, onReject: tag("QUERY_TOO_DEEP") },
    // Cost is ours (below): armor's estimate cannot see variables.
    costLimit: { enabled: false },
    maxAliases: { n: config.API_MAX_ALIASES, onReject: tag("TOO_MANY_ALIASES") },
    maxTokens: { n: config.API_MAX_TOKENS, onReject: tag("TOO_MANY_TOKENS") },
    maxDirectives: { n: 20, onReject: tag("TOO_MANY_DIRECTIVES") },
    blockFieldSuggestion: { enabled: !config.API_INTROSPECTION },
  });
  const bounded: Plugin = {
    onValidate({ addValidationRule }) {
      addValidationRule(listLengthRule(config.API_MAX_LIST_LENGTH));
      if (!config.API_INTROSPECTION) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
    onExecute({ args, setResultAndStopExecution }) {
      const error = refusal(args, config);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = refusal(args, config);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
  return [armor, bounded];
}
