/**
 * The dashboard's only way to the data: the public GraphQL endpoint beside the page. Queries are
 * plain POSTs; subscriptions are the API's SSE responses (Yoga's framing: `event: next` with a
 * `data:` payload, `event: complete`), read from a fetch body so that they can be POSTed, and
 * resumed after a drop with the last cursor received, as api/README.md describes.
 */
import { EventSourceParserStream } from "eventsource-parser/stream";

const ENDPOINT = new URL("graphql", document.baseURI).href;

type GraphqlError = { message: string; extensions?: { code?: string; cursor?: string } };
type Payload<T> = { data?: T; errors?: GraphqlError[] };

class ApiFailure extends Error {
  constructor(readonly errors: GraphqlError[]) {
    super(errors.map((error) => `${error.extensions?.code ?? "ERROR"}: ${error.message}`).join("; "));
  }
}

export async function query<T>(text: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(ENDPOINT, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
    body: JSON.stringify({ query: text, variables }),
  });
  const payload = (await response.json()) as Payload<T>;
  if (payload.errors?.length || !payload.data) throw new ApiFailure(payload.errors ?? [{ message: `HTTP ${response.status}` }]);
  return payload.data;
}

export type SubscriptionOptions<T> = {
  onData: (data: T) => void;
  /** The cursor to resume after, from an event; without it the subscription restarts from now. */
  cursorOf?: (data: T) => string | undefined;
  /** Connected (true) or waiting to reconnect (false). */
  onConnection?: (connected: boolean) => void;
  /** The feed could not resume where it left off (CURSOR_EXPIRED, INVALID_CURSOR): events may be missing. */
  onGap?: () => void;
};

const RETRY_MS = [500, 1_000, 2_000, 5_000, 10_000];

/** Reads `text` forever (reconnecting with the last cursor) until the returned function is called. */
export function subscribe<T>(text: string, options: SubscriptionOptions<T>): () => void {
  const controller = new AbortController();
  let after: string | undefined;
  let failures = 0;

  const readOnce = async () => {
    const response = await fetch(ENDPOINT, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ query: text, variables: options.cursorOf ? { after: after ?? null } : {} }),
      signal: controller.signal,
    });
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    options.onConnection?.(true);
    const messages = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
    for (;;) {
      const { value: message, done } = await messages.read();
      if (done || message.event === "complete") return;
      if (message.event !== "next" || !message.data) continue;
      const payload = JSON.parse(message.data) as Payload<T>;
      if (payload.errors?.length) {
        const error = payload.errors[0]!;
        const code = error.extensions?.code;
        // A slow reader is told where to resume; an unknown cursor means starting afresh.
        if (code === "SLOW_CONSUMER" && error.extensions?.cursor) after = error.extensions.cursor;
        else if (code === "CURSOR_EXPIRED" || code === "INVALID_CURSOR") {
          after = undefined;
          options.onGap?.();
        }
        throw new ApiFailure(payload.errors);
      }
      if (!payload.data) continue;
      failures = 0;
      after = options.cursorOf?.(payload.data) ?? after;
      options.onData(payload.data);
    }
  };

  void (async () => {
    while (!controller.signal.aborted) {
      try {
        await readOnce();
      } catch (error) {
        if (controller.signal.aborted) return;
        console.warn("dashboard: subscription interrupted", error);
      }
      options.onConnection?.(false);
      const delay = RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)]!;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  })();
  return () => controller.abort();
}
