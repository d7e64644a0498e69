//! Tenant-safe Postgres. The pools are private: the only ways to run a query are a
//! [`TenantTx`] (login role `arrakis_app`, subject to row-level security, its transaction
//! pinned to one community by `arrakis_enter_tenant`) or a [`ServiceTx`] (login role
//! `arrakis_service`, for the few cross-tenant jobs). Forgetting the tenant is therefore
//! impossible, not merely wrong; and since the two are separate logins that are members of
//! nothing, no statement run through one can become the other (`SET ROLE`, `RESET ROLE` and
//! `SET SESSION AUTHORIZATION` get nowhere). Migrations run as a third login, apart.

pub use arrakis_schemas::CommunityId;
use arrakis_schemas::{CommunityManifest, GuildId, Mode, UserId};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction, postgres::PgPoolOptions};
use std::{fmt, time::Duration};
use uuid::Uuid;

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or could not be reached; usually worth a retry.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The migrations could not be applied.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A login role is not the one its URL is meant for (e.g. `DATABASE_URL` logs in as a
    /// superuser, which would bypass every policy).
    #[error("{0}")]
    Misconfigured(String),
    /// Scylla refused or could not be reached (the score store's Scylla adapter).
    #[error("scylla: {0}")]
    Scylla(String),
    /// A stored document no longer parses (a bug or a manual edit).
    #[error("stored {what} is corrupt: {detail}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// The parse error.
        detail: String,
    },
}

/// The connection pools, reachable only through tenant or service transactions.
#[derive(Clone)]
pub struct Store {
    /// `arrakis_app`: tenant transactions.
    app: PgPool,
    /// `arrakis_service`: cross-tenant transactions.
    service: PgPool,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Connects the application login (`DATABASE_URL`) and the service login
    /// (`ARRAKIS_SERVICE_DATABASE_URL`), lazily: the first query opens the first connection.
    pub fn connect_lazy(app_url: &str, service_url: &str) -> Result<Self, StoreError> {
        let pool = |max: u32, url: &str| {
            PgPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(5))
                .after_release(|conn, _| Box::pin(reset_session(conn)))
                .connect_lazy(url)
        };
        Ok(Self { app: pool(10, app_url)?, service: pool(4, service_url)? })
    }

    /// Refuses logins that would undo the isolation: an application login that is a superuser
    /// or bypasses row-level security, a service login that is a superuser, or either one
    /// allowed to create temporary objects (which could shadow a schema object for the rest of
    /// a pooled session). The worker checks before it polls, so a misconfigured deploy fails at
    /// once with the variable named.
    pub async fn check_roles(&self) -> Result<(), StoreError> {
        let temporary = "SELECT current_user::text, current_database()::text, \
                         has_database_privilege(current_database(), 'TEMPORARY')";
        for (pool, variable) in [(&self.app, "DATABASE_URL"), (&self.service, "ARRAKIS_SERVICE_DATABASE_URL")] {
            let (user, database, may): (String, String, bool) = sqlx::query_as(temporary).fetch_one(pool).await?;
            if may {
                return Err(StoreError::Misconfigured(format!(
                    "{variable} logs in as {user}, which may create temporary tables in {database}: \
                     REVOKE TEMPORARY ON DATABASE {database} FROM PUBLIC (the migrations do; a database \
                     copied from a template needs it again)"
                )));
            }
        }
        let who = "SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user";
        let (user, superuser, bypass): (String, bool, bool) = sqlx::query_as(who).fetch_one(&self.app).await?;
        if superuser || bypass {
            return Err(StoreError::Misconfigured(format!(
                "DATABASE_URL logs in as {user}, which {} row-level security: use the application role (arrakis_app)",
                if superuser { "is a superuser and bypasses" } else { "bypasses" }
            )));
        }
        let (user, superuser, _): (String, bool, bool) = sqlx::query_as(who).fetch_one(&self.service).await?;
        if superuser {
            return Err(StoreError::Misconfigured(format!(
                "ARRAKIS_SERVICE_DATABASE_URL logs in as {user}, a superuser: use the service role (arrakis_service)"
            )));
        }
        Ok(())
    }

    /// Applies the migrations in `migrations/` through the migration login
    /// (`ARRAKIS_MIGRATION_DATABASE_URL`), as the schema's owner `arrakis_owner`, so every
    /// object they create belongs to a role nobody logs in as. Idempotent; sqlx takes an
    /// advisory lock, so concurrent workers apply each migration once.
    pub async fn migrate(migration_url: &str) -> Result<(), StoreError> {
        let mut conn = PgConnection::connect(migration_url).await?;
        sqlx::query("SET ROLE arrakis_owner").execute(&mut conn).await.map_err(|e| {
            StoreError::Misconfigured(format!(
                "ARRAKIS_MIGRATION_DATABASE_URL cannot act as the schema owner arrakis_owner ({e}): \
                 run migrations/roles/bootstrap.sql as a superuser"
            ))
        })?;
        sqlx::migrate!("../migrations").run(&mut conn).await?;
        conn.close().await?;
        Ok(())
    }

    /// Closes every connection (tests close a template database before copying it).
    pub async fn close(&self) {
        self.app.close().await;
        self.service.close().await;
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.app).await.is_ok()
    }

    /// Opens a transaction pinned to one community: it sees and writes that community's rows
    /// only, and nothing run inside it can move it to another.
    pub async fn tenant(&self, community: CommunityId) -> Result<TenantTx, StoreError> {
        let mut tx = self.app.begin().await?;
        sqlx::query("SELECT arrakis_enter_tenant($1)").bind(community.0).execute(&mut *tx).await?;
        Ok(TenantTx { tx, community })
    }

    /// The community of a guild, if it has one (a short service-role read).
    pub async fn community_of(&self, guild_id: GuildId) -> Result<Option<CommunityId>, StoreError> {
        let mut service = self.service().await?;
        let record = service.community_by_guild(guild_id).await?;
        service.commit().await?;
        Ok(record.map(|r| r.community_id))
    }

    /// Opens a cross-tenant transaction for jobs that must see every community.
    pub async fn service(&self) -> Result<ServiceTx, StoreError> {
        let tx = self.service.begin().await?;
        Ok(ServiceTx { tx })
    }
}

