-- Shadow mode: the incumbent bot on record per community, and what each shadow sync saw,
-- found and predicted. Every table is a tenant table under the same RLS policy as the rest.

ALTER TABLE communities
    ADD COLUMN incumbent            text CHECK (incumbent IN ('collabland', 'matrica', 'guildxyz')),
    ADD COLUMN incumbent_confidence double precision CHECK (incumbent_confidence BETWEEN 0 AND 1),
    ADD COLUMN incumbent_evidence   jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN incumbent_source     text CHECK (incumbent_source IN ('detected', 'operator')),
    ADD COLUMN incumbent_checked_at timestamptz,
    ADD COLUMN shadow_since         timestamptz,
    ADD COLUMN shadow_digest        boolean NOT NULL DEFAULT false;

-- One row per sync (a continue-as-new chain shares it): what it pinned and what it counted.
CREATE TABLE shadow_syncs (
    community_id     uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    sync_id          text NOT NULL,
    manifest_version integer NOT NULL,
    blocks           jsonb NOT NULL DEFAULT '{}'::jsonb,
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    tally            jsonb,
    PRIMARY KEY (community_id, sync_id)
);
CREATE INDEX shadow_syncs_finished ON shadow_syncs (community_id, finished_at DESC);

-- Each member as the last sync saw them: the manifest role keys whose incumbent role they
-- hold, the ones Arrakis would grant, the ones it could not decide, and their best rank.
CREATE TABLE shadow_member_state (
    community_id    uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    discord_user_id bigint NOT NULL,
    sync_id         text NOT NULL,
    incumbent_roles text[] NOT NULL DEFAULT '{}',
    arrakis_roles   text[] NOT NULL DEFAULT '{}',
    unknown_roles   text[] NOT NULL DEFAULT '{}',
    wallets         integer NOT NULL DEFAULT 0,
    best_rank       integer,
    synced_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, discord_user_id)
);

-- Where Arrakis and the incumbent disagree, per sync, member and role. The key makes a
-- re-run page (a retried activity) record nothing twice.
CREATE TABLE shadow_divergences (
    community_id    uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    sync_id         text NOT NULL,
    discord_user_id bigint NOT NULL,
    role_key        text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('would_grant', 'would_revoke')),
    detected_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, sync_id, discord_user_id, role_key)
);

-- Arrakis's verdict per member and role, made at one sync and checked at a later one
-- against the roles the incumbent gave by then.
CREATE TABLE shadow_predictions (
    community_id    uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    sync_id         text NOT NULL,
    discord_user_id bigint NOT NULL,
    role_key        text NOT NULL,
    should_hold     boolean NOT NULL,
    made_at         timestamptz NOT NULL DEFAULT now(),
    validated_sync  text,
    validated_at    timestamptz,
    correct         boolean,
    PRIMARY KEY (community_id, sync_id, discord_user_id, role_key)
);
CREATE INDEX shadow_predictions_open ON shadow_predictions (community_id, discord_user_id)
    WHERE validated_at IS NULL;
CREATE INDEX shadow_predictions_validated ON shadow_predictions (community_id, validated_sync, discord_user_id);

-- The tenant guard of every tenant table, once, for this and later migrations: RLS forced
-- on the predicate community_id = arrakis_current_tenant(), and the two working roles' grants.
CREATE FUNCTION arrakis_guard_tenant_table(t regclass) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s USING (community_id = arrakis_current_tenant()) '
        'WITH CHECK (community_id = arrakis_current_tenant())', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO arrakis_app, arrakis_service', t);
END
$$;

SELECT arrakis_guard_tenant_table(t)
FROM unnest(ARRAY['shadow_syncs', 'shadow_member_state', 'shadow_divergences', 'shadow_predictions']::regclass[]) AS t;
