-- What member sync last wrote to Discord for each (member, role) pair, and when Discord
-- answered: a member list page or a GUILD_MEMBER_UPDATE from before that write says what
-- Discord held before it, and is corrected by it instead of asking for the same write again
-- (or noting a negative for a role Arrakis has just removed).
CREATE TABLE member_sync_written (
    community_id    uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    discord_user_id bigint NOT NULL,
    role_id         bigint NOT NULL,
    action          text NOT NULL CHECK (action IN ('grant', 'revoke')),
    written_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, discord_user_id, role_id)
);

-- Removals the operator discarded at the breaker: the member keeps the role under this
-- manifest version until a positive read ends the keep (their holdings changed again), so the
-- next sweep does not hold the same batch again.
CREATE TABLE member_sync_kept (
    community_id     uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    discord_user_id  bigint NOT NULL,
    role_id          bigint NOT NULL,
    manifest_version integer NOT NULL,
    batch            text NOT NULL,
    kept_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, discord_user_id, role_id)
);

SELECT arrakis_guard_tenant_table(t)
FROM unnest(ARRAY['member_sync_written', 'member_sync_kept']::regclass[]) AS t;
