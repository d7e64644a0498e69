//! A migration's Postgres state, through the tenant transaction (RLS applies): the `migrations`
//! row (who is moved, what existed before), its `rollback_events` row, and the incumbent's
//! health on the community.

use crate::{StoreError, TenantTx};
use arrakis_schemas::{
    Mode,
    workflows::{
        incumbent::{HealthLevel, IncumbentHealth},
        migration::{Cohort, MigrationStage, MigrationStrategy, RollbackInfo},
    },
};

/// A new `migrations` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMigration<'a> {
    /// This migration (its first run's id).
    pub migration_id: &'a str,
    /// Its workflow ID.
    pub workflow_id: &'a str,
    /// How members move over.
    pub strategy: MigrationStrategy,
    /// The mode before.
    pub from_mode: Mode,
    /// The manifest version before (what rollback restores).
    pub previous_version: i32,
    /// Who is moved at first.
    pub cohort: &'a Cohort,
    /// `(kind, key)` of every object Arrakis had made before: rollback leaves them.
    pub kept_objects: &'a [(String, String)],
    /// The override of the readiness checks, if any.
    pub forced_reason: Option<&'a str>,
    /// Who asked.
    pub started_by: &'a str,
}

/// What existed before a migration (kind, key) and when it began: rollback removes only
/// objects outside the first and made after the second.
pub struct KeptObjects {
    pub objects: Vec<(String, String)>,
    pub started_at_ms: u64,
}

/// The active migration as member sync reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveMigration {
    /// Its workflow ID (member sync reports to it).
    pub workflow_id: String,
    /// Who is moved so far.
    pub cohort: Option<Cohort>,
}

impl TenantTx {
    /// Records a migration's start; a retry finds the row there and changes nothing. Refused
    /// (unique violation) while another migration of the community is under way.
    pub async fn insert_migration(&mut self, m: &NewMigration<'_>) -> Result<(), StoreError> {
        let kept: Vec<serde_json::Value> =
            m.kept_objects.iter().map(|(kind, key)| serde_json::json!({"kind": kind, "key": key})).collect();
        sqlx::query(
            "INSERT INTO migrations (community_id, migration_id, workflow_id, strategy, stage, from_mode,
                 previous_version, cohort, kept_objects, forced_reason, started_by)
             VALUES ($1, $2, $3, $4, 'preparing', $5, $6, $7, $8, $9, $10)
             ON CONFLICT (community_id, migration_id) DO NOTHING",
        )
        .bind(self.community().0)
        .bind(m.migration_id)
        .bind(m.workflow_id)
        .bind(m.strategy.as_str())
        .bind(m.from_mode.as_str())
        .bind(m.previous_version)
        .bind(serde_json::json!(m.cohort))
        .bind(serde_json::Value::Array(kept))
        .bind(m.forced_reason)
        .bind(m.started_by)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// What a retried prepare already did: the parallel version, if it saved one.
    pub async fn prepared(&mut self, migration_id: &str) -> Result<Option<(Mode, i32, Option<i32>)>, StoreError> {
        let row: Option<(String, i32, Option<i32>)> = sqlx::query_as(
            "SELECT from_mode, previous_version, parallel_version FROM migrations WHERE migration_id = $1",
        )
        .bind(migration_id)
        .fetch_optional(self.conn())
        .await?;
        row.map(|(mode, previous, parallel)| {
            let mode = Mode::parse(&mode).ok_or(StoreError::Corrupt { what: "migrations.from_mode", detail: mode })?;
            Ok((mode, previous, parallel))
        })
        .transpose()
    }

    /// Records the parallel manifest's version.
    pub async fn set_parallel_version(&mut self, migration_id: &str, version: i32) -> Result<(), StoreError> {
        sqlx::query("UPDATE migrations SET parallel_version = $2, updated_at = now() WHERE migration_id = $1")
            .bind(migration_id)
            .bind(version)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Who is moved so far, and the stage.
    pub async fn set_cohort(
        &mut self,
        migration_id: &str,
        cohort: Option<&Cohort>,
        stage: MigrationStage,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE migrations SET cohort = $2, stage = $3, updated_at = now() WHERE migration_id = $1")
            .bind(migration_id)
            .bind(cohort.map(|c| serde_json::json!(c)))
            .bind(stage.as_str())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Closes the migration in `stage` (the first close wins).
    pub async fn finish_migration(&mut self, migration_id: &str, stage: MigrationStage) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE migrations SET stage = $2, cohort = NULL, finished_at = coalesce(finished_at, now()), updated_at = now()
             WHERE migration_id = $1",
        )
        .bind(migration_id)
        .bind(stage.as_str())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The migration under way, if any.
    pub async fn active_migration(&mut self) -> Result<Option<ActiveMigration>, StoreError> {
        let row: Option<(String, Option<serde_json::Value>)> =
            sqlx::query_as("SELECT workflow_id, cohort FROM migrations WHERE finished_at IS NULL")
                .fetch_optional(self.conn())
                .await?;
        row.map(|(workflow_id, cohort)| {
            let cohort = cohort
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| StoreError::Corrupt { what: "migrations.cohort", detail: e.to_string() })?;
            Ok(ActiveMigration { workflow_id, cohort })
        })
        .transpose()
    }

