#!/usr/bin/env bash
# First start of the compose stack's PostgreSQL (an empty volume), run by the image's
# entrypoint as the cluster's superuser. Arrakis gets its four roles and its database
# (migrations/roles/bootstrap.sql); Temporal gets a role and two databases of its own, so
# neither can read or alter the other's, and no service logs in as a superuser.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v db=arrakis \
  -v app_password="$ARRAKIS_APP_PASSWORD" \
  -v service_password="$ARRAKIS_SERVICE_PASSWORD" \
  -v migrator_password="$ARRAKIS_MIGRATOR_PASSWORD" \
  -f /arrakis/bootstrap.sql

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
SQL
