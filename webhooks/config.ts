/**
 * The webhook deliverer's settings, read and validated once at start-up, and the endpoint
 * definition shared by configuration (WEBHOOKS_ENDPOINTS) and the operators' CLI.
 */
import { z } from "zod";
import { address, jsonText, logLevel, parseEnv, settingNames } from "../common/config";

/** The `payouts` subscription's stream names (api/schema.graphql, RevenueStream). */
export const REVENUE_STREAMS = ["NODE_PAYMENT", "STAKER_SHARE", "STAKING_REWARD", "TREASURY"] as const;

/** An endpoint: where to POST, the secret that signs, and the filters of the `payouts` subscription. */
export const endpointSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "must be 1-63 of a-z 0-9 _ - (starting with a letter or digit)"),
  url: z
    .string()
    .url()
    .refine((value) => /^https?:\/\//.test(value), "must be an http(s) URL"),
  secret: z.string().min(16, "must be at least 16 characters"),
  recipient: address.optional(),
  node: address.optional(),
  streams: z.array(z.enum(REVENUE_STREAMS)).min(1).optional(),
  /** FINALIZED notices as well as ADDED and RETRACTED. */
  includeFinality: z.boolean().default(true),
});
export type EndpointDefinition = z.infer<typeof endpointSchema>;

const endpointList = jsonText("a JSON array of endpoints")
  .pipe(z.array(endpointSchema.strict()))
  .refine((list) => new Set(list.map((endpoint) => endpoint.name)).size === list.length, "names must be unique");

const ms = z.coerce.number().int().positive();

const webhooksSchema = z.object({
  DATABASE_URL: z.string().url({ message: "must be the Postgres URL that keeps the endpoints, cursors and delivery log" }),
  WEBHOOKS_DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case SQL identifier").default("webhooks"),
  /** The API whose `payouts` subscription is followed (any server: the embedded API or a replica). */
  INDEXER_URL: z.string().url().default("http://127.0.0.1:42069"),
  WEBHOOKS_ENDPOINTS: endpointList.default([]),
  WEBHOOKS_TIMEOUT_MS: ms.default(10_000),
  WEBHOOKS_MAX_ATTEMPTS: ms.default(10),
  WEBHOOKS_BACKOFF_INITIAL_MS: ms.default(1_000),
  WEBHOOKS_BACKOFF_MAX_MS: ms.default(300_000),
  /** Events taken from the feed per endpoint and not yet delivered, beyond which reading pauses. */
  WEBHOOKS_MAX_PENDING: ms.default(10_000),
  /** How often endpoints added, removed or replayed through the CLI are picked up. */
  WEBHOOKS_RELOAD_MS: ms.default(2_000),
  WEBHOOKS_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9465),
  WEBHOOKS_METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  LOG_LEVEL: logLevel.default("info"),
});

export type WebhooksConfig = z.infer<typeof webhooksSchema>;
export type RetrySettings = Pick<WebhooksConfig, "WEBHOOKS_TIMEOUT_MS" | "WEBHOOKS_MAX_ATTEMPTS" | "WEBHOOKS_BACKOFF_INITIAL_MS" | "WEBHOOKS_BACKOFF_MAX_MS">;

export const WEBHOOKS_SETTINGS = settingNames(webhooksSchema);

export function loadWebhooksConfig(env: NodeJS.ProcessEnv = process.env): WebhooksConfig {
  return parseEnv(webhooksSchema, env);
}
