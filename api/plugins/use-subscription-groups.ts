/**
 * Serves feed subscriptions in groups (api/feed/groups.ts): subscribers asking the same
 * operation with the same variables share one execution and one serialization per event,
 * written straight to their sockets — an SSE response taken over from Yoga, or a graphql-ws
 * operation. Everything before the first event is Yoga's as for any operation: parsing,
 * validation, limits, argument errors, the resolver's own checks. Where a subscriber's
 * connection cannot be written directly (multipart HTTP, `yoga.fetch` without a Node response)
 * or the subscription is not a feed's, Yoga executes it per subscriber as usual.
 */
import { createSourceEventStream, execute, getOperationAST, Kind, print, visit, type DocumentNode, type ExecutionArgs, type GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import { createContext, type ApiContext, type ApiDependencies } from "../context";
import { FEED_REQUEST, type FeedEvent, type FeedFanout, type FeedSource } from "../feed/fanout";
import { createSseSink, createWsSink } from "../feed/sinks";

type MaskError = (error: unknown, message: string) => Error;

/** What groups members: the operation's text, its name, and its variables but the one that carries the member's cursor. */
type Shape = { text: string; cursorVariable: string | undefined };
const shapes = new WeakMap<DocumentNode, Map<string, Shape>>();

function shapeOf(document: DocumentNode, operationName: string | null | undefined): Shape {
  let byName = shapes.get(document);
  if (!byName) shapes.set(document, (byName = new Map()));
  const name = operationName ?? "";
  let shape = byName.get(name);
  if (!shape) {
    const operation = getOperationAST(document, operationName);
    const root = operation?.selectionSet.selections[0];
    const after = root?.kind === Kind.FIELD ? root.arguments?.find((argument) => argument.name.value === "after")?.value : undefined;
    let cursorVariable = after?.kind === Kind.VARIABLE ? after.name.value : undefined;
    // A variable used anywhere else may change the result: then members must share it too.
    let uses = 0;
    visit(document, { Variable: (node) => void (node.name.value === cursorVariable && (uses += 1)) });
    if (uses > 2) cursorVariable = undefined;
    byName.set(name, (shape = { text: print(document), cursorVariable }));
  }
  return shape;
}

/** Variables as a stable string: keys sorted at every level, so `{a, b}` and `{b, a}` group together. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === "object" && !Array.isArray(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1))) : item,
  );
}

function groupKey(args: ExecutionArgs): string {
  const shape = shapeOf(args.document, args.operationName);
  const variables = { ...(args.variableValues ?? {}) };
  if (shape.cursorVariable) delete variables[shape.cursorVariable];
  return `${args.operationName ?? ""}\n${stableJson(variables)}\n${shape.text}`;
}

export function useSubscriptionGroups({ feed, dependencies, maskError }: { feed: FeedFanout; dependencies: ApiDependencies; maskError: MaskError }): Plugin<ApiContext> {
  /** Executes the operation for one event in a context of the group's own: no member's request, connection or loaders. */
  function renderer(args: ExecutionArgs) {
    const groupContext = createContext(dependencies);
    const { schema, document, operationName, variableValues } = args;
    return async (event: FeedEvent) => {
      const result = await execute({ schema, document, operationName, variableValues, rootValue: event, contextValue: groupContext.renew() });
      const errors = result.errors?.map((error) => (maskError(error, "Unexpected error.") as GraphQLError).toJSON());
      return JSON.stringify(errors ? { data: result.data, errors } : { data: result.data });
    };
  }

  return {
    onSubscribe({ subscribeFn, setSubscribeFn }) {
      setSubscribeFn(async (args) => {
        const { connection } = args.contextValue as ApiContext;
        const ws = connection.socket && connection.operationId !== undefined ? { socket: connection.socket, id: connection.operationId } : undefined;
        const sse = connection.res && connection.takeOver && /text\/event-stream/.test(connection.request?.headers.get("accept") ?? "") ? connection.res : undefined;
        if (!ws && !sse) return subscribeFn(args);
        const source = await createSourceEventStream(args);
        // An error result (bad arguments, …) goes back as Yoga would send it.
        if (!(FEED_REQUEST in source)) {
          if (Symbol.asyncIterator in source) {
            await (source as AsyncGenerator).return?.(undefined);
            return subscribeFn(args);
          }
          return source;
        }
        // Never started: it holds nothing.
        const { after, filter } = (source as FeedSource)[FEED_REQUEST];
        await (source as FeedSource).return(undefined);
        const joining = { key: groupKey(args), filter, after, createRender: () => renderer(args) };
        if (ws) {
          const { sink, iterator, onClose } = createWsSink(ws.socket, ws.id);
          const member = await feed.join({ ...joining, sink });
          onClose(member.close);
          return iterator;
        }
        connection.takeOver!();
        const member = await feed.join({ ...joining, sink: createSseSink(sse!) }, sse);
        if (sse!.destroyed) member.close();
        else sse!.once("close", member.close);
        // Yoga answers nothing more: the response is written here from now on (api/http.ts).
        return (async function* () {})();
      });
    },
  };
}