/// Runs as a connection goes back to its pool: nothing one transaction left in the session
/// (settings, prepared statements, cursors, advisory locks, listeners) reaches the next one.
/// sqlx's statement cache is cleared first, so it never names a statement `DISCARD ALL`
/// deallocated. A connection that cannot be reset is closed instead of reused.
async fn reset_session(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    conn.clear_cached_statements().await?;
    sqlx::raw_sql("DISCARD ALL").execute(conn).await?;
    Ok(true)
}

/// A transaction that sees one community's rows and can write only those.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    community: CommunityId,
}

/// A guild's row as the gate reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateRow {
    /// The community.
    pub community: CommunityId,
    /// Its mode.
    pub mode: Mode,
    /// The guild's own freeze is set.
    pub guild_frozen: bool,
    /// The global kill switch's reason, when it is set.
    pub global_freeze: Option<String>,
}

/// A stored manifest version.
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestRecord {
    /// 1, 2, …
    pub version: i32,
    /// SHA-256 hex of the canonical JSON.
    pub checksum: String,
    /// The manifest.
    pub manifest: CommunityManifest,
}

impl ManifestRecord {
    /// A `manifests` row (version, checksum, document) as a record.
    fn from_row((version, checksum, document): (i32, String, serde_json::Value)) -> Result<Self, StoreError> {
        let manifest = serde_json::from_value(document)
            .map_err(|e| StoreError::Corrupt { what: "manifest", detail: e.to_string() })?;
        Ok(Self { version, checksum, manifest })
    }
}

impl TenantTx {
    /// The tenant this transaction is scoped to.
    pub fn community(&self) -> CommunityId {
        self.community
    }

    /// The connection, for queries this module does not wrap; RLS still applies.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }

    /// The newest manifest version, if any.
    pub async fn latest_manifest(&mut self) -> Result<Option<ManifestRecord>, StoreError> {
        let row: Option<(i32, String, serde_json::Value)> =
            sqlx::query_as("SELECT version, checksum, document FROM manifests ORDER BY version DESC LIMIT 1")
                .fetch_optional(&mut *self.tx)
                .await?;
        row.map(ManifestRecord::from_row).transpose()
    }

    /// Stores `manifest` as the next version. The community row is locked for the
    /// transaction, so two publishes never take the same number.
    pub async fn insert_manifest(
        &mut self,
        manifest: &CommunityManifest,
        checksum: &str,
        created_by: &str,
    ) -> Result<i32, StoreError> {
        sqlx::query("SELECT 1 FROM communities WHERE community_id = $1 FOR UPDATE")
            .bind(self.community.0)
            .execute(&mut *self.tx)
            .await?;
        let document = serde_json::to_value(manifest)
            .map_err(|e| StoreError::Corrupt { what: "manifest", detail: e.to_string() })?;
        let (version,): (i32,) = sqlx::query_as(
            "INSERT INTO manifests (community_id, version, document, checksum, created_by)
             SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4 FROM manifests
             RETURNING version",
        )
        .bind(self.community.0)
        .bind(document)
        .bind(checksum)
        .bind(created_by)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(version)
    }

