import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Whether a webhook request is genuine: `header` is its `Far-Signature` (`t=<unix seconds>,v1=<hex>`),
 * `body` the raw request body exactly as received (before any JSON parsing), `secret` the
 * endpoint's. A timestamp more than `toleranceSeconds` from now is refused (a replayed request).
 */
export function verifyWebhookSignature(header: string | undefined, body: string, secret: string, toleranceSeconds = 300, now = Date.now() / 1000): boolean {
  const fields = new Map((header ?? "").split(",").map((part) => part.trim().split("=", 2) as [string, string | undefined]));
  const timestamp = fields.get("t") ?? "";
  if (!/^\d+$/.test(timestamp) || Math.abs(now - Number(timestamp)) > toleranceSeconds) return false;
  const expected = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest();
  const given = Buffer.from(fields.get("v1") ?? "", "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}
