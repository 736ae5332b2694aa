/** The oracle's v3 keystore loading (oracle/keystore.ts): both KDFs, and a clear ConfigError for every bad input. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "@ethereumjs/wallet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../common/errors";
import { decryptKeystore, loadOracleAccount } from "../../oracle/keystore";

const PASSWORD = "correct horse battery staple";
// Small KDF work factors: the format is the same, the test stays fast.
const SCRYPT = { kdf: "scrypt", n: 1024, r: 8, p: 1 } as const;
const PBKDF2 = { kdf: "pbkdf2", c: 1000 } as const;

/** The pbkdf2 test vector of the Web3 Secret Storage Definition: a keystore this library did not write. */
const SPEC_VECTOR = {
  text: JSON.stringify({
    crypto: {
      cipher: "aes-128-ctr",
      cipherparams: { iv: "6087dab2f9fdbbfaddc31a909735c1e6" },
      ciphertext: "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
      kdf: "pbkdf2",
      kdfparams: { c: 262144, dklen: 32, prf: "hmac-sha256", salt: "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd" },
      mac: "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2",
    },
    id: "3198bc9c-6672-5ab3-d995-4942343ae5b6",
    version: 3,
  }),
  password: "testpassword",
  key: "0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d",
};

let dir: string;
const wallet = Wallet.generate();
const keystores: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "far-keystore-"));
  keystores.scrypt = await wallet.toV3String(PASSWORD, SCRYPT);
  keystores.pbkdf2 = await wallet.toV3String(PASSWORD, PBKDF2);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const keystoreFile = async (name: string, text: string) => {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
};

describe("decryptKeystore", () => {
  it.each(["scrypt", "pbkdf2"])("a %s keystore made by @ethereumjs/wallet", async (kdf) => {
    expect(JSON.parse(keystores[kdf]!).crypto.kdf).toBe(kdf);
    expect(await decryptKeystore(keystores[kdf]!, PASSWORD)).toBe(wallet.getPrivateKeyString());
  });

  it("the Web3 Secret Storage pbkdf2 test vector", async () => {
    expect(await decryptKeystore(SPEC_VECTOR.text, SPEC_VECTOR.password)).toBe(SPEC_VECTOR.key);
  });

  it("reads keys and hex in any case, as other tools write them", async () => {
    const shouting = keystores.pbkdf2!.replace('"crypto"', '"Crypto"').replace(/"mac":"([0-9a-f]+)"/, (_, mac: string) => `"mac":"${mac.toUpperCase()}"`);
    expect(shouting).not.toBe(keystores.pbkdf2);
    expect(await decryptKeystore(shouting, PASSWORD)).toBe(wallet.getPrivateKeyString());
  });

  const corrupt = () => {
    const keystore = JSON.parse(keystores.scrypt!);
    keystore.crypto.ciphertext = keystore.crypto.ciphertext.replace(/^./, (digit: string) => (digit === "0" ? "1" : "0"));
    return JSON.stringify(keystore);
  };
  it.each([
    // [what, text, password, message]
    ["a wrong password", () => keystores.scrypt!, "wrong", "ORACLE_KEYSTORE_PASSWORD is wrong for ORACLE_KEYSTORE, or the file is corrupt"],
    ["an empty password", () => keystores.pbkdf2!, "", "ORACLE_KEYSTORE_PASSWORD is wrong for ORACLE_KEYSTORE, or the file is corrupt"],
    ["a corrupt ciphertext", corrupt, PASSWORD, "ORACLE_KEYSTORE_PASSWORD is wrong for ORACLE_KEYSTORE, or the file is corrupt"],
    ["malformed JSON", () => keystores.scrypt!.slice(0, -10), PASSWORD, "ORACLE_KEYSTORE is not valid JSON"],
    ["not JSON at all", () => "0xdeadbeef", PASSWORD, "ORACLE_KEYSTORE is not valid JSON"],
    ["another keystore version", () => JSON.stringify({ ...JSON.parse(keystores.scrypt!), version: 1 }), PASSWORD, "ORACLE_KEYSTORE is not a v3 keystore the oracle can read"],
    ["no crypto section", () => JSON.stringify({ version: 3 }), PASSWORD, "ORACLE_KEYSTORE is not a v3 keystore the oracle can read"],
    [
      "an unknown KDF",
      () => keystores.scrypt!.replace('"kdf":"scrypt"', '"kdf":"argon2"'),
      PASSWORD,
      "ORACLE_KEYSTORE is not a v3 keystore the oracle can read",
    ],
  ])("refuses %s with a ConfigError", async (_what, text, password, message) => {
    const error = await decryptKeystore(text(), password).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).shortMessage).toBe(message);
    expect((error as Error).message).not.toContain(wallet.getPrivateKeyString().slice(2));
  });
});

describe("loadOracleAccount", () => {
  it.each(["scrypt", "pbkdf2"])("unlocks a %s ORACLE_KEYSTORE file", async (kdf) => {
    const path = await keystoreFile(`${kdf}.json`, keystores[kdf]!);
    const account = await loadOracleAccount({ CHAIN: "anvil", ORACLE_KEYSTORE: path, ORACLE_KEYSTORE_PASSWORD: PASSWORD });
    expect(account.address).toBe(wallet.getChecksumAddressString());
  });

  it("refuses a wrong ORACLE_KEYSTORE_PASSWORD", async () => {
    const path = await keystoreFile("wrong.json", keystores.scrypt!);
    await expect(loadOracleAccount({ CHAIN: "anvil", ORACLE_KEYSTORE: path, ORACLE_KEYSTORE_PASSWORD: "nope" })).rejects.toThrow(
      /ORACLE_KEYSTORE_PASSWORD is wrong/,
    );
  });

  it("refuses an unreadable ORACLE_KEYSTORE", async () => {
    const path = join(dir, "missing.json");
    const error = await loadOracleAccount({ CHAIN: "anvil", ORACLE_KEYSTORE: path, ORACLE_KEYSTORE_PASSWORD: PASSWORD }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).shortMessage).toBe(`Cannot read ORACLE_KEYSTORE ${path}`);
  });
});
