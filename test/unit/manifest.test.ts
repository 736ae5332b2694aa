/**
 * What `npm run deploy` prints off a local chain (the indexer's settings, from the manifest) is
 * exactly what the indexer reads from the manifest on a local chain: the same contracts and the
 * same first block, with or without an existing price feed.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadIndexerConfig } from "../../common/config";
import { indexerSettings, writeManifest, type DeploymentManifest } from "../../contracts/deploy/manifest";
import { resolveSources } from "../../indexer/sources";

const at = (digit: string) => `0x${digit.repeat(40)}` as const;
const roles = { admin: at("a"), oracle: at("b"), treasury: at("c") };
/** As deployed with the mock feed: the feed one block before the token. */
const withMockFeed: DeploymentManifest = {
  chainId: 56,
  deployBlock: 11,
  contracts: { PriceFeed: { address: at("1"), deployBlock: 10 }, FARToken: { address: at("2"), deployBlock: 11 }, InferencePayment: { address: at("3"), deployBlock: 12 } },
  roles,
};
/** As deployed with PRICE_FEED_ADDRESS: the existing feed indexed from the token's block. */
const withExistingFeed: DeploymentManifest = { ...withMockFeed, contracts: { ...withMockFeed.contracts, PriceFeed: { address: at("4"), deployBlock: 11 } } };

describe("the indexer's settings from a manifest", () => {
  it("name the three contracts and the first block to index", () => {
    expect(indexerSettings(withMockFeed)).toEqual({ FAR_TOKEN_ADDRESS: at("2"), INFERENCE_PAYMENT_ADDRESS: at("3"), PRICE_FEED_ADDRESS: at("1"), START_BLOCK: 10 });
    expect(indexerSettings(withExistingFeed)).toMatchObject({ PRICE_FEED_ADDRESS: at("4"), START_BLOCK: 11 });
  });

  it.each([
    ["a mock feed", withMockFeed],
    ["an existing feed", withExistingFeed],
  ])("printed as text and read off a local chain, resolve to what the manifest gives on one (%s)", async (_feed, manifest) => {
    const deploymentsDir = await mkdtemp(join(tmpdir(), "far-manifest-"));
    await writeManifest(deploymentsDir, manifest);
    const fromManifest = resolveSources(loadIndexerConfig({ CHAIN: "bsc-local", DEPLOYMENTS_DIR: deploymentsDir }));
    const printed = Object.fromEntries(Object.entries(indexerSettings(manifest)).map(([name, value]) => [name, String(value)]));
    const fromSettings = resolveSources(loadIndexerConfig({ CHAIN: "bsc", DEPLOYMENTS_DIR: join(deploymentsDir, "none"), ...printed }));
    expect(fromSettings).toEqual(fromManifest);
  });
});
