/**
 * /dashboard in headless Chromium, served by the embedded API (Ponder on PGlite) over an indexed
 * scenario: the page loads nothing from outside its origin, the figures and tables it shows equal
 * the API's answers over GraphQL at the same block, a payout settled while it is open appears
 * without a reload, and one a reorg removes disappears. The screenshot is README's.
 */
import { formatUnits, type Hex } from "viem";
import { beforeAll, describe, expect, it } from "vitest";
import { hasChromium, withBrowserPage } from "../../harness/browser";
import { startDeployedChain } from "../../harness/chain";
import { data } from "../../harness/graphql";
import { startPonder, type PonderProcess } from "../../harness/ponder";
import { runScenario, type ScenarioResult } from "../../harness/scenario";
import { waitUntil } from "../../harness/wait";
import { cleanupAfterAll } from "../helpers/cleanup";
import { createReorgDriver } from "../helpers/reorg";

const SCREENSHOT = "docs/dashboard.png";

type Money = { amount: string; usdValue: string };
type Answers = {
  indexingStatus: { latestBlock: { number: number } };
  revenueSummary: { total: Money & { payoutCount: number }; byStream: (Money & { stream: string; payoutCount: number })[]; topNodes: (Money & { node: { address: string } })[] };
  stakingOverview: { totalStaked: string; stakerCount: number };
  payouts: { edges: { node: { id: string } }[] };
};
const ANSWERS = `{
  indexingStatus { latestBlock { number } }
  revenueSummary { total { amount usdValue payoutCount } byStream { stream amount usdValue payoutCount } topNodes(limit: 10) { node { address } amount usdValue } }
  stakingOverview { totalStaked stakerCount }
  payouts(first: 12) { edges { node { id } } }
}`;

/** FAR as the page shows it: every digit, thousands grouped (ignored here), " FAR" after. */
const far = (wei: string) => `${formatUnits(BigInt(wei), 18)} FAR`;
const ungrouped = (text: string | null | undefined) => (text ?? "").replaceAll(",", "");

describe.skipIf(!hasChromium)("the revenue dashboard (/dashboard) in Chromium", () => {
  const cleanup = cleanupAfterAll();
  let chain: Awaited<ReturnType<typeof startDeployedChain>>;
  let ponder: PonderProcess;
  let scenario: ScenarioResult;
  let graphqlUrl: string;

  beforeAll(async () => {
    chain = await startDeployedChain();
    cleanup.push(() => chain.anvil.stop());
    scenario = await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, seed: 16, steps: 200 });
    ponder = await startPonder({ rpcUrl: chain.anvil.rpcUrl, deploymentsDir: chain.deploymentsDir, env: { API_FEED_POLL_MS: "100", API_LOG_LEVEL: "warn" } });
    cleanup.push(() => ponder.kill());
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());
    graphqlUrl = `${ponder.baseUrl}/graphql`;
  });

  it("shows the API's numbers, updates live from the feed, and loads nothing from elsewhere", async () => {
    const driver = await createReorgDriver({ rpcUrl: chain.anvil.rpcUrl, publicClient: chain.publicClient, manifest: chain.manifest, user: scenario.users[0]!, node: scenario.nodes[0]!, label: "dashboard" });
    // The driver's node registration is a block of its own: the page and the API must agree after it.
    await ponder.waitForBlock(await chain.publicClient.getBlockNumber());

    await withBrowserPage(`${ponder.baseUrl}/dashboard`, async ({ page, foreignRequests }) => {
      const shownBlock = async () => Number((await page.getAttribute("#dashboard", "data-block")) || 0);
      const rowIds = () => page.$$eval("#payouts tbody tr", (rows) => rows.map((row) => (row as HTMLElement).dataset.id!));
      /** The API's answers once the page shows the same block, and what the page shows. */
      const compare = async () => {
        let answers: Answers | undefined;
        await waitUntil(async () => {
          answers = await data<Answers>(graphqlUrl, ANSWERS);
          return (await shownBlock()) === answers.indexingStatus.latestBlock.number;
        }, "the page to show the API's latest block", 30_000);
        const { revenueSummary: summary, stakingOverview: staking } = answers!;
        expect(summary.total.payoutCount).toBeGreaterThan(0);
        expect(ungrouped(await page.textContent("#total-revenue"))).toBe(far(summary.total.amount));
        expect(await page.textContent("#total-payouts")).toBe(`${summary.total.payoutCount.toLocaleString("en")} payouts, all time`);
        expect(ungrouped(await page.textContent("#total-staked"))).toBe(far(staking.totalStaked));
        expect(await page.textContent("#staker-count")).toBe(`${staking.stakerCount} stakers`);
        const streams = await page.$$eval("#streams tbody tr", (rows) => rows.map((row) => [(row as HTMLElement).dataset.stream, row.children[1]!.textContent, row.children[2]!.textContent]));
        expect(streams.map(([stream, amount, count]) => [stream, ungrouped(amount), ungrouped(count)])).toEqual(summary.byStream.map((row) => [row.stream, far(row.amount), String(row.payoutCount)]));
        const nodes = await page.$$eval("#top-nodes tbody tr", (rows) => rows.map((row) => [row.children[1]!.textContent, row.children[2]!.textContent]));
        expect(summary.topNodes.length).toBeGreaterThan(0);
        expect(nodes.map(([address, amount]) => [address, ungrouped(amount)])).toEqual(summary.topNodes.map((row) => [row.node.address, far(row.amount)]));
        expect(await rowIds()).toEqual(answers!.payouts.edges.map((edge) => edge.node.id));
        return answers!;
      };

      await compare();
      await waitUntil(async () => (await page.getAttribute("#live", "data-state")) === "live", "the page's subscriptions to connect", 15_000);
      // Set once: a reload would lose it.
      await page.evaluate(() => ((window as unknown as { loadedOnce: boolean }).loadedOnce = true));

      // A task settled while the page is open: its payouts appear, and the totals follow.
      const { receipts, spare } = await driver.settleBlocks(1);
      const hash: Hex = receipts[0]!.transactionHash;
      const settled = await waitUntil(async () => {
        const { transaction } = await data<{ transaction: { indexed: boolean; payouts: { id: string }[] } | null }>(graphqlUrl, `query($hash: Bytes32!) { transaction(hash: $hash) { indexed payouts { id } } }`, { hash });
        return transaction?.indexed && transaction.payouts.length > 0 && transaction.payouts.map((payout) => payout.id);
      }, "the settlement's payouts in the API", 30_000);
      await waitUntil(async () => {
        const ids = await rowIds();
        return settled.every((id) => ids.includes(id));
      }, "the new payouts on the page", 30_000);
      expect(await page.$$eval("#payouts tbody tr.new", (rows) => rows.map((row) => (row as HTMLElement).dataset.id))).toEqual(expect.arrayContaining(settled));
      await compare();

      // A reorg replaces that block with one settling another task: the first payouts go, the new ones come.
      await ponder.waitForBlock(await driver.reorg(1, spare));
      await waitUntil(async () => !(await rowIds()).some((id) => settled.includes(id)), "the retracted payouts to leave the page", 30_000);
      const answers = await compare();
      expect(answers.payouts.edges.map((edge) => edge.node.id)).not.toEqual(expect.arrayContaining(settled));
      expect(await page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce)).toBe(true);

      // The scenario spans several days: the screenshot shows them, re-read in day buckets.
      await page.selectOption("#interval", "DAY");
      await page.waitForFunction(() => document.getElementById("tasks-title")?.textContent === "Tasks per day and how they ended");
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(foreignRequests).toEqual([]);
    }, { width: 1280, height: 900 });
  });
});
