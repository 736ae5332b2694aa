/**
 * Deploys FARToken, InferencePayment and (without an existing feed) the mock price feed, wires their
 * roles, and returns the manifest. Registers no node and moves no tokens beyond the initial mint.
 */
import {
  keccak256,
  toHex,
  type Account,
  type Address,
  type Chain,
  type Hash,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import {
  farTokenAbi,
  farTokenBytecode,
  inferencePaymentAbi,
  inferencePaymentBytecode,
  mockPriceFeedAbi,
  mockPriceFeedBytecode,
} from "../../abis";
import type { DeploymentManifest } from "./manifest";

export type DeployContractsParameters = {
  publicClient: PublicClient;
  walletClient: WalletClient<Transport, Chain, Account>;
  oracle: Address;
  treasury: Address;
  initialSupply: bigint;
  stakeLockSeconds: number;
  taskTimeoutSeconds: number;
  /** An existing Chainlink FAR/USD feed; without it a mock feed is deployed at `initialPrice`. */
  priceFeed?: Address;
  initialPrice: bigint;
};

export type DeployContractsReturnType = DeploymentManifest;

const ORACLE_ROLE = keccak256(toHex("ORACLE_ROLE"));
const REVENUE_ROLE = keccak256(toHex("REVENUE_ROLE"));

export async function deployContracts(parameters: DeployContractsParameters): Promise<DeployContractsReturnType> {
  const { publicClient, walletClient, oracle, treasury } = parameters;
  const admin = walletClient.account.address;

  const confirm = async (hash: Hash) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`Deployment transaction ${hash} reverted`);
    return receipt;
  };
  const deployed = async (hash: Hash) => {
    const receipt = await confirm(hash);
    return { address: receipt.contractAddress!.toLowerCase() as Address, deployBlock: Number(receipt.blockNumber) };
  };

  const mockFeed = parameters.priceFeed
    ? undefined
    : await deployed(
        await walletClient.deployContract({
          abi: mockPriceFeedAbi,
          bytecode: mockPriceFeedBytecode,
          args: [8, parameters.initialPrice],
        }),
      );
  const priceFeedAddress = mockFeed?.address ?? (parameters.priceFeed!.toLowerCase() as Address);

  const FARToken = await deployed(
    await walletClient.deployContract({
      abi: farTokenAbi,
      bytecode: farTokenBytecode,
      args: [admin, parameters.initialSupply, BigInt(parameters.stakeLockSeconds)],
    }),
  );

  const InferencePayment = await deployed(
    await walletClient.deployContract({
      abi: inferencePaymentAbi,
      bytecode: inferencePaymentBytecode,
      args: [admin, FARToken.address, treasury, priceFeedAddress, BigInt(parameters.taskTimeoutSeconds)],
    }),
  );
  // An existing feed is indexed from this deployment on, not from its own (years of rounds): the
  // price in force before its first round here is read from the feed at the block (indexer/revenue.ts).
  const PriceFeed = mockFeed ?? { address: priceFeedAddress, deployBlock: FARToken.deployBlock };

  await confirm(
    await walletClient.writeContract({
      address: FARToken.address,
      abi: farTokenAbi,
      functionName: "grantRole",
      args: [REVENUE_ROLE, InferencePayment.address],
    }),
  );
  await confirm(
    await walletClient.writeContract({
      address: InferencePayment.address,
      abi: inferencePaymentAbi,
      functionName: "grantRole",
      args: [ORACLE_ROLE, oracle],
    }),
  );

  return {
    chainId: await publicClient.getChainId(),
    deployBlock: Math.min(FARToken.deployBlock, InferencePayment.deployBlock),
    contracts: { FARToken, InferencePayment, PriceFeed },
    roles: { admin: admin.toLowerCase() as Address, oracle: oracle.toLowerCase() as Address, treasury: treasury.toLowerCase() as Address },
  };
}
