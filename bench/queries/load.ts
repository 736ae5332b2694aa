/**
 * Closed-loop HTTP load with autocannon: `connections` clients, each sending the next request of
 * the list as soon as its previous answer arrived. Every answer goes through `accept` (the caller
 * compares it with the answer validated before the load), so a wrong or partial answer counts as
 * an error, not as a fast response.
 */
import autocannon from "autocannon";

export type LoadRequest = { path: string; body: string; accept: (body: string) => boolean; headers?: Record<string, string> };

/**
 * Bodies already accepted, per request: a byte-identical body is the same answer, so it is not
 * parsed and compared again. A cached answer repeats its bytes, Ponder's a few orderings of its
 * root fields: both sides are spared the same work, which at a thousand answers a second would
 * otherwise be the load generator's, on the cores the server uses too.
 */
const ACCEPTED_BODIES_PER_REQUEST = 64;

export type LoadResult = {
  connections: number;
  seconds: number;
  responses: number;
  /** Answers that were not HTTP 200 or not accepted, plus socket errors and timeouts. */
  errors: number;
  firstError: string | undefined;
  /** Milliseconds, sorted ascending; every response counts, wrong ones included. */
  latencies: Float64Array;
};

/** A body `accept` cannot even read (not JSON, cut short) is a wrong answer, not a crash of the load. */
function accepts(request: LoadRequest, body: string, accepted: Set<string>): boolean {
  if (accepted.has(body)) return true;
  let ok: boolean;
  try {
    ok = request.accept(body);
  } catch {
    ok = false;
  }
  if (ok && accepted.size < ACCEPTED_BODIES_PER_REQUEST) accepted.add(body);
  return ok;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export async function runLoad(baseUrl: string, requests: LoadRequest[], connections: number, seconds: number): Promise<LoadResult> {
  let errors = 0;
  let firstError: string | undefined;
  const latencies: number[] = [];
  const acceptedBodies = new Map(requests.map((request) => [request, new Set<string>()]));
  const options: autocannon.Options = {
    url: baseUrl,
    connections,
    duration: seconds,
    requests: requests.map((request) => ({
      method: "POST",
      path: request.path,
      headers: { "content-type": "application/json", ...request.headers },
      body: request.body,
      onResponse: (status: number, body: string) => {
        if (status === 200 && accepts(request, body, acceptedBodies.get(request)!)) return;
        errors += 1;
        firstError ??= `HTTP ${status} from ${request.path}: ${body.slice(0, 300)}`;
      },
    })),
  };
  let instance!: autocannon.Instance;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
  // autocannon's own histogram keeps whole milliseconds, too coarse for single-client latencies
  // of a few ms: every response's own time comes with this event (the callback form's instance).
  instance.on("response", (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  const result = await finished;
  // autocannon's `errors` counts socket errors and includes its timeouts.
  errors += result.errors;
  return { connections, seconds: result.duration, responses: latencies.length, errors, firstError, latencies: Float64Array.from(latencies).sort() };
}
