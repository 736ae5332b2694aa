/** The GraphQL client of tests, benches and scripts over real transports: plain HTTP (with a page walker), SSE subscriptions, and graphql-ws. */
import { EventSourceParserStream } from "eventsource-parser/stream";
import { createClient, type Client } from "graphql-ws";
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";

export type GraphQLResponse<T> = {
  data?: T;
  errors?: { message: string; extensions?: { code?: string }; [key: string]: unknown }[];
  extensions?: { sqlStatements?: number };
};

/** A request's HTTP reply: its status and headers, and the body parsed whatever the status. */
export type GraphQLReply<T = Record<string, any>> = { status: number; headers: Headers; body: GraphQLResponse<T> };

/**
 * Whether a request failed on a kept-alive connection the server had just closed as idle (Node's
 * HTTP server closes them after 5 s; a busy machine lets the client pick one as that happens).
 * fetch does not send a POST again after that; a browser does, once, and so does this client.
 */
function isClosedConnection(error: unknown): boolean {
  const code = (error as { cause?: { code?: string } }).cause?.code;
  return error instanceof TypeError && (code === "ECONNRESET" || code === "UND_ERR_SOCKET");
}

/** POSTs a GraphQL request; `signal` aborts it. */
export async function post<T = Record<string, any>>(
  url: string,
  query: string,
  { variables = {}, signal }: { variables?: Record<string, unknown>; signal?: AbortSignal } = {},
): Promise<GraphQLReply<T>> {
  const send = () =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
      body: JSON.stringify({ query, variables }),
      signal,
    });
  const response = await send().catch((error: unknown) => {
    if (isClosedConnection(error) && !signal?.aborted) return send();
    throw error;
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as GraphQLResponse<T> };
}

/** A request's body, whatever the status. */
export async function graphql<T = Record<string, any>>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResponse<T>> {
  return (await post<T>(url, query, { variables })).body;
}

/** How often `data` asks again after OVERLOADED before it gives up. */
const OVERLOADED_RETRIES = 5;

/**
 * The data of a query that must succeed. OVERLOADED (503, the API shedding load) is asked again
 * after its `Retry-After`, as the API's README tells clients to: on a busy machine a test's
 * own polling can meet it, and it says nothing about the answer.
 */
export async function data<T = Record<string, any>>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    const { status, headers, body } = await post<T>(url, query, { variables });
    const overloaded = status === 503 && body.errors?.some((error) => error.extensions?.code === "OVERLOADED");
    if (overloaded && attempt < OVERLOADED_RETRIES) {
      await sleep(Number(headers.get("retry-after") ?? 1) * 1000);
      continue;
    }
    if (body.errors?.length || !body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
    return body.data;
  }
}

/** Every node of a connection, following cursors page by page. */
export async function allPages<T>(url: string, query: string, pick: (data: any) => { edges: { node: T }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }, variables: Record<string, unknown> = {}) {
  const nodes: T[] = [];
  let after: string | null = null;
  for (;;) {
    const connection = pick(await data(url, query, { ...variables, after }));
    nodes.push(...connection.edges.map((edge) => edge.node));
    if (!connection.pageInfo.hasNextPage) return nodes;
    after = connection.pageInfo.endCursor;
  }
}

export type SubscriptionHandle<T> = {
  received: T[];
  errors: unknown[];
  /** Resolves when the server ends the stream (complete or error). */
  ended: Promise<void>;
  close: () => void;
};

/** A subscription over Server-Sent Events (Yoga's `text/event-stream` transport). */
export function subscribeSse<T>(url: string, text: string, variables: Record<string, unknown> = {}, onEvent?: (event: T) => void): SubscriptionHandle<T> {
  const abort = new AbortController();
  const received: T[] = [];
  const errors: unknown[] = [];
  const ended = (async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ query: text, variables }),
      signal: abort.signal,
    });
    const messages = response.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
    for (;;) {
      const { value: message, done } = await messages.read();
      if (done || message.event === "complete") return;
      if (message.event !== "next" || !message.data) continue;
      const payload = JSON.parse(message.data) as { data?: Record<string, T>; errors?: unknown[] };
      if (payload.errors) errors.push(...payload.errors);
      if (payload.data) {
        const item = Object.values(payload.data)[0]!;
        received.push(item);
        onEvent?.(item);
      }
    }
  })().catch((error: unknown) => {
    if (!abort.signal.aborted) errors.push(error);
  });
  return { received, errors, ended, close: () => abort.abort() };
}

/** A subscription over WebSocket with the graphql-ws protocol. */
export function subscribeWs<T>(url: string, text: string, variables: Record<string, unknown> = {}): SubscriptionHandle<T> & { client: Client } {
  const client = createClient({ url: url.replace(/^http/, "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
  const received: T[] = [];
  const errors: unknown[] = [];
  const ended = new Promise<void>((resolve) => {
    client.subscribe<Record<string, T>>(
      { query: text, variables },
      {
        next: (payload) => {
          if (payload.errors) errors.push(...payload.errors);
          if (payload.data) received.push(Object.values(payload.data)[0]!);
        },
        error: (error) => {
          errors.push(error);
          resolve();
        },
        complete: () => resolve(),
      },
    );
  });
  return { received, errors, ended, client, close: () => void client.dispose() };
}
