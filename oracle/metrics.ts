/**
 * Prometheus metrics of one worker, in a registry of its own (no global state). Counts of
 * money are float64 because Prometheus samples are; the exact amounts live in the store (and
 * the signer's balance on chain): float64 holds wei to about 16 significant digits, plenty to
 * alert and chart on, never to account with.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type OracleMetrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "oracle_" });
  return {
    registry,
    backlog: new Gauge({ name: "oracle_backlog", help: "Jobs by state, and stream entries not yet acknowledged", labelNames: ["state"], registers: [registry] }),
    settled: new Counter({ name: "oracle_settled_total", help: "Jobs confirmed on chain, by operation", labelNames: ["operation"], registers: [registry] }),
    deadLetters: new Counter({ name: "oracle_dead_letters_total", help: "Messages and jobs dead-lettered (never settled: an operator decides), by code", labelNames: ["code"], registers: [registry] }),
    failed: new Counter({ name: "oracle_failed_total", help: "Failures by class (dead-letter reason, revert, transient)", labelNames: ["class"], registers: [registry] }),
    gasSpent: new Counter({ name: "oracle_gas_spent_wei_total", help: "Gas paid by mined oracle transactions, in wei", registers: [registry] }),
    attempts: new Counter({ name: "oracle_tx_attempts_total", help: "Signed attempts, by reason", labelNames: ["reason"], registers: [registry] }),
    reorgs: new Counter({ name: "oracle_reorged_out_total", help: "Mined transactions that left the canonical chain", registers: [registry] }),
    breakerOpen: new Gauge({ name: "oracle_circuit_open", help: "1 while the RPC circuit breaker is open", registers: [registry] }),
    breakerOpened: new Counter({ name: "oracle_circuit_opened_total", help: "Times the RPC circuit breaker opened", registers: [registry] }),
    leaseLost: new Counter({ name: "oracle_lease_lost_total", help: "Times this worker lost the signing lease while it held it", registers: [registry] }),
    settlePass: new Histogram({
      name: "oracle_settle_pass_seconds",
      help: "Duration of one settlement pass (prepare, plan, send, confirm, bump)",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    }),
    confirmationLatency: new Histogram({
      name: "oracle_confirmation_latency_seconds",
      help: "From signing a transaction to its confirmation",
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
  };
}

/**
 * The signing account's native balance (gas money) in wei, read from the chain at each scrape,
 * labelled with the address to fund. A failed read keeps the last value: the RPC's own trouble
 * shows in the breaker and failure metrics.
 */
export function observeSignerBalance(metrics: OracleMetrics, address: string, read: () => Promise<bigint>) {
  new Gauge({
    name: "oracle_signer_balance_wei",
    help: "The oracle signer's native balance (pays gas), in wei, as float64",
    labelNames: ["address"],
    registers: [metrics.registry],
    async collect() {
      const balance = await read().catch(() => undefined);
      if (balance !== undefined) this.set({ address }, Number(balance));
    },
  });
}
