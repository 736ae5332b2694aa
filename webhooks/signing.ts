/**
 * How a delivery is signed and when it is tried again. The receiving side's check is
 * webhooks/verify.ts, which README quotes verbatim for backend developers.
 */
import { createHmac } from "node:crypto";
import type { RetrySettings } from "./config";

/** `Far-Signature`: HMAC-SHA256 with the endpoint's secret over `${timestamp}.${body}`, hex. */
export function signatureHeader(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/**
 * The wait after failed attempt `attempt` (1-based): doubling from the initial wait up to the
 * maximum, with "equal jitter" (half fixed, half random) so endpoints that failed together do
 * not all come back at once, and no wait is ever shorter than half the schedule's.
 */
export function backoffMs(attempt: number, settings: Pick<RetrySettings, "WEBHOOKS_BACKOFF_INITIAL_MS" | "WEBHOOKS_BACKOFF_MAX_MS">, random: () => number = Math.random): number {
  const base = Math.min(settings.WEBHOOKS_BACKOFF_MAX_MS, settings.WEBHOOKS_BACKOFF_INITIAL_MS * 2 ** Math.min(attempt - 1, 30));
  return Math.round(base / 2 + (random() * base) / 2);
}
