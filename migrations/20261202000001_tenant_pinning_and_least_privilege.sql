-- Tenancy that one injected statement cannot undo (#14).
--
-- Until now the tenant was a setting any statement could change: inside a tenant transaction,
-- `SELECT set_config('app.current_tenant', '<another community>', true)` moved it to another
-- community. Now the tenant is pinned, once per transaction, by arrakis_enter_tenant(), which
-- records it where the application cannot write; the policies read the pin, not the setting.
-- A second call with another community fails, and changing the setting changes nothing.

-- One row per backend: the transaction it pinned and to which community. Unlogged (a crash
-- empties it, and every pinned transaction died with the crash); never readable by the app.
CREATE UNLOGGED TABLE tenant_pins (
    backend_pid integer PRIMARY KEY,
    xact        xid8 NOT NULL,
    tenant      uuid NOT NULL
);
REVOKE ALL ON tenant_pins FROM PUBLIC;

-- Pins the current transaction to `tenant`: the first thing every tenant transaction runs.
CREATE FUNCTION arrakis_enter_tenant(tenant uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$
DECLARE
    this_xact xid8 := pg_current_xact_id();
    pinned    uuid;
BEGIN
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'a tenant transaction needs a community id' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT p.tenant INTO pinned FROM tenant_pins p WHERE p.backend_pid = pg_backend_pid() AND p.xact = this_xact;
    IF FOUND THEN
        IF pinned IS DISTINCT FROM tenant THEN
            RAISE EXCEPTION 'this transaction already belongs to another community'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN;
    END IF;
    INSERT INTO tenant_pins (backend_pid, xact, tenant) VALUES (pg_backend_pid(), this_xact, tenant)
        ON CONFLICT (backend_pid) DO UPDATE SET xact = EXCLUDED.xact, tenant = EXCLUDED.tenant;
    -- For readers of the session (logs, pg_stat_activity tooling); the policies never read it.
    PERFORM set_config('app.current_tenant', tenant::text, true);
END
$$;
REVOKE ALL ON FUNCTION arrakis_enter_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION arrakis_enter_tenant(uuid) TO arrakis_app;

-- The tenant pinned by this transaction, or NULL: a NULL never equals a community_id, so a
-- query without a tenant sees zero rows instead of failing or leaking.
CREATE OR REPLACE FUNCTION arrakis_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$
        SELECT p.tenant FROM tenant_pins p
        WHERE p.backend_pid = pg_backend_pid() AND p.xact = pg_current_xact_id_if_assigned()
    $$;

-- Every policy reads the pin once per statement (an InitPlan), not once per row.
CREATE OR REPLACE FUNCTION arrakis_guard_tenant_table(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (community_id = (SELECT arrakis_current_tenant())) '
                   'WITH CHECK (community_id = (SELECT arrakis_current_tenant()))', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO arrakis_app', t);
    EXECUTE format('GRANT SELECT ON %s TO arrakis_service', t);
END
$$;

DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT format('%I.%I', schemaname, tablename)::regclass FROM pg_policies
             WHERE schemaname = 'public' AND policyname = 'tenant_isolation'
    LOOP
        EXECUTE format('ALTER POLICY tenant_isolation ON %s USING (community_id = (SELECT arrakis_current_tenant())) '
                       'WITH CHECK (community_id = (SELECT arrakis_current_tenant()))', t);
    END LOOP;
END
$$;

-- Keys that could collide across tenants carry the tenant: a nonce is unique per community,
-- so a clash never tells one community about another's rows.
ALTER TABLE wallet_nonces DROP CONSTRAINT wallet_nonces_pkey, ADD PRIMARY KEY (community_id, nonce);

-- Least privilege for the app. Communities are created and re-keyed only by the service role
-- (a guild is one community, and `guild_id` is unique across all of them: an app that could
-- insert one would learn which guilds other communities hold). Its mode and freeze are the
-- gate's: the app may not change them either. What the app does update is listed by column.
REVOKE INSERT, UPDATE, DELETE ON communities FROM arrakis_app;
GRANT UPDATE (incumbent, incumbent_confidence, incumbent_evidence, incumbent_source, incumbent_checked_at,
              shadow_since, shadow_digest, incumbent_health, incumbent_health_notified, updated_at)
    ON communities TO arrakis_app;

-- The service role reads every table (cross-tenant jobs, the runbook's admin reads) and
-- writes only what its jobs write.
REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public FROM arrakis_service;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO arrakis_service;
REVOKE ALL ON tenant_pins FROM arrakis_service;
GRANT INSERT, UPDATE ON communities, kill_switch TO arrakis_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO arrakis_service;
