import { onchainTable } from "ponder";

// Ponder requires at least one table; the handlers never write it.
export const unused = onchainTable("unused", (t) => ({ id: t.text().primaryKey() }));
