-- Wallet linking keeps the exact text the member signs, and scores get their store.

-- The challenge text is stored as issued, so verification recovers against exactly what the
-- member saw; a nonce is consumed once (used_at) and only by a matching signature.
ALTER TABLE wallet_nonces
    ADD COLUMN message   text NOT NULL DEFAULT '',
    ADD COLUMN issued_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE wallet_nonces ALTER COLUMN message DROP DEFAULT;
CREATE INDEX wallet_nonces_by_member ON wallet_nonces (community_id, discord_user_id);

-- The last Score Service answer per (asset, address): the cache behind the client's fallback.
CREATE TABLE scores (
    community_id   uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    asset          text NOT NULL,
    address        text NOT NULL CHECK (address ~ '^0x[0-9a-f]{40}$'),
    rank           integer CHECK (rank > 0),
    score          text CHECK (score ~ '^[0-9]+$'),
    activity_score integer CHECK (activity_score >= 0),
    never_redeemed boolean,
    fetched_at     timestamptz NOT NULL,
    PRIMARY KEY (community_id, asset, address)
);
CREATE INDEX scores_by_rank ON scores (community_id, asset, rank) WHERE rank IS NOT NULL;

-- Every change of rank or score, append-only.
CREATE TABLE score_history (
    community_id uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    asset        text NOT NULL,
    address      text NOT NULL,
    at           timestamptz NOT NULL,
    rank         integer,
    score        text,
    PRIMARY KEY (community_id, asset, address, at)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['scores', 'score_history']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (community_id = arrakis_current_tenant()) '
            'WITH CHECK (community_id = arrakis_current_tenant())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO arrakis_app, arrakis_service', t);
    END LOOP;
END
$$;