    /// A stored manifest version.
    pub async fn manifest_version(&mut self, version: i32) -> Result<Option<ManifestRecord>, StoreError> {
        let row: Option<(i32, String, serde_json::Value)> =
            sqlx::query_as("SELECT version, checksum, document FROM manifests WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *self.tx)
                .await?;
        row.map(ManifestRecord::from_row).transpose()
    }

    /// Every shadow state of the community.
    pub async fn shadow_states(&mut self) -> Result<Vec<ShadowState>, StoreError> {
        let rows: Vec<(String, String, Option<i64>, String)> = sqlx::query_as(
            "SELECT kind, manifest_key, discord_id, applied_hash FROM shadow_states ORDER BY kind, manifest_key",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(kind, key, discord_id, applied_hash)| ShadowState { kind, key, discord_id, applied_hash })
            .collect())
    }

    /// Records that `key` is now the Discord object `discord_id`, applied at `hash`.
    pub async fn record_shadow_state(
        &mut self,
        kind: &str,
        key: &str,
        discord_id: i64,
        hash: &str,
        version: i32,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO shadow_states (community_id, kind, manifest_key, discord_id, applied_hash, applied_version)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (community_id, kind, manifest_key) DO UPDATE
             SET discord_id = EXCLUDED.discord_id, applied_hash = EXCLUDED.applied_hash,
                 applied_version = EXCLUDED.applied_version, updated_at = now()",
        )
        .bind(self.community.0)
        .bind(kind)
        .bind(key)
        .bind(discord_id)
        .bind(hash)
        .bind(version)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Forgets a manifest item's Discord object (it was deleted on purpose).
    pub async fn forget_shadow_state(&mut self, kind: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM shadow_states WHERE kind = $1 AND manifest_key = $2")
            .bind(kind)
            .bind(key)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Records that a wizard session reached a step (once per session and step).
    pub async fn record_funnel_step(&mut self, session_id: &str, step: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO wizard_funnel (community_id, session_id, step) VALUES ($1, $2, $3)
             ON CONFLICT (community_id, session_id, step) DO NOTHING",
        )
        .bind(self.community.0)
        .bind(session_id)
        .bind(step)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// The wallets `user` linked in this community, sorted.
    pub async fn linked_wallets(&mut self, user: UserId) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT address FROM wallet_links WHERE discord_user_id = $1 ORDER BY address")
                .bind(user.as_i64())
                .fetch_all(&mut *self.tx)
                .await?;
        Ok(rows.into_iter().map(|(a,)| a).collect())
    }

    /// The funnel of this community: how many sessions reached each step.
    pub async fn funnel(&mut self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as("SELECT step, count(*) FROM wizard_funnel GROUP BY step ORDER BY min(reached_at), step")
            .fetch_all(&mut *self.tx)
            .await?)
    }

    /// Appends an audit row.
    pub async fn audit(
        &mut self,
        actor: &str,
        action: &str,
        detail: serde_json::Value,
        workflow_id: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_logs (community_id, actor, action, detail, workflow_id) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(self.community.0)
        .bind(actor)
        .bind(action)
        .bind(detail)
        .bind(workflow_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

/// What Arrakis last applied for one manifest item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowState {
    /// `role`, `category`, `channel` or `overwrite`.
    pub kind: String,
    /// The manifest key.
    pub key: String,
    /// The Discord object it made.
    pub discord_id: Option<i64>,
    /// Hash of the desired state when it was applied.
    pub applied_hash: String,
}

/// A community as the cross-tenant jobs see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommunityRecord {
    /// Tenant id.
    pub community_id: CommunityId,
    /// Its guild.
    pub guild_id: GuildId,
    /// Display name.
    pub name: String,
}

/// A transaction that bypasses row-level security, for cross-tenant jobs only.
pub struct ServiceTx {
    tx: Transaction<'static, Postgres>,
}

impl ServiceTx {
    /// The connection, for queries this module does not wrap.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }

