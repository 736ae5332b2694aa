/**
 * An in-memory chain for the transaction manager's unit tests, answering the calls of
 * `ChainBackend` the way a node does where the manager depends on the answer: "nonce too low",
 * "already known", "replacement transaction underpriced", a receipt-not-found error, an estimate
 * that reverts. One sender: the bytes are parsed, not recovered, so every transaction counts as
 * the oracle key's. The pool keeps one transaction per nonce (a replacement must pay 10% more on
 * both fees, as geth asks); blocks are mined when the test says so, and can be reorged out.
 */
import {
  BlockNotFoundError,
  EstimateGasExecutionError,
  ExecutionRevertedError,
  RpcRequestError,
  TransactionReceiptNotFoundError,
  keccak256,
  parseTransaction,
  stringToHex,
  type Address,
  type Hash,
  type Hex,
  type TransactionReceipt,
} from "viem";
import type { ChainBackend } from "../../oracle/txm/types";

export type FakeTx = { hash: Hash; raw: Hex; nonce: number; to: Address; data: Hex; value: bigint; gas: bigint; maxFee: bigint; priorityFee: bigint };

export type FakeBlock = { number: bigint; hash: Hash; txs: FakeTx[] };

/** What the node answered to one sendRawTransaction. */
export type FakeSend = { hash: Hash; nonce: number; answer: "accepted" | "replaced" | "nonce too low" | "already known" | "replacement transaction underpriced" };

const GENESIS_HASH = keccak256(stringToHex("genesis"));
const ESTIMATE = 50_000n;

/** A JSON-RPC error as viem's HTTP transport reports it. */
const nodeError = (message: string) => new RpcRequestError({ body: {}, error: { code: -32000, message }, url: "http://fake-chain" });

/** Geth's replacement rule: at least 10% more on both fees (rounded down). */
const pays10PercentMore = (next: FakeTx, previous: FakeTx) =>
  next.maxFee >= (previous.maxFee * 110n) / 100n && next.priorityFee >= (previous.priorityFee * 110n) / 100n;

