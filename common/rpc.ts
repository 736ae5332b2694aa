/**
 * How every process reaches the chain: RPC_URL is one URL or a comma-separated list of them.
 * One URL is plain viem `http` (the behaviour before lists existed); several go behind viem's
 * `fallback`, which asks them in order and moves to the next when one fails or rate-limits. A
 * request-rate cap, when set, holds every request of the transport to that many per second.
 */
import pThrottle from "p-throttle";
import { custom, fallback, http, type HttpTransportConfig, type Transport } from "viem";

/** RPC_URL's URLs, in order: the first is asked first. */
export function rpcUrls(list: string): string[] {
  return list
    .split(",")
    .map((url) => url.trim())
    .filter((url) => url.length > 0);
}

export type RpcTransportOptions = Pick<HttpTransportConfig, "timeout" | "retryCount" | "batch" | "onFetchResponse"> & {
  /** At most this many requests a second through this transport (queued, not refused); unset: no cap. */
  maxRequestsPerSecond?: number;
};

/** One transport over RPC_URL's URLs: `http` for one, `fallback` over them for several, capped when asked. */
export function rpcTransport(list: string, options: RpcTransportOptions = {}): Transport {
  const { maxRequestsPerSecond, ...httpOptions } = options;
  const urls = rpcUrls(list);
  const transports = urls.map((url) => http(url, httpOptions));
  const inner = transports.length === 1 ? transports[0]! : fallback(transports, { retryCount: httpOptions.retryCount });
  if (maxRequestsPerSecond === undefined) return inner;
  // One throttle for every client built from this transport: the cap is the process's, not a client's.
  const throttled = pThrottle({ limit: maxRequestsPerSecond, interval: 1_000, strict: true })((send: () => Promise<unknown>) => send());
  return (parameters) => {
    const transport = inner({ ...parameters, retryCount: 0 });
    return custom(
      { request: (request: Parameters<typeof transport.request>[0]) => throttled(() => transport.request(request)) },
      { key: "capped", name: `Capped (${maxRequestsPerSecond}/s)`, retryCount: httpOptions.retryCount },
    )(parameters);
  };
}
