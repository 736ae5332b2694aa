/**
 * GraphQL over WebSocket (the graphql-ws protocol) for servers that own their HTTP server: the
 * same Yoga instance executes, so limits, errors, metrics and context are those of HTTP.
 */
import { GraphQLError, type ExecutionArgs } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type { YogaServerInstance } from "graphql-yoga";
import type { WebSocketServer } from "ws";
import type { ApiConfig } from "./config";
import type { ApiContext } from "./context";

type Yoga = YogaServerInstance<{}, ApiContext>;
type Enveloped = ReturnType<Yoga["getEnveloped"]>;
type RootValue = { execute: Enveloped["execute"]; subscribe: Enveloped["subscribe"] };

/** The API's error masking (create-api), for the errors graphql-ws sends itself. */
type MaskError = (error: unknown, message: string, isDev?: boolean) => Error;

export function serveGraphqlWs({ yoga, sockets, config, maskError }: { yoga: Yoga; sockets: WebSocketServer; config: ApiConfig; maskError: MaskError }) {
  const active = new WeakMap<object, Set<string>>();
  return useServer(
    {
      connectionInitWaitTimeout: config.API_WS_INIT_TIMEOUT_MS,
      execute: (args) => (args.rootValue as RootValue).execute(args as ExecutionArgs),
      subscribe: (args) => (args.rootValue as RootValue).subscribe(args as ExecutionArgs),
      onSubscribe: async (context, id, payload) => {
        const open = active.get(context.extra.socket) ?? new Set<string>();
        active.set(context.extra.socket, open);
        if (open.size >= config.API_MAX_SUBSCRIPTIONS_PER_CONNECTION) {
          return [
            new GraphQLError(`At most ${config.API_MAX_SUBSCRIPTIONS_PER_CONNECTION} operations per connection`, {
              extensions: { code: "TOO_MANY_SUBSCRIPTIONS" },
            }),
          ];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...context,
          req: context.extra.request,
          socket: context.extra.socket,
          operationId: id,
          params: payload,
        });
        // A query that does not parse is an error for this operation only (thrown, graphql-ws
        // would close the whole connection and every other subscription on it).
        let document: ReturnType<typeof parse>;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError("The query could not be parsed", { extensions: { code: "GRAPHQL_PARSE_FAILED" } })];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        open.add(id);
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } satisfies RootValue,
        };
      },
      onComplete: (context, id) => void active.get(context.extra.socket)?.delete(id),
      // An operation's errors, including one its subscription ends with (SLOW_CONSUMER, …), go
      // through the same masking as HTTP's: coded and clipped, never an internal message.
      onError: (_context, _id, _payload, errors) => errors.map((error) => (maskError(error, "Unexpected error.") as GraphQLError).toJSON()),
    },
    sockets,
    config.API_WS_KEEPALIVE_MS,
  );
}