export function createFakeChain(options: { baseFee?: bigint; maxFee?: bigint; priorityFee?: bigint } = {}) {
  const baseFee = options.baseFee ?? 1_000_000_000n;
  const fees = { maxFeePerGas: options.maxFee ?? 2_000_000_000n, maxPriorityFeePerGas: options.priorityFee ?? 100_000_000n };
  const blocks: FakeBlock[] = [{ number: 0n, hash: GENESIS_HASH, txs: [] }];
  const pool = new Map<number, FakeTx>();
  const receipts = new Map<Hash, TransactionReceipt>();
  const reverting = new Map<string, string>();
  const sends: FakeSend[] = [];
  let salt = 0;
  /** When set, every accepted transaction is mined at once in a block of its own (anvil's automine). */
  let automine = false;
  /** Runs once before the next sendRawTransaction is looked at: a block arriving mid-call. */
  let beforeNextSend: (() => void) | undefined;

  const head = () => blocks.at(-1)!;
  const minedNonce = () => blocks.reduce((count, block) => count + block.txs.length, 0);
  function pendingNonce() {
    let nonce = minedNonce();
    while (pool.has(nonce)) nonce += 1;
    return nonce;
  }

  function parse(raw: Hex): FakeTx {
    const tx = parseTransaction(raw);
    return {
      hash: keccak256(raw),
      raw,
      nonce: tx.nonce ?? 0,
      to: tx.to!,
      data: tx.data ?? "0x",
      value: tx.value ?? 0n,
      gas: tx.gas!,
      maxFee: tx.maxFeePerGas!,
      priorityFee: tx.maxPriorityFeePerGas!,
    };
  }

  function receiptOf(tx: FakeTx, block: FakeBlock, index: number): TransactionReceipt {
    const tip = tx.maxFee - baseFee < tx.priorityFee ? tx.maxFee - baseFee : tx.priorityFee;
    return {
      transactionHash: tx.hash,
      transactionIndex: index,
      blockHash: block.hash,
      blockNumber: block.number,
      from: "0x0000000000000000000000000000000000000000",
      to: tx.to,
      contractAddress: null,
      cumulativeGasUsed: tx.gas,
      gasUsed: tx.gas,
      effectiveGasPrice: baseFee + tip,
      logs: [],
      logsBloom: "0x",
      status: "success",
      type: "eip1559",
    };
  }

  /** Mines one block with the pool's transactions from the mined nonce on, in nonce order. */
  function mine(): FakeBlock {
    const txs: FakeTx[] = [];
    for (let nonce = minedNonce(); pool.has(nonce); nonce += 1) {
      txs.push(pool.get(nonce)!);
      pool.delete(nonce);
    }
    const number = head().number + 1n;
    const block = { number, hash: keccak256(stringToHex(`block ${number} on ${head().hash} #${(salt += 1)}`)), txs };
    blocks.push(block);
    txs.forEach((tx, index) => receipts.set(tx.hash, receiptOf(tx, block, index)));
    return block;
  }

  const backend = {
    async getTransactionCount(args: { blockTag?: "latest" | "pending" }) {
      return args.blockTag === "pending" ? pendingNonce() : minedNonce();
    },
    async estimateGas(args: { to?: Address | null; data?: Hex }) {
      const reason = args.to ? reverting.get(args.to.toLowerCase()) : undefined;
      if (reason === undefined) return ESTIMATE;
      // What viem's estimateGas throws for a node's revert (code 3, "execution reverted: …").
      const message = `execution reverted: ${reason}`;
      throw new EstimateGasExecutionError(new ExecutionRevertedError({ cause: nodeError(message), message }), { to: args.to ?? undefined, data: args.data });
    },
    async estimateFeesPerGas() {
      return { ...fees };
    },
    async sendRawTransaction(args: { serializedTransaction: Hex }): Promise<Hash> {
      const before = beforeNextSend;
      beforeNextSend = undefined;
      before?.();
      const tx = parse(args.serializedTransaction);
      const pooled = pool.get(tx.nonce);
      const refuse = (answer: FakeSend["answer"]) => {
        sends.push({ hash: tx.hash, nonce: tx.nonce, answer });
        throw nodeError(answer);
      };
      if (tx.nonce < minedNonce()) refuse("nonce too low");
      if (pooled?.hash === tx.hash) refuse("already known");
      if (pooled && !pays10PercentMore(tx, pooled)) refuse("replacement transaction underpriced");
      pool.set(tx.nonce, tx);
      sends.push({ hash: tx.hash, nonce: tx.nonce, answer: pooled ? "replaced" : "accepted" });
      if (automine) mine();
      return tx.hash;
    },
    async getTransactionReceipt(args: { hash: Hash }) {
      const receipt = receipts.get(args.hash);
      if (!receipt) throw new TransactionReceiptNotFoundError({ hash: args.hash });
      return receipt;
    },
    async getBlock(args: { blockTag?: "latest"; blockNumber?: bigint } = {}) {
      const block = args.blockNumber === undefined ? head() : blocks[Number(args.blockNumber)];
      if (!block) throw new BlockNotFoundError({ blockNumber: args.blockNumber });
      return { number: block.number, hash: block.hash, baseFeePerGas: baseFee, transactions: block.txs.map((tx) => tx.hash) };
    },
  };

  return {
    /** The calls the manager makes; only the arguments it passes are read. */
    backend: backend as unknown as ChainBackend,
    mine,
    /** Mines `count` blocks, e.g. to give a receipt its confirmations. */
    mineBlocks(count: number) {
      for (let i = 0; i < count; i += 1) mine();
    },
    set automine(on: boolean) {
      automine = on;
    },
    beforeNextSend(run: () => void) {
      beforeNextSend = run;
    },
    /**
     * Drops the last `depth` blocks. Their transactions go back to the pool (a node re-adds them)
     * unless `dropTransactions`, as when the pool lost them too.
     */
    reorg(depth: number, options: { dropTransactions?: boolean } = {}) {
      for (const block of blocks.splice(blocks.length - depth, depth).reverse()) {
        for (const tx of block.txs) {
          receipts.delete(tx.hash);
          if (!options.dropTransactions && !pool.has(tx.nonce)) pool.set(tx.nonce, tx);
        }
      }
    },
    /** Estimates of calls to `to` revert with `reason`. */
    revertEstimatesTo(to: Address, reason: string) {
      reverting.set(to.toLowerCase(), reason);
    },
    setFees(next: { maxFee: bigint; priorityFee: bigint }) {
      fees.maxFeePerGas = next.maxFee;
      fees.maxPriorityFeePerGas = next.priorityFee;
    },
    /** The pool's transaction at each nonce, lowest first. */
    pooled: () => [...pool.values()].sort((a, b) => a.nonce - b.nonce),
    /** Every transaction mined on the canonical chain, in order. */
    minedTxs: () => blocks.flatMap((block) => block.txs),
    /** Every sendRawTransaction and what the node answered, in order. */
    sends,
    get head() {
      return head();
    },
  };
}
