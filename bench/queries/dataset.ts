/**
 * The chain the query benchmark reads: bulk history (harness/history.ts) with blocks hours
 * apart, so that revenue buckets span weeks, then a seeded random scenario on top
 * (harness/scenario.ts) for what bulk history lacks: claims (staking-reward payouts),
 * unstakes, failed and cancelled tasks, rating changes, price moves.
 */
import { userAccounts } from "../../common/chain";
import { DAY } from "../../domain/buckets";
import { startDeployedChain } from "../../harness/chain";
import { generateHistory } from "../../harness/history";
import { runScenario } from "../../harness/scenario";
import type { MixParameters } from "./mix";

/** generateHistory mines two blocks per round; this spacing spreads 100 rounds over about 33 days. */
export const BLOCK_SECONDS = 4 * 3600;
/** The scenario's accounts (its first 12 users): they stake, claim and create tasks. */
const SCENARIO_USERS = 12;

export type BuildDatasetParameters = { targetEvents: number; scenarioSteps: number; stakers: number };

export async function buildDataset({ targetEvents, scenarioSteps, stakers }: BuildDatasetParameters) {
  const chain = await startDeployedChain();
  try {
    const { publicClient, manifest } = chain;
    const { testClient } = chain;
    await testClient.setBlockTimestampInterval({ interval: BLOCK_SECONDS });
    // 30 users and 20 nodes keep the two account ranges apart (users 10–39, nodes 40–59).
    const history = await generateHistory({ publicClient, manifest, targetEvents, users: 30, nodes: 20 });
    await testClient.removeBlockTimestampInterval();
    const scenario = await runScenario({ rpcUrl: chain.anvil.rpcUrl, publicClient, manifest, seed: 8, steps: scenarioSteps, label: "bench-queries" });
    const head = await publicClient.getBlock();
    const to = Math.floor(Number(head.timestamp) / DAY) * DAY + DAY;
    const parameters: MixParameters = {
      stakers: userAccounts(Math.min(stakers, SCENARIO_USERS)).map((account) => account.address.toLowerCase()),
      token: manifest.contracts.FARToken.address.toLowerCase(),
      revenueWindow: { from: to - 30 * DAY, to },
    };
    return { chain, head: head.number, historyEvents: history.events, scenarioSent: scenario.sent, parameters };
  } catch (error) {
    await chain.anvil.stop();
    throw error;
  }
}
