/**
 * What an RPC error means for the transaction manager. Classified by message as well as by
 * class: nodes word the same condition differently, and viem maps "already known" to
 * NonceTooLowError although it means the very same bytes are already in the pool.
 */
import { BaseError as ViemError, ContractFunctionRevertedError, HttpRequestError, TimeoutError } from "viem";
import { BaseError } from "../../common/errors";

export type ErrorClass = "revert" | "probably_sent" | "underpriced" | "transient" | "fatal";

const PROBABLY_SENT = [/already known/i, /already imported/i, /known transaction/i, /nonce too low/i, /replacement transaction underpriced/i];
const UNDERPRICED = [/fee cap less than block base fee/i, /max fee per gas less than block base fee/i, /underpriced/i];
const TRANSIENT = [/timeout/i, /timed out/i, /ECONNREFUSED/i, /ECONNRESET/i, /socket hang up/i, /fetch failed/i, /rate limit/i, /429/, /503/, /502/, /header not found/i];

export function errorText(error: unknown): string {
  if (error instanceof ViemError) return [error.shortMessage, error.details, error.message].filter(Boolean).join(" | ");
  return error instanceof Error ? error.message : String(error);
}

export function classifyError(error: unknown): ErrorClass {
  if (error instanceof ViemError) {
    const revert = error.walk((cause) => cause instanceof ContractFunctionRevertedError);
    if (revert) return "revert";
    if (error.walk((cause) => cause instanceof HttpRequestError || cause instanceof TimeoutError)) return "transient";
  }
  if (error instanceof BaseError) return error.retryable ? "transient" : "fatal";
  const text = errorText(error);
  if (PROBABLY_SENT.some((pattern) => pattern.test(text))) return "probably_sent";
  if (UNDERPRICED.some((pattern) => pattern.test(text))) return "underpriced";
  if (/execution reverted|revert/i.test(text)) return "revert";
  if (TRANSIENT.some((pattern) => pattern.test(text))) return "transient";
  // An RPC error we cannot place is worth retrying; a bug in our own code is not.
  return error instanceof ViemError ? "transient" : "fatal";
}

/** A revert's reason in one line: the custom error with its arguments when the ABI knows it. */
export function revertReason(error: unknown): string {
  if (error instanceof ViemError) {
    const revert = error.walk((cause) => cause instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null;
    if (revert?.data) {
      const args = (revert.data.args ?? []).map((arg) => (typeof arg === "bigint" ? arg.toString() : String(arg)));
      return `${revert.data.errorName}(${args.join(", ")})`;
    }
    if (revert?.reason) return revert.reason;
    return error.shortMessage;
  }
  return errorText(error);
}
