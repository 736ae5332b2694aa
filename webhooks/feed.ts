/**
 * Follows the API's public `payouts` subscription over Server-Sent Events, as any client does
 * (README, "Subscriptions"): from a cursor, with an endpoint's filters. Yields each event in feed
 * order; ends when the server completes the stream or the connection closes (the caller resumes
 * after the last cursor it kept), and throws a FeedError for an error the server sends.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { BaseError } from "../common/errors";
import type { EndpointDefinition } from "./config";

const PAYOUTS_SUBSCRIPTION = /* GraphQL */ `
  subscription WebhookPayouts($after: String, $recipient: Address, $node: Address, $streams: [RevenueStream!], $includeFinality: Boolean) {
    payouts(after: $after, recipient: $recipient, node: $node, streams: $streams, includeFinality: $includeFinality) {
      cursor
      action
      finalized
      blockNumber
      payout { id stream recipient amount usdValue farUsdPrice blockNumber logIndex transactionHash timestamp finalized }
    }
  }
`;

export type PayoutEvent = {
  cursor: string;
  action: "ADDED" | "RETRACTED" | "FINALIZED";
  finalized: boolean;
  blockNumber: number;
  payout: Record<string, unknown> & { id: string };
};

/** An error the API answered the subscription with; `code` is its extensions.code (SLOW_CONSUMER, CURSOR_EXPIRED, …). */
class FeedError extends BaseError {
  override name = "FeedError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`The payouts subscription failed with ${code}: ${message}`);
  }
}

export type FeedFilter = Pick<EndpointDefinition, "recipient" | "node" | "streams" | "includeFinality">;

export async function* payoutEvents(parameters: { indexerUrl: string; filter: FeedFilter; after: string | null; signal: AbortSignal; onOpen?: () => void }): AsyncGenerator<PayoutEvent> {
  const { filter } = parameters;
  const response = await fetch(`${parameters.indexerUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({
      query: PAYOUTS_SUBSCRIPTION,
      variables: { after: parameters.after, recipient: filter.recipient ?? null, node: filter.node ?? null, streams: filter.streams ?? null, includeFinality: filter.includeFinality },
    }),
    signal: parameters.signal,
  });
  if (!response.ok || !response.headers.get("content-type")?.startsWith("text/event-stream")) {
    throw new FeedError(`HTTP_${response.status}`, (await response.text()).slice(0, 200));
  }
  parameters.onOpen?.();
  const messages: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (message) => messages.push(message) });
  const decoder = new TextDecoder();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    while (messages.length > 0) {
      const message = messages.shift()!;
      if (message.event === "complete") return;
      if (message.event !== "next") continue;
      const payload = JSON.parse(message.data) as { data?: { payouts?: PayoutEvent }; errors?: { message: string; extensions?: { code?: string } }[] };
      const error = payload.errors?.[0];
      if (error) throw new FeedError(error.extensions?.code ?? "UNKNOWN", error.message);
      if (payload.data?.payouts) yield payload.data.payouts;
    }
  }
}
