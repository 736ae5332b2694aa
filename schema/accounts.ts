import { index, onchainTable } from "ponder";

/** Every address that ever held FAR; `balance` mirrors `FARToken.balanceOf`. */
export const account = onchainTable(
  "account",
  (t) => ({
    address: t.hex().primaryKey(),
    balance: t.bigint().notNull(),
    firstSeenBlock: t.int8({ mode: "number" }).notNull(),
    updatedBlock: t.int8({ mode: "number" }).notNull(),
    updatedAt: t.int8({ mode: "number" }).notNull(),
  }),
  (table) => ({ balanceIdx: index().on(table.balance) }),
);

/** A user's money inside InferencePayment: `balance` mirrors `userBalances`, `escrowed` the open tasks. */
export const escrowAccount = onchainTable("escrow_account", (t) => ({
  user: t.hex().primaryKey(),
  balance: t.bigint().notNull(),
  escrowed: t.bigint().notNull(),
  deposited: t.bigint().notNull(),
  withdrawn: t.bigint().notNull(),
  spent: t.bigint().notNull(),
  updatedBlock: t.int8({ mode: "number" }).notNull(),
  updatedAt: t.int8({ mode: "number" }).notNull(),
}));
