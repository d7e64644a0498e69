-- The tenant pin that no session object can forge (#27).
--
-- The pin's two functions run as their owner (SECURITY DEFINER) and named `tenant_pins`
-- unqualified under `search_path = pg_catalog, public`. PostgreSQL searches the session's
-- temporary schema first when `pg_temp` is not listed, so a login that could create a temp
-- table or view called `tenant_pins` chose the pinned community (and, through a view calling a
-- pg_temp function, ran code as the schema owner). Now:
--   * every name in the definer functions is schema-qualified and their search_path ends in
--     pg_temp, so nothing a session creates is ever found first;
--   * no Arrakis login may create temporary objects (TEMPORARY is revoked from PUBLIC);
--   * EXECUTE on them goes to the login that needs it, not to PUBLIC;
--   * a pin cannot be undone by ROLLBACK TO SAVEPOINT and replaced: the pin must be the
--     transaction's first write, so a transaction holds one community from its first pin to its
--     end (a savepoint rollback removes the pin row, but not the transaction id it assigned).

-- Pins the current transaction to `tenant`: the first thing every tenant transaction runs.
CREATE OR REPLACE FUNCTION public.arrakis_enter_tenant(tenant uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    assigned xid8 := pg_catalog.pg_current_xact_id_if_assigned();
    pinned   uuid;
BEGIN
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'a tenant transaction needs a community id' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF assigned IS NOT NULL THEN
        -- The transaction has written already: it is pinned (the pin is its first write), or it
        -- wrote something else first, or its pin was rolled back to a savepoint. Only the
        -- first case may go on, and only with the same community.
        SELECT p.tenant INTO pinned FROM public.tenant_pins p
        WHERE p.backend_pid = pg_catalog.pg_backend_pid() AND p.xact = assigned;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'a tenant transaction pins its community before anything else, once'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF pinned IS DISTINCT FROM tenant THEN
            RAISE EXCEPTION 'this transaction already belongs to another community'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN;
    END IF;
    INSERT INTO public.tenant_pins (backend_pid, xact, tenant)
        VALUES (pg_catalog.pg_backend_pid(), pg_catalog.pg_current_xact_id(), tenant)
        ON CONFLICT (backend_pid) DO UPDATE SET xact = EXCLUDED.xact, tenant = EXCLUDED.tenant;
    -- For readers of the session (logs, pg_stat_activity tooling); the policies never read it.
    PERFORM pg_catalog.set_config('app.current_tenant', tenant::text, true);
END
$$;
REVOKE ALL ON FUNCTION public.arrakis_enter_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.arrakis_enter_tenant(uuid) TO arrakis_app;

-- The tenant pinned by this transaction, or NULL: a NULL never equals a community_id, so a
-- query without a tenant sees zero rows instead of failing or leaking. Only the application
-- login's policies call it (the service login and the owner bypass row-level security).
CREATE OR REPLACE FUNCTION public.arrakis_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT p.tenant FROM public.tenant_pins p
        WHERE p.backend_pid = pg_catalog.pg_backend_pid() AND p.xact = pg_catalog.pg_current_xact_id_if_assigned()
    $$;
REVOKE ALL ON FUNCTION public.arrakis_current_tenant() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.arrakis_current_tenant() TO arrakis_app;

-- The migrations' own helpers are for the owner alone.
REVOKE ALL ON FUNCTION public.arrakis_guard_tenant_table(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.arrakis_manifests_immutable() FROM PUBLIC;
-- And so is every function a later migration creates, unless it grants EXECUTE by name.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- No temporary objects for any login: nothing a session creates can shadow a schema object.
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END
$$;
