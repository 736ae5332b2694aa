/**
 * The client's own mistakes in the query text carry a code and quote at most a short prefix of
 * the input, on every transport: parse and validation run through these hooks for HTTP, SSE and
 * graphql-ws alike (variable errors, raised while executing, are coded by create-api's maskError).
 */
import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import { asClientError } from "../errors";

export function useClientErrors(): Plugin {
  return {
    onParse() {
      return ({ result, replaceParseResult }) => {
        if (result instanceof GraphQLError) replaceParseResult(asClientError(result, "GRAPHQL_PARSE_FAILED"));
      };
    },
    onValidate() {
      return ({ result, setResult }) => {
        if (result.length > 0) setResult(result.map((error) => asClientError(error, "GRAPHQL_VALIDATION_FAILED")));
      };
    },
  };
}
