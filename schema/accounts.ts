import { index, onchainTable } from "ponder";
import { bigints, lastUpdate } from "./columns";

/** Every address that ever held FAR; `balance` mirrors `FARToken.balanceOf`. */
export const account = onchainTable(
  "account",
  (t) => ({ address: t.hex().primaryKey(), balance: t.bigint().notNull(), firstSeenBlock: t.int8({ mode: "number" }).notNull(), ...lastUpdate(t) }),
  (table) => ({ balanceIdx: index().on(table.balance) }),
);

/** A user's money inside InferencePayment: `balance` mirrors `userBalances`, `escrowed` the open tasks. */
export const escrowAccount = onchainTable("escrow_account", (t) => ({
  user: t.hex().primaryKey(),
  ...bigints(t, "balance", "escrowed", "deposited", "withdrawn", "spent"),
  ...lastUpdate(t),
}));
