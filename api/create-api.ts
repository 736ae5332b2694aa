/**
 * The GraphQL server, the same in both modes: given a database, settings, a logger and a
 * metrics registry, it returns a Yoga instance that serves `/graphql` as a fetch handler.
 */
import { GraphQLError } from "graphql";
import { createYoga, maskError, useExecutionCancellation } from "graphql-yoga";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { createContext, type ApiDependencies, type Connection } from "./context";
import { RequestAbortedError } from "./db";
import { ApiError, asClientError, isRequestError } from "./errors";
import { graphiqlOptions, renderGraphiQL } from "./graphiql-examples";
import { useClientErrors } from "./plugins/use-client-errors";
import { useLimits } from "./plugins/use-limits";
import { useLoadShedding } from "./plugins/use-load-shedding";
import { useLogging } from "./plugins/use-logging";
import { observeIndexing, observeSubscribers, useMetrics } from "./plugins/use-metrics";
import { usePersistedQueries } from "./plugins/use-persisted-queries";
import { createResponseCache } from "./plugins/use-response-cache";
import { useSqlCount } from "./plugins/use-sql-count";
import { useSubscriptionGroups } from "./plugins/use-subscription-groups";
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
  /** What a client sees of an error: its own mistakes coded and clipped, our failures masked and logged. */
  const maskApiError = (error: unknown, message: string, isDev?: boolean): Error => {
    // Built with its code by a plugin (OVERLOADED): an answer to the client, not a failure to log.
    if (error instanceof GraphQLError && !error.originalError && error.extensions.code) return error;
    const apiError = errorIn(error, ApiError);
    if (apiError) {
      const located = error instanceof GraphQLError ? error : undefined;
      // Our own messages: what they quote of the input is clipped where they quote it (scalars.ts).
      return new GraphQLError(apiError.shortMessage, { nodes: located?.nodes, path: located?.path, extensions: apiError.extensions });
    }
    // Syntax, validation and variable errors are the client's: coded, clipped, and logged
    // (by use-logging, without a stack) as the refusals they are rather than as our failures.
    if (isRequestError(error)) return asClientError(error, "BAD_USER_INPUT");
    // Nobody reads the answer to a client that left: not a server error.
    if (errorIn(error, RequestAbortedError)) logger.debug({ msg: "GraphQL operation abandoned by its client" });
    else logger.error({ msg: "GraphQL resolver failed", err: error });
    return maskError(error, message, isDev);
  };
  const responseCache = config.API_RESPONSE_CACHE ? createResponseCache({ db: parameters.db, finality: parameters.finality, config, logger, registry }) : undefined;
  const yoga = createYoga({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    // The request's signal (in the connection) ends its work when the client goes away; its
    // resolvers answer from the indexed block its cached answer is keyed to.
    context: (initial: Connection) => createContext(parameters, initial, responseCache?.indexingStatusFor(initial.request)),
    graphiql: config.API_GRAPHIQL ? graphiqlOptions : false,
    renderGraphiQL,
    landingPage: false,
    logging: false,
    maskedErrors: { maskError: maskApiError },
    plugins: [
      useLoadShedding(config, registry),
      useExecutionCancellation(),
      useClientErrors(),
      ...useLimits(config),
      // Before the response cache: its key is the query's text, which a persisted query's hash stands for.
      ...(config.API_PERSISTED_QUERIES ? [usePersistedQueries(config, logger)] : []),
      ...(responseCache ? [responseCache.plugin] : []),
      useMetrics(registry, config.API_METRICS_MAX_OPERATIONS),
      useLogging(logger),
      ...(config.API_EXPOSE_SQL_COUNT ? [useSqlCount()] : []),
      ...(parameters.feed && config.API_FEED_GROUPING ? [useSubscriptionGroups({ feed: parameters.feed, dependencies: parameters, maskError: maskApiError })] : []),
    ],
  });
  if (parameters.feed) observeSubscribers(registry, parameters.feed);
  observeIndexing(registry, { db: parameters.db, chain: parameters.chain, finality: parameters.finality, maxLagBlocks: config.API_SYNCED_MAX_LAG_BLOCKS });
  return { yoga, schema, maskError: maskApiError };
}
