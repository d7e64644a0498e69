-- The Postgres roles of Arrakis, and its database. Run once per cluster, and again after an
-- upgrade, by a superuser (the cluster's bootstrap role; never an Arrakis login):
--
--   psql -v ON_ERROR_STOP=1 -v db=arrakis \
--        [-v app_password=… -v service_password=… -v migrator_password=…] -f bootstrap.sql
--
-- Idempotent. No login role is a superuser, none is a member of another, and the schema is
-- owned by a role nobody can log in as:
--   arrakis_owner     NOLOGIN, BYPASSRLS: owns every table, function and policy (and the
--                     database), so DDL and cross-tenant data migrations run as it.
--   arrakis_migrator  LOGIN: applies the migrations, as arrakis_owner (SET ROLE, its only
--                     membership). Used by deploys, never by a running worker.
--   arrakis_app       LOGIN, subject to row-level security: every per-community query. Its
--                     tenant is pinned per transaction by arrakis_enter_tenant().
--   arrakis_service   LOGIN, BYPASSRLS: the few cross-tenant jobs (a guild's community, the
--                     gate's mode and freeze, the kill switch) and admin reads.
\set ON_ERROR_STOP 1

SELECT format('CREATE ROLE %I', r) FROM unnest(ARRAY['arrakis_owner', 'arrakis_migrator', 'arrakis_app', 'arrakis_service']) r
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec

ALTER ROLE arrakis_owner    NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION BYPASSRLS INHERIT;
ALTER ROLE arrakis_migrator LOGIN   NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;
ALTER ROLE arrakis_app      LOGIN   NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;
ALTER ROLE arrakis_service  LOGIN   NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION BYPASSRLS NOINHERIT;

-- Memberships: the migrator may become the owner, and nothing else is granted. Anything
-- else (left by an older layout, or by hand) is revoked.
SELECT format('REVOKE %I FROM %I', g.rolname, m.rolname)
FROM pg_auth_members a
JOIN pg_roles g ON g.oid = a.roleid
JOIN pg_roles m ON m.oid = a.member
WHERE (g.rolname IN ('arrakis_owner', 'arrakis_migrator', 'arrakis_app', 'arrakis_service')
       OR m.rolname IN ('arrakis_owner', 'arrakis_migrator', 'arrakis_app', 'arrakis_service'))
  AND NOT (g.rolname = 'arrakis_owner' AND m.rolname = 'arrakis_migrator')
\gexec
GRANT arrakis_owner TO arrakis_migrator;

\if :{?app_password}
ALTER ROLE arrakis_app PASSWORD :'app_password';
\endif
\if :{?service_password}
ALTER ROLE arrakis_service PASSWORD :'service_password';
\endif
\if :{?migrator_password}
ALTER ROLE arrakis_migrator PASSWORD :'migrator_password';
\endif

\if :{?db}
SELECT format('CREATE DATABASE %I OWNER arrakis_owner', :'db')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
ALTER DATABASE :"db" OWNER TO arrakis_owner;
-- No login creates temporary objects: a temp table or view could shadow a schema object for
-- the rest of a pooled session. (The migrations revoke it too.)
REVOKE TEMPORARY ON DATABASE :"db" FROM PUBLIC;
\endif
