/**
 * Limits against abusive queries: depth, cost, aliases and tokens (graphql-armor), each refusal
 * tagged with its own `extensions.code`, and introspection when it is switched off.
 */
import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { NoSchemaIntrospectionCustomRule, type GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { ApiConfig } from "../config";

/** Armor's errors carry no code; this stamps one on each before armor throws it. */
const tag = (code: string) => [(_context: unknown, error: GraphQLError) => void Object.assign(error.extensions, { code })];

export function useLimits(config: ApiConfig): (Plugin | ReturnType<typeof EnvelopArmorPlugin>)[] {
  const armor = EnvelopArmorPlugin({
    maxDepth: { n: config.API_MAX_DEPTH, onReject: tag("QUERY_TOO_DEEP") },
    costLimit: { maxCost: config.API_MAX_COST, onReject: tag("QUERY_TOO_COMPLEX") },
    maxAliases: { n: config.API_MAX_ALIASES, onReject: tag("TOO_MANY_ALIASES") },
    maxTokens: { n: config.API_MAX_TOKENS, onReject: tag("TOO_MANY_TOKENS") },
    maxDirectives: { n: 20, onReject: tag("TOO_MANY_DIRECTIVES") },
    blockFieldSuggestion: { enabled: !config.API_INTROSPECTION },
  });
  const noIntrospection: Plugin = {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
  return config.API_INTROSPECTION ? [armor] : [armor, noIntrospection];
}
