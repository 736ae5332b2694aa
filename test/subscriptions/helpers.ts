/** Shared by the subscription suites: the payout subscription and the table to compare it with. */
import { allPages, subscribeSse, type SubscriptionHandle } from "../../harness/graphql";

export const PAYOUTS = /* GraphQL */ `
  subscription Payouts($after: String, $includeFinality: Boolean) {
    payouts(after: $after, includeFinality: $includeFinality) {
      cursor
      action
      finalized
      blockNumber
      payout { id stream recipient amount transactionHash }
    }
  }
`;

export type PayoutEvent = {
  cursor: string;
  action: "ADDED" | "RETRACTED" | "FINALIZED";
  finalized: boolean;
  blockNumber: number;
  payout: { id: string; stream: string; recipient: string; amount: string; transactionHash: string };
};

/** Every payout in the table, oldest first (the API pages newest first). */
export async function payoutTable(url: string): Promise<string[]> {
  const payouts = await allPages<{ id: string }>(url, `query ($after: String) { payouts(first: 100, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`, (page) => page.payouts);
  return payouts.map((payout) => payout.id).reverse();
}

/** Applies the events a client received: ADDED adds, RETRACTED removes; the net set, in order. */
export function netPayouts(events: PayoutEvent[]): string[] {
  const live: string[] = [];
  for (const event of events) {
    if (event.action === "ADDED") live.push(event.payout.id);
    if (event.action === "RETRACTED") live.splice(live.indexOf(event.payout.id), 1);
  }
  return live;
}

/**
 * A client that keeps disconnecting at random moments and resumes with its last cursor. Its
 * first connection stays up until it has a cursor, so nothing can fall between connections.
 */
export function resumingSubscriber(url: string, random: () => number) {
  const events: PayoutEvent[] = [];
  let cursor: string | undefined;
  let connection: SubscriptionHandle<PayoutEvent> | undefined;
  let stopped = false;
  let reconnects = 0;
  const errors: unknown[] = [];
  const done = (async () => {
    while (!stopped) {
      connection = subscribeSse<PayoutEvent>(url, PAYOUTS, { after: cursor ?? null }, (event) => {
        events.push(event);
        cursor = event.cursor;
      });
      const hadCursor = cursor !== undefined;
      const stayMs = 50 + random() * 400;
      const deadline = Date.now() + stayMs;
      while (!stopped && (Date.now() < deadline || (!hadCursor && cursor === undefined))) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      connection.close();
      await connection.ended;
      errors.push(...connection.errors);
      reconnects += 1;
    }
  })();
  return {
    events,
    errors,
    reconnects: () => reconnects,
    /** Stops reconnecting and keeps one last connection open to drain the rest. */
    async finish() {
      stopped = true;
      await done;
      const last = subscribeSse<PayoutEvent>(url, PAYOUTS, { after: cursor ?? null }, (event) => events.push(event));
      return last;
    },
  };
}
