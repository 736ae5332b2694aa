import { readFile } from "node:fs/promises";
import { createServer } from "node:net";

/** A TCP port free on loopback right now, so parallel suites never collide. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The addresses anything on this machine listens on at `port`, from /proc/net/tcp{,6} (state 0A: LISTEN). */
export async function listeningAddresses(port: number): Promise<string[]> {
  const addresses: string[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const table = await readFile(file, "utf8").catch(() => "");
    for (const line of table.split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || state !== "0A" || parseInt(local.split(":")[1]!, 16) !== port) continue;
      addresses.push(decodeAddress(local.split(":")[0]!));
    }
  }
  return addresses;
}

/** /proc/net's hex addresses: IPv4 as one little-endian word, IPv6 as four. */
function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g)!.map((word) => word.match(/../g)!.reverse().join(""));
  if (words.length === 1) return words[0]!.match(/../g)!.map((byte) => parseInt(byte, 16)).join(".");
  const v6 = words.join("");
  if (v6.startsWith("00000000000000000000ffff")) return v6.slice(24).match(/../g)!.map((byte) => parseInt(byte, 16)).join(".");
  return v6.match(/.{4}/g)!.map((group) => group.replace(/^0+(?=.)/, "")).join(":");
}
