/**
 * The deployment manifest `deployments/<chainId>.json`: where the contracts live and from which
 * block to index them. Written by the deploy script, read by the indexer and the oracle.
 */
import { readFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import { isAddress, type Address } from "viem";
import { BaseError } from "../../common/errors";

const address = z.string().refine((value) => isAddress(value, { strict: false })).transform((v) => v.toLowerCase() as Address);
const deployed = z.object({ address, deployBlock: z.number().int().nonnegative() });

const manifestSchema = z.object({
  chainId: z.number().int().positive(),
  deployBlock: z.number().int().nonnegative(),
  contracts: z.object({ FARToken: deployed, InferencePayment: deployed, PriceFeed: deployed }),
  roles: z.object({ admin: address, oracle: address, treasury: address }),
});

export type DeploymentManifest = z.infer<typeof manifestSchema>;

class ManifestError extends BaseError {
  override name = "ManifestError";
}

export function manifestPath(directory: string, chainId: number): string {
  return join(directory, `${chainId}.json`);
}

export async function writeManifest(directory: string, manifest: DeploymentManifest): Promise<string> {
  const path = manifestPath(directory, manifest.chainId);
  await mkdir(dirname(path), { recursive: true });
  // Written beside and renamed so a reader never sees half a manifest.
  await writeFile(`${path}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
  return path;
}

/** Synchronous so that ponder.config.ts, which Ponder evaluates as a plain module, can read it. */
export function readManifest(directory: string, chainId: number): DeploymentManifest {
  const path = manifestPath(directory, chainId);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new ManifestError(`No deployment manifest at ${path}`, {
      cause,
      metaMessages: ["Deploy the contracts first: npm run deploy"],
    });
  }
  const result = manifestSchema.safeParse(JSON.parse(text));
  if (!result.success) throw new ManifestError(`Deployment manifest ${path} is malformed`, { cause: result.error });
  return result.data;
}

/**
 * Where the indexer finds the contracts, as the settings that say it off a local chain, where no
 * manifest is read: on a local chain the indexer takes them from here; elsewhere `npm run deploy`
 * prints them for the operator, so no block explorer is needed.
 */
export function indexerSettings(manifest: DeploymentManifest) {
  return {
    FAR_TOKEN_ADDRESS: manifest.contracts.FARToken.address,
    INFERENCE_PAYMENT_ADDRESS: manifest.contracts.InferencePayment.address,
    PRICE_FEED_ADDRESS: manifest.contracts.PriceFeed.address,
    // A mock feed is deployed first: its first answer is indexed too.
    START_BLOCK: Math.min(manifest.deployBlock, manifest.contracts.PriceFeed.deployBlock),
  };
}
