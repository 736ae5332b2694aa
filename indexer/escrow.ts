/** Users' money inside InferencePayment: deposits, withdrawals, and what tasks hold in escrow. */
import { ponder } from "ponder:registry";
import { escrowAccount } from "ponder:schema";
import type { Address } from "viem";
import { lower, positionOf, type ChainPosition, type Db } from "./context";

type EscrowRow = typeof escrowAccount.$inferSelect;

/**
 * One upsert: `change` applies to the stored row, or to an empty account for a user's first
 * event. It is also called to build the inserted row when one exists, so it must be pure.
 */
export async function updateEscrow(db: Db, user: Address, position: ChainPosition, change: (row: EscrowRow) => Partial<EscrowRow>) {
  const updated = { updatedBlock: position.blockNumber, updatedAt: position.timestamp };
  const empty: EscrowRow = { user, balance: 0n, escrowed: 0n, deposited: 0n, withdrawn: 0n, spent: 0n, ...updated };
  await db
    .insert(escrowAccount)
    .values({ ...empty, ...change(empty), ...updated })
    .onConflictDoUpdate((row) => ({ ...change(row), ...updated }));
}

ponder.on("InferencePayment:Deposited", async ({ event, context }) => {
  await updateEscrow(context.db, lower(event.args.user), positionOf(event), (row) => ({
    balance: event.args.newBalance,
    deposited: row.deposited + event.args.amount,
  }));
});

ponder.on("InferencePayment:Withdrawn", async ({ event, context }) => {
  await updateEscrow(context.db, lower(event.args.user), positionOf(event), (row) => ({
    balance: event.args.newBalance,
    withdrawn: row.withdrawn + event.args.amount,
  }));
});
