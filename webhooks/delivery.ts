/**
 * One delivery attempt: the event's stored body POSTed as JSON, signed for this attempt, within
 * the timeout. Any 2xx is delivered; anything else (another status, a refused connection, the
 * timeout) is a failure the caller retries or dead-letters.
 */
import { signatureHeader } from "./signing";
import type { AttemptResult } from "./store";

/** The headers a receiver reads (README, "For backend developers: webhooks"). */
const HEADERS = {
  signature: "Far-Signature",
  deliveryId: "Far-Delivery-Id",
  eventType: "Far-Event-Type",
  attempt: "Far-Delivery-Attempt",
} as const;

export type Delivery = { url: string; secret: string; cursor: string; eventType: string; body: string };

/** The `type` of a delivered event: `payout.added`, `payout.retracted` or `payout.finalized`. */
export const eventTypeOf = (action: string) => `payout.${action.toLowerCase()}`;

export async function attemptDelivery(delivery: Delivery, attempt: number, parameters: { timeoutMs: number; signal?: AbortSignal }): Promise<AttemptResult> {
  const started = performance.now();
  const timeout = AbortSignal.timeout(parameters.timeoutMs);
  const signal = parameters.signal ? AbortSignal.any([parameters.signal, timeout]) : timeout;
  const done = (outcome: AttemptResult["outcome"], status: number | null, error: string | null): AttemptResult => ({ outcome, status, error, durationMs: Math.round(performance.now() - started) });
  try {
    const response = await fetch(delivery.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "far-webhooks",
        [HEADERS.signature]: signatureHeader(delivery.secret, delivery.body, Math.floor(Date.now() / 1000)),
        [HEADERS.deliveryId]: delivery.cursor,
        [HEADERS.eventType]: delivery.eventType,
        [HEADERS.attempt]: String(attempt),
      },
      body: delivery.body,
      signal,
      redirect: "manual",
    });
    // Read to the end (within the same timeout) so the connection is reused or closed cleanly.
    const text = await response.text();
    if (response.status >= 200 && response.status < 300) return done("delivered", response.status, null);
    return done("failed", response.status, `HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ""}`);
  } catch (error) {
    if (parameters.signal?.aborted) throw error;
    const message = timeout.aborted ? `no answer within ${parameters.timeoutMs} ms` : String((error as Error).cause ?? (error as Error).message);
    return done("failed", null, message.slice(0, 300));
  }
}
