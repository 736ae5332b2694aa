/**
 * The webhooks' pure parts: the signature a delivery carries and the check README gives backend
 * developers (the same code: README quotes webhooks/verify.ts verbatim), the retry schedule, and
 * the settings.
 */
import { readFileSync } from "node:fs";
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../common/errors";
import { loadWebhooksConfig } from "../../webhooks/config";
import { backoffMs, signatureHeader } from "../../webhooks/signing";
import { verifyWebhookSignature } from "../../webhooks/verify";

const SECRET = "whsec-0123456789abcdef";
const BODY = '{"id":"ZmVlZDo","type":"payout.added","payout":{"amount":"1000000000000000000"}}';

describe("webhook signatures", () => {
  it("signs HMAC-SHA256 over `${timestamp}.${body}` as t=…,v1=…", () => {
    const expected = createHmac("sha256", SECRET).update(`1700000000.${BODY}`).digest("hex");
    expect(signatureHeader(SECRET, BODY, 1_700_000_000)).toBe(`t=1700000000,v1=${expected}`);
  });

  it("verifies a genuine request and refuses a changed body, another secret, an old timestamp or a malformed header", () => {
    const now = 1_700_000_100;
    const header = signatureHeader(SECRET, BODY, 1_700_000_000);
    expect(verifyWebhookSignature(header, BODY, SECRET, 300, now)).toBe(true);
    expect(verifyWebhookSignature(header, BODY.replace("1000", "9000"), SECRET, 300, now)).toBe(false);
    expect(verifyWebhookSignature(header, BODY, "another-secret-of-16", 300, now)).toBe(false);
    expect(verifyWebhookSignature(header, BODY, SECRET, 300, now + 400)).toBe(false);
    expect(verifyWebhookSignature(header.replace("t=1700000000", "t=1700000001"), BODY, SECRET, 300, now)).toBe(false);
    for (const bad of [undefined, "", "v1=abc", "t=x,v1=00", "t=1700000000", `t=1700000000,v1=${"0".repeat(64)}`]) {
      expect(verifyWebhookSignature(bad, BODY, SECRET, 300, now), String(bad)).toBe(false);
    }
  });

  it("is the code README gives backend developers", () => {
    const source = readFileSync(new URL("../../webhooks/verify.ts", import.meta.url), "utf8").trim();
    expect(readFileSync(new URL("../../README.md", import.meta.url), "utf8")).toContain(`\`\`\`ts\n${source}\n\`\`\``);
  });
});

describe("the retry schedule", () => {
  const settings = { WEBHOOKS_BACKOFF_INITIAL_MS: 1_000, WEBHOOKS_BACKOFF_MAX_MS: 30_000 };
  it("doubles from the initial wait up to the maximum, with half of each wait random", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 40].map((attempt) => backoffMs(attempt, settings, () => 1))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect([1, 2, 3, 6].map((attempt) => backoffMs(attempt, settings, () => 0))).toEqual([500, 1_000, 2_000, 15_000]);
    expect(backoffMs(3, settings, () => 0.5)).toBe(3_000);
  });
});

describe("webhook settings", () => {
  const base = { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test" };
  it("has defaults, and reads endpoints from JSON with the subscription's filters", () => {
    const config = loadWebhooksConfig({
      ...base,
      WEBHOOKS_ENDPOINTS: JSON.stringify([{ name: "billing", url: "https://example.test/hook", secret: SECRET, recipient: "0xAbCdEf0000000000000000000000000000000001", streams: ["NODE_PAYMENT"] }]),
    });
    expect(config).toMatchObject({ WEBHOOKS_DB_SCHEMA: "webhooks", INDEXER_URL: "http://127.0.0.1:42069", WEBHOOKS_METRICS_PORT: 9465, WEBHOOKS_METRICS_HOST: "127.0.0.1", WEBHOOKS_MAX_ATTEMPTS: 10 });
    expect(config.WEBHOOKS_ENDPOINTS).toEqual([
      { name: "billing", url: "https://example.test/hook", secret: SECRET, recipient: "0xabcdef0000000000000000000000000000000001", streams: ["NODE_PAYMENT"], includeFinality: true },
    ]);
    expect(loadWebhooksConfig(base).WEBHOOKS_ENDPOINTS).toEqual([]);
  });

  it.each<[Record<string, string>, RegExp]>([
    [{}, /DATABASE_URL/],
    [{ WEBHOOKS_ENDPOINTS: "not json" }, /WEBHOOKS_ENDPOINTS: must be a JSON array/],
    [{ WEBHOOKS_ENDPOINTS: '[{"name":"a","url":"ftp://x.test/","secret":"0123456789abcdef"}]' }, /WEBHOOKS_ENDPOINTS\.0\.url/],
    [{ WEBHOOKS_ENDPOINTS: '[{"name":"a","url":"http://x.test/","secret":"short"}]' }, /WEBHOOKS_ENDPOINTS\.0\.secret: must be at least 16/],
    [{ WEBHOOKS_ENDPOINTS: '[{"name":"a","url":"http://x.test/","secret":"0123456789abcdef","streams":["TIPS"]}]' }, /WEBHOOKS_ENDPOINTS\.0\.streams/],
    [{ WEBHOOKS_ENDPOINTS: '[{"name":"a","url":"http://x.test/","secret":"0123456789abcdef","colour":"red"}]' }, /WEBHOOKS_ENDPOINTS\.0/],
    [{ WEBHOOKS_ENDPOINTS: '[{"name":"a","url":"http://x.test/","secret":"0123456789abcdef"},{"name":"a","url":"http://y.test/","secret":"0123456789abcdef"}]' }, /names must be unique/],
    [{ WEBHOOKS_MAX_ATTEMPTS: "0" }, /WEBHOOKS_MAX_ATTEMPTS/],
    [{ WEBHOOKS_METRICS_PORT: "70000" }, /WEBHOOKS_METRICS_PORT/],
  ])("refuses %j with a ConfigError naming the setting", (env, message) => {
    const attempt = () => loadWebhooksConfig({ ...(env.DATABASE_URL === undefined && Object.keys(env).length === 0 ? {} : base), ...env });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
  });
});
