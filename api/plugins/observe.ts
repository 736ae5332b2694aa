/**
 * One observation per GraphQL operation (its name, duration, error codes and SQL statements),
 * handed to whoever records it: metrics and logs see the same facts.
 */
import { getOperationAST, type DocumentNode, type ExecutionResult } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { ApiContext } from "../context";

export type Observation = {
  operationName: string;
  durationMs: number;
  errorCodes: string[];
  sqlStatements: number;
};

/** Operation names are client-chosen; anything unusual is folded into one label value. */
const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** What a name beyond the bound, or a malformed one, is counted as. */
export const OTHER_OPERATIONS = "other";

/**
 * The label an operation name gets on /metrics, where every distinct value is a new series held
 * forever: the first `max` distinct names this process sees keep their own label (the operations
 * its clients really use come first and come often), every later new name is counted as "other".
 * A client that invents names can fill the allowance but never grow the series beyond it.
 */
export function createOperationLabels(max: number): (operationName: string) => string {
  const known = new Set<string>();
  return (operationName) => {
    if (known.has(operationName)) return operationName;
    if (known.size >= max) return OTHER_OPERATIONS;
    known.add(operationName);
    return operationName;
  };
}

function errorCodes(result: ExecutionResult): string[] {
  return (result.errors ?? []).map((error) => String(error.extensions?.code ?? "GRAPHQL_VALIDATION_FAILED"));
}

/** The statements the operation's context counted; the context is ours, Yoga only types its own part. */
export function sqlStatementsOf(context: object): number {
  return (context as Partial<ApiContext>).sqlStatements?.() ?? 0;
}

export function useObserver(record: (observation: Observation) => void): Plugin {
  const started = new WeakMap<Request, number>();
  const names = new WeakMap<Request, string>();
  return {
    onRequest({ request }) {
      started.set(request, performance.now());
    },
    onParams({ request, params }) {
      // An answer from the response cache is never parsed: the name the client gave is all there is.
      const name = params.operationName ?? "";
      names.set(request, OPERATION_NAME.test(name) ? name : "anonymous");
    },
    onParse({ context }) {
      return ({ result }) => {
        const { request, params } = context as { request?: Request; params?: { operationName?: string } };
        if (!request || !result || !("kind" in result)) return;
        const name = getOperationAST(result as DocumentNode, params?.operationName)?.name?.value ?? "";
        names.set(request, OPERATION_NAME.test(name) ? name : "anonymous");
      };
    },
    onExecutionResult({ request, result, context }) {
      // Streams (subscriptions) are observed by their own transport, not as one operation.
      if (!result || Symbol.asyncIterator in result) return;
      record({
        operationName: names.get(request) ?? "anonymous",
        durationMs: performance.now() - (started.get(request) ?? performance.now()),
        errorCodes: errorCodes(result),
        sqlStatements: sqlStatementsOf(context),
      });
    },
  };
}
