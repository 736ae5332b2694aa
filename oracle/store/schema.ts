/**
 * The oracle's tables, in a schema of their own. Job states: received → ready (priced and
 * simulated) → submitted (on a signed transaction) → confirmed, or dead (never sendable).
 * Transaction states: signed (saved, maybe not broadcast) → pending (broadcast) → mined →
 * final; lost when its nonce was taken by a transaction that is not ours.
 *
 * In the store's lock order (leases → txs → attempts → jobs): `create index if not exists` takes
 * a share lock on its table even when the index is there, so a replica starting while another
 * works must take them in the order the workers' transactions do, or the two deadlock.
 */
export function schemaStatements(schema: string): string[] {
  const s = `"${schema}"`;
  return [
    `create schema if not exists ${s}`,
    `create table if not exists ${s}.leases (
      chain_id integer not null,
      address text not null,
      holder text not null,
      expires_at timestamptz not null,
      primary key (chain_id, address)
    )`,
    `create table if not exists ${s}.txs (
      id bigserial primary key,
      chain_id integer not null,
      from_address text not null,
      nonce bigint not null,
      kind text not null,
      to_address text not null,
      data text not null,
      gas numeric(78,0) not null,
      state text not null,
      mined_hash text,
      mined_block bigint,
      mined_block_hash text,
      gas_spent numeric(78,0),
      created_at timestamptz not null default now(),
      mined_at timestamptz,
      unique (chain_id, from_address, nonce)
    )`,
    `create index if not exists txs_by_state on ${s}.txs (chain_id, from_address, state, nonce)`,
    `create table if not exists ${s}.attempts (
      id bigserial primary key,
      tx_id bigint not null references ${s}.txs (id),
      hash text not null unique,
      raw text not null,
      max_fee numeric(78,0) not null,
      priority_fee numeric(78,0) not null,
      created_at timestamptz not null default now(),
      broadcast_at timestamptz
    )`,
    `create index if not exists attempts_by_tx on ${s}.attempts (tx_id)`,
    `create table if not exists ${s}.jobs (
      id bigserial primary key,
      chain_id integer not null,
      contract text not null,
      key text not null,
      kind text not null,
      payload jsonb not null,
      state text not null default 'received',
      reason_code text,
      reason text,
      actual_cost numeric(78,0),
      score integer,
      tx_id bigint,
      dead_letter_pending boolean not null default false,
      retries integer not null default 0,
      not_before timestamptz not null default now(),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      confirmed_at timestamptz,
      unique (chain_id, contract, key)
    )`,
    `create index if not exists jobs_by_state on ${s}.jobs (chain_id, contract, state, id)`,
    `create index if not exists jobs_by_tx on ${s}.jobs (tx_id)`,
  ];
}