    /// Resolves a guild to its community, creating the community the first time (idempotent:
    /// a retry or a concurrent call returns the same id). Name, theme and mode follow the
    /// manifest: the community's mode is the one source of truth every gate reads, and saving
    /// a manifest is how the operator sets it. Returns the mode the community had before.
    pub async fn ensure_community(
        &mut self,
        manifest: &CommunityManifest,
    ) -> Result<(CommunityId, Option<Mode>), StoreError> {
        // Locked first, in its own statement: a row-locking read inside the upsert would skip
        // the row the upsert itself changes, and report no mode before.
        let before: Option<String> = sqlx::query_scalar("SELECT mode FROM communities WHERE guild_id = $1 FOR UPDATE")
            .bind(manifest.guild_id.as_i64())
            .fetch_optional(&mut *self.tx)
            .await?;
        let (id,): (Uuid,) = sqlx::query_as(
            "INSERT INTO communities (community_id, guild_id, name, theme, mode)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (guild_id) DO UPDATE SET name = EXCLUDED.name, theme = EXCLUDED.theme,
                 mode = EXCLUDED.mode, updated_at = now()
             RETURNING community_id",
        )
        .bind(Uuid::new_v4())
        .bind(manifest.guild_id.as_i64())
        .bind(&manifest.name)
        .bind(serde_json::to_value(manifest.theme).ok().and_then(|v| v.as_str().map(str::to_owned)))
        .bind(manifest.mode.as_str())
        .fetch_one(&mut *self.tx)
        .await?;
        Ok((CommunityId(id), before.as_deref().and_then(Mode::parse)))
    }

    /// What every Discord change is checked against: the guild's community, its mode, and the
    /// freezes in force (the global kill switch's reason, and whether the guild's own is set).
    /// `None`: the guild has no community.
    pub async fn gate_state(&mut self, guild_id: GuildId) -> Result<Option<GateRow>, StoreError> {
        let row: Option<(Uuid, String, bool, Option<String>)> = sqlx::query_as(
            "SELECT c.community_id, c.mode, c.frozen,
                    (SELECT k.reason FROM kill_switch k WHERE k.scope = 'global' AND k.frozen)
             FROM communities c WHERE c.guild_id = $1",
        )
        .bind(guild_id.as_i64())
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|(id, mode, guild_frozen, global_freeze)| {
            let mode = Mode::parse(&mode).ok_or(StoreError::Corrupt { what: "communities.mode", detail: mode })?;
            Ok(GateRow { community: CommunityId(id), mode, guild_frozen, global_freeze })
        })
        .transpose()
    }

    /// Sets or lifts the global kill switch.
    pub async fn set_global_freeze(&mut self, frozen: bool, reason: &str, set_by: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO kill_switch (scope, frozen, reason, set_by) VALUES ('global', $1, $2, $3)
             ON CONFLICT (scope) DO UPDATE SET frozen = EXCLUDED.frozen, reason = EXCLUDED.reason,
             set_by = EXCLUDED.set_by, set_at = now()",
        )
        .bind(frozen)
        .bind(reason)
        .bind(set_by)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Freezes or thaws one community's changes; its community, or `None` when the guild has
    /// none.
    pub async fn set_community_freeze(
        &mut self,
        guild_id: GuildId,
        frozen: bool,
    ) -> Result<Option<CommunityId>, StoreError> {
        let row: Option<(Uuid,)> = sqlx::query_as(
            "UPDATE communities SET frozen = $2, updated_at = now() WHERE guild_id = $1 RETURNING community_id",
        )
        .bind(guild_id.as_i64())
        .bind(frozen)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(row.map(|(id,)| CommunityId(id)))
    }

    /// The community of a guild, created on first contact (the wizard's first step) with a
    /// placeholder name the first saved manifest replaces. Idempotent.
    pub async fn ensure_guild_community(&mut self, guild_id: GuildId) -> Result<CommunityId, StoreError> {
        sqlx::query(
            "INSERT INTO communities (community_id, guild_id, name) VALUES ($1, $2, $3)
             ON CONFLICT (guild_id) DO NOTHING",
        )
        .bind(Uuid::new_v4())
        .bind(guild_id.as_i64())
        .bind(format!("guild {guild_id}"))
        .execute(&mut *self.tx)
        .await?;
        let (id,): (Uuid,) = sqlx::query_as("SELECT community_id FROM communities WHERE guild_id = $1")
            .bind(guild_id.as_i64())
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(CommunityId(id))
    }

    /// The community of a guild, if it has one.
    pub async fn community_by_guild(&mut self, guild_id: GuildId) -> Result<Option<CommunityRecord>, StoreError> {
        let row: Option<(Uuid, i64, String)> =
            sqlx::query_as("SELECT community_id, guild_id, name FROM communities WHERE guild_id = $1")
                .bind(guild_id.as_i64())
                .fetch_optional(&mut *self.tx)
                .await?;
        row.map(|(id, guild, name)| {
            let guild_id = GuildId::new(guild as u64)
                .map_err(|detail| StoreError::Corrupt { what: "communities.guild_id", detail })?;
            Ok(CommunityRecord { community_id: CommunityId(id), guild_id, name })
        })
        .transpose()
    }
}
