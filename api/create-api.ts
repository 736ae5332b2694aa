/**
 * The GraphQL server, the same in both modes: given a database, settings, a logger and a
 * metrics registry, it returns a Yoga instance that serves `/graphql` as a fetch handler.
 */
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import { GraphQLError } from "graphql";
import { createYoga, maskError, useExecutionCancellation } from "graphql-yoga";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { createContext, type ApiDependencies } from "./context";
import { RequestAbortedError } from "./db";
import { ApiError } from "./errors";
import { useLimits } from "./plugins/use-limits";
import { useLoadShedding } from "./plugins/use-load-shedding";
import { useLogging } from "./plugins/use-logging";
import { useMetrics } from "./plugins/use-metrics";
import { useSqlCount } from "./plugins/use-sql-count";
import { buildSchema } from "./schema";

export const GRAPHQL_PATH = "/graphql";

export type CreateApiParameters = ApiDependencies & { logger: Logger; registry: Registry };

/** An error of the given class, wherever graphql-js wrapped it. */
function errorIn<T extends Error>(error: unknown, type: new (...args: never[]) => T): T | undefined {
  for (let current = error; current instanceof Error; current = (current as GraphQLError).originalError ?? current.cause) {
    if (current instanceof type) return current;
  }
  return undefined;
}

export function createApi(parameters: CreateApiParameters) {
  const { config, logger, registry } = parameters;
  const schema = buildSchema();
  const yoga = createYoga({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    // The request's signal ends its work when the client goes away (HTTP; a WebSocket has its own lifetime).
    context: ({ request }) => createContext(parameters, request?.signal),
    graphiql: config.API_GRAPHIQL ? { title: "FAR data service" } : false,
    renderGraphiQL,
    landingPage: false,
    logging: false,
    maskedErrors: {
      maskError: (error, message, isDev) => {
        // Built with its code by a plugin (OVERLOADED): an answer to the client, not a failure to log.
        if (error instanceof GraphQLError && !error.originalError && error.extensions.code) return error;
        const apiError = errorIn(error, ApiError);
        if (!apiError) {
          // Nobody reads the answer to a client that left: not a server error.
          if (errorIn(error, RequestAbortedError)) logger.debug({ msg: "GraphQL operation abandoned by its client" });
          else logger.error({ msg: "GraphQL resolver failed", err: error });
          return maskError(error, message, isDev);
        }
        const located = error instanceof GraphQLError ? error : undefined;
        return new GraphQLError(apiError.shortMessage, { nodes: located?.nodes, path: located?.path, extensions: apiError.extensions });
      },
    },
    plugins: [useLoadShedding(config, registry), useExecutionCancellation(), ...useLimits(config), useMetrics(registry), useLogging(logger), ...(config.API_EXPOSE_SQL_COUNT ? [useSqlCount()] : [])],
  });
  return { yoga, schema };
}
