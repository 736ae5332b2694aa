/**
 * The oracle's signing key: ORACLE_PRIVATE_KEY, or an Ethereum v3 keystore file (scrypt or
 * pbkdf2, aes-128-ctr) unlocked with ORACLE_KEYSTORE_PASSWORD, or anvil's oracle account on a
 * local chain. The key never leaves the returned account and is never logged.
 */
import { createDecipheriv, pbkdf2Sync, scryptSync } from "node:crypto";
import { readFile } from "node:fs/promises";
import { bytesToHex, keccak256, concat, type LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { anvilAccount } from "../common/chain";
import { ConfigError } from "../common/errors";
import type { OracleConfig } from "./config";

type Keystore = {
  crypto: {
    cipher: string;
    ciphertext: string;
    cipherparams: { iv: string };
    kdf: "scrypt" | "pbkdf2";
    kdfparams: { dklen: number; salt: string; n?: number; r?: number; p?: number; c?: number; prf?: string };
    mac: string;
  };
};

export function decryptKeystore(keystore: Keystore, password: string): `0x${string}` {
  const { crypto } = keystore;
  const salt = Buffer.from(crypto.kdfparams.salt, "hex");
  const derived =
    crypto.kdf === "scrypt"
      ? scryptSync(password, salt, crypto.kdfparams.dklen, {
          N: crypto.kdfparams.n!,
          r: crypto.kdfparams.r!,
          p: crypto.kdfparams.p!,
          maxmem: 512 * 1024 * 1024,
        })
      : pbkdf2Sync(password, salt, crypto.kdfparams.c!, crypto.kdfparams.dklen, "sha256");
  const ciphertext = Buffer.from(crypto.ciphertext, "hex");
  const mac = keccak256(concat([bytesToHex(derived.subarray(16, 32)), bytesToHex(ciphertext)]));
  if (mac.slice(2) !== crypto.mac.toLowerCase()) throw new ConfigError("Keystore password is wrong or the file is corrupt");
  if (crypto.cipher !== "aes-128-ctr") throw new ConfigError(`Keystore cipher ${crypto.cipher} is not supported`);
  const decipher = createDecipheriv("aes-128-ctr", derived.subarray(0, 16), Buffer.from(crypto.cipherparams.iv, "hex"));
  return bytesToHex(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
}

export async function loadOracleAccount(
  config: Pick<OracleConfig, "CHAIN" | "ORACLE_PRIVATE_KEY" | "ORACLE_KEYSTORE" | "ORACLE_KEYSTORE_PASSWORD">,
): Promise<LocalAccount> {
  if (config.ORACLE_PRIVATE_KEY) return privateKeyToAccount(config.ORACLE_PRIVATE_KEY);
  if (config.ORACLE_KEYSTORE) {
    const text = await readFile(config.ORACLE_KEYSTORE, "utf8").catch((cause: unknown) => {
      throw new ConfigError(`Cannot read ORACLE_KEYSTORE ${config.ORACLE_KEYSTORE}`, { cause });
    });
    const key = decryptKeystore(JSON.parse(text) as Keystore, config.ORACLE_KEYSTORE_PASSWORD ?? "");
    return privateKeyToAccount(key);
  }
  return anvilAccount(1) as LocalAccount;
}