    /// What Arrakis had made before the migration, and when it began (`None`: no such
    /// migration on record).
    pub async fn kept_objects(&mut self, migration_id: &str) -> Result<Option<KeptObjects>, StoreError> {
        let row: Option<(serde_json::Value, chrono::DateTime<chrono::Utc>)> =
            sqlx::query_as("SELECT kept_objects, started_at FROM migrations WHERE migration_id = $1")
                .bind(migration_id)
                .fetch_optional(self.conn())
                .await?;
        let Some((kept, started_at)) = row else { return Ok(None) };
        let objects = kept
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| Some((o["kind"].as_str()?.to_string(), o["key"].as_str()?.to_string())))
            .collect();
        Ok(Some(KeptObjects { objects, started_at_ms: started_at.timestamp_millis().max(0) as u64 }))
    }

    /// True while a migration's rollback is under way (begun within the day, not finished):
    /// reconciliation then leaves the guild alone, since the manifest it would restore is the
    /// one the rollback is replacing.
    pub async fn rollback_under_way(&mut self) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM rollback_events
                            WHERE finished_at IS NULL AND started_at > now() - interval '1 day')",
        )
        .fetch_one(self.conn())
        .await?)
    }

    /// Records (or updates, as its steps complete) a migration's rollback; nothing for a
    /// migration never recorded (a prepare that failed before its first write).
    pub async fn record_rollback(&mut self, migration_id: &str, r: &RollbackInfo) -> Result<(), StoreError> {
        let at = |ms: u64| chrono::DateTime::from_timestamp_millis(ms as i64);
        sqlx::query(
            "INSERT INTO rollback_events (community_id, migration_id, reason, actor, automatic, steps, started_at, finished_at)
             SELECT $1, $2, $3, $4, $5, $6, coalesce($7, now()), $8
             WHERE EXISTS (SELECT 1 FROM migrations WHERE community_id = $1 AND migration_id = $2)
             ON CONFLICT (community_id, migration_id) DO UPDATE
             SET steps = EXCLUDED.steps, finished_at = coalesce(rollback_events.finished_at, EXCLUDED.finished_at)",
        )
        .bind(self.community().0)
        .bind(migration_id)
        .bind(&r.reason)
        .bind(&r.by)
        .bind(r.automatic)
        .bind(serde_json::json!(r.steps))
        .bind(at(r.started_at_ms))
        .bind(r.finished_at_ms.and_then(at))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The incumbent's health as last checked, and the worst level the operator was told of.
    pub async fn incumbent_health(&mut self) -> Result<(Option<IncumbentHealth>, Option<HealthLevel>), StoreError> {
        let row: Option<(Option<serde_json::Value>, Option<String>)> =
            sqlx::query_as("SELECT incumbent_health, incumbent_health_notified FROM communities")
                .fetch_optional(self.conn())
                .await?;
        let Some((health, notified)) = row else { return Ok((None, None)) };
        let notified = match notified.as_deref() {
            Some("alert") => Some(HealthLevel::Alert),
            Some("critical") => Some(HealthLevel::Critical),
            _ => None,
        };
        Ok((health.and_then(|h| serde_json::from_value(h).ok()), notified))
    }

    /// Records that the operator was told of `level` (an alert or worse): the next check tells
    /// them again only when it is worse.
    pub async fn record_health_notified(&mut self, level: HealthLevel) -> Result<(), StoreError> {
        if level < HealthLevel::Alert {
            return Ok(());
        }
        sqlx::query("UPDATE communities SET incumbent_health_notified = $1, updated_at = now()")
            .bind(level.as_str())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Records a health check; `notified` is the level the operator is told of now (kept when
    /// `None` and the incumbent is still unwell, cleared once it is healthy).
    pub async fn record_health(
        &mut self,
        health: &IncumbentHealth,
        notified: Option<HealthLevel>,
    ) -> Result<(), StoreError> {
        let notified = notified.filter(|l| *l >= HealthLevel::Alert).map(HealthLevel::as_str);
        sqlx::query(
            "UPDATE communities SET incumbent_health = $1,
                 incumbent_health_notified = CASE WHEN $2 = 'healthy' THEN NULL ELSE coalesce($3, incumbent_health_notified) END,
                 updated_at = now()",
        )
        .bind(serde_json::json!(health))
        .bind(health.level.as_str())
        .bind(notified)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
