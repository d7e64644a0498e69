-- Tenancy: every tenant table carries community_id and is guarded by row-level security on
-- app.current_tenant, set per transaction with set_config(..., true) so it is safe behind a
-- transaction-pooling PgBouncer. FORCE makes the policies bind the table owner too.
--
-- The roles (migrations/roles/bootstrap.sql) exist before the first migration: creating them
-- needs a superuser, and no Arrakis login is one. The migrations run as arrakis_owner.
--   arrakis_app      subject to RLS: every per-community query.
--   arrakis_service  BYPASSRLS: cross-tenant jobs (resolving a guild to its community,
--                    schedules, admin).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'arrakis_app')
       OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'arrakis_service') THEN
        RAISE EXCEPTION 'roles arrakis_app and arrakis_service do not exist: run migrations/roles/bootstrap.sql as a superuser first';
    END IF;
END
$$;

-- The tenant of the current transaction, or NULL when none was set: a NULL never equals a
-- community_id, so a query without a tenant sees zero rows instead of failing or leaking.
CREATE FUNCTION arrakis_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid $$;

CREATE TABLE communities (
    community_id uuid PRIMARY KEY,
    guild_id     bigint NOT NULL UNIQUE,
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    theme        text NOT NULL DEFAULT 'basic' CHECK (theme IN ('basic', 'sietch')),
    tier         text NOT NULL DEFAULT 'free',
    mode         text NOT NULL DEFAULT 'shadow' CHECK (mode IN ('shadow', 'parallel', 'primary', 'exclusive')),
    frozen       boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Each saved change is a new version; nothing edits an old one.
CREATE TABLE manifests (
    community_id uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    version      integer NOT NULL CHECK (version > 0),
    document     jsonb NOT NULL,
    checksum     text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, version)
);

CREATE FUNCTION arrakis_manifests_immutable() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'manifest versions are immutable: save a new version instead'; END $$;

CREATE TRIGGER manifests_immutable BEFORE UPDATE ON manifests
    FOR EACH ROW EXECUTE FUNCTION arrakis_manifests_immutable();

-- What Arrakis last applied to Discord, per manifest key: the tie between a slug and a Discord id.
CREATE TABLE shadow_states (
    community_id    uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('role', 'category', 'channel', 'overwrite')),
    manifest_key    text NOT NULL,
    discord_id      bigint,
    applied_hash    text NOT NULL,
    applied_version integer NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, kind, manifest_key)
);

CREATE TABLE audit_logs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,
    action       text NOT NULL,
    detail       jsonb NOT NULL DEFAULT '{}'::jsonb,
    workflow_id  text
);
CREATE INDEX audit_logs_by_community ON audit_logs (community_id, at DESC);

CREATE TABLE wizard_funnel (
    community_id uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    session_id   text NOT NULL,
    step         text NOT NULL,
    reached_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, session_id, step)
);

CREATE TABLE wallet_links (
    community_id    uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    discord_user_id bigint NOT NULL,
    address         text NOT NULL CHECK (address ~ '^0x[0-9a-fA-F]{40}$'),
    linked_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (community_id, discord_user_id, address)
);
CREATE INDEX wallet_links_by_address ON wallet_links (community_id, address);

CREATE TABLE wallet_nonces (
    community_id    uuid NOT NULL REFERENCES communities ON DELETE CASCADE,
    nonce           text PRIMARY KEY,
    discord_user_id bigint NOT NULL,
    address         text NOT NULL CHECK (address ~ '^0x[0-9a-fA-F]{40}$'),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);

-- One policy per tenant table, all on the same predicate.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['communities', 'manifests', 'shadow_states', 'audit_logs',
                             'wizard_funnel', 'wallet_links', 'wallet_nonces']
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

GRANT USAGE ON SCHEMA public TO arrakis_app, arrakis_service;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO arrakis_app, arrakis_service;
