/**
 * The oracle's signing key: ORACLE_PRIVATE_KEY, or an Ethereum v3 keystore file (scrypt or
 * pbkdf2, aes-128-ctr) unlocked with ORACLE_KEYSTORE_PASSWORD, or anvil's oracle account on a
 * local chain. The key never leaves the returned account and is never logged.
 */
import { readFile } from "node:fs/promises";
import { Wallet } from "@ethereumjs/wallet";
import type { Hex, LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { anvilAccount } from "../common/chain";
import { ConfigError } from "../common/errors";
import type { OracleConfig } from "./config";

/** The private key in a v3 keystore, given the file's text. */
export async function decryptKeystore(text: string, password: string): Promise<Hex> {
  let keystore: Parameters<typeof Wallet.fromV3>[0];
  try {
    // Nothing in a v3 keystore is case-sensitive, and tools differ (MyEtherWallet's "Crypto",
    // upper-case hex): the library's non-strict reading, with our own error for bad JSON.
    keystore = JSON.parse(text.toLowerCase());
  } catch (cause) {
    throw new ConfigError("ORACLE_KEYSTORE is not valid JSON", { cause });
  }
  // The library throws this exact message only when the MAC check fails.
  const wallet = await Wallet.fromV3(keystore, password).catch((cause: unknown) => {
    const wrongPassword = cause instanceof Error && cause.message.includes("possibly wrong passphrase");
    const problem = wrongPassword ? "ORACLE_KEYSTORE_PASSWORD is wrong for ORACLE_KEYSTORE, or the file is corrupt" : "ORACLE_KEYSTORE is not a v3 keystore the oracle can read";
    throw new ConfigError(problem, { cause });
  });
  return wallet.getPrivateKeyString();
}

export async function loadOracleAccount(
  config: Pick<OracleConfig, "CHAIN" | "ORACLE_PRIVATE_KEY" | "ORACLE_KEYSTORE" | "ORACLE_KEYSTORE_PASSWORD">,
): Promise<LocalAccount> {
  if (config.ORACLE_PRIVATE_KEY) return privateKeyToAccount(config.ORACLE_PRIVATE_KEY);
  if (config.ORACLE_KEYSTORE) {
    const text = await readFile(config.ORACLE_KEYSTORE, "utf8").catch((cause: unknown) => {
      throw new ConfigError(`Cannot read ORACLE_KEYSTORE ${config.ORACLE_KEYSTORE}`, { cause });
    });
    return privateKeyToAccount(await decryptKeystore(text, config.ORACLE_KEYSTORE_PASSWORD ?? ""));
  }
  return anvilAccount(1) as LocalAccount;
}
