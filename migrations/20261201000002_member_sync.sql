-- Member sync: the per-guild state of the token-gating loop that would not fit in a
-- workflow's history. Every table is a tenant table under the same RLS policy as the rest.

-- The last block the chain watcher read per chain, saved with the decisions it led to, so a
-- restart neither skips nor repeats a range.
CREATE TABLE member_sync_cursors (
    community_id uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    chain_id     bigint NOT NULL,
    last_block   bigint NOT NULL CHECK (last_block >= 0),
    block_hash   text NOT NULL DEFAULT '',
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, chain_id)
);

-- Member-role writes waiting to be sent, in priority order. One row per (member, role): a
-- newer decision replaces an older one, so a member flapping never queues two writes.
CREATE TABLE member_sync_writes (
    community_id    uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    discord_user_id bigint NOT NULL,
    role_id         bigint NOT NULL,
    role_key        text NOT NULL,
    action          text NOT NULL CHECK (action IN ('grant', 'revoke')),
    priority        smallint NOT NULL DEFAULT 1,
    why             text NOT NULL DEFAULT '',
    enqueued_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, discord_user_id, role_id)
);
CREATE INDEX member_sync_writes_next ON member_sync_writes (community_id, priority, enqueued_at);

-- Negative verdicts on roles members hold, waiting for their second read. `staged_batch` is
-- set once a later read confirmed it: the batch then goes past the breaker as a whole.
CREATE TABLE member_sync_negatives (
    community_id    uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    discord_user_id bigint NOT NULL,
    role_id         bigint NOT NULL,
    role_key        text NOT NULL,
    first_seen_at   timestamptz NOT NULL,
    first_blocks    jsonb NOT NULL DEFAULT '{}'::jsonb,
    staged_batch    text,
    PRIMARY KEY (community_id, discord_user_id, role_id)
);
CREATE INDEX member_sync_negatives_due ON member_sync_negatives (community_id, first_seen_at) WHERE staged_batch IS NULL;
CREATE INDEX member_sync_negatives_staged ON member_sync_negatives (community_id, staged_batch);

-- Revocations the mass-removal breaker holds until the operator confirms or discards them.
CREATE TABLE member_sync_held (
    community_id    uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    batch           text NOT NULL,
    discord_user_id bigint NOT NULL,
    role_id         bigint NOT NULL,
    role_key        text NOT NULL,
    held_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, discord_user_id, role_id)
);
CREATE INDEX member_sync_held_batch ON member_sync_held (community_id, batch);

-- The manifest roles each member should hold as last decided: a GUILD_MEMBER_UPDATE whose
-- roles already match (Arrakis's own write coming back) is recognised without a chain read.
CREATE TABLE member_sync_members (
    community_id    uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    discord_user_id bigint NOT NULL,
    desired_roles   bigint[] NOT NULL DEFAULT '{}',
    decided_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, discord_user_id)
);

-- Wallets are looked up by address when a Transfer log names them.
CREATE INDEX IF NOT EXISTS wallet_links_by_lower_address ON wallet_links (community_id, lower(address));

SELECT arrakis_guard_tenant_table(t)
FROM unnest(ARRAY['member_sync_cursors', 'member_sync_writes', 'member_sync_negatives', 'member_sync_held',
                  'member_sync_members']::regclass[]) AS t;
