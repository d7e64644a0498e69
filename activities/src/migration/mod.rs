//! Migration's activities: check readiness from the shadow tables, derive and save the parallel
//! manifest, record who is moved, change the mode, and undo each step (compensations that can
//! run any number of times). Every Discord change goes through the gate; the decisions
//! (readiness, the parallel manifest, who is moved) are the pure rules of
//! `arrakis_schemas::workflows::migration`.

mod ledger;

pub use ledger::{ActiveMigration, NewMigration};

use crate::failure::{ActivityFailure, FailureKind, storage};
use crate::{
    CommunityId, SaveManifestRequest, Store, StoreError,
    discord::{DiscordFailure, Gate, GateClosed, WriteError, button_row},
    manifest::save_manifest,
};
use arrakis_schemas::{
    ChannelStrategy, CommunityManifest, GuildId, Lenient, Mode,
    plan::ItemKind,
    temporal::{MemberSync, MemberSyncStop},
    workflows::{
        incumbent::{BACKUP_BUTTON, snowflake_ms},
        member_sync::{self, Decision},
        migration::{
            self, Compensate, Compensation, FinishMigration, GatedChannel, MigrationNotice, NoticeButton, Prepare,
            Prepared, ROLE_PREFIX, ROLLBACK_BUTTON, ReadinessReport, ReadinessRequest, RecordRollback, ResumeReconcile,
            SetCohort, SetMode,
        },
        reconcile,
    },
};
use std::{collections::BTreeSet, sync::Arc, time::Duration};
use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowGetResultOptions,
    errors::{WorkflowGetResultError, WorkflowUpdateError},
    schedules::{PauseScheduleOptions, ScheduleError, UnpauseScheduleOptions},
    tonic::Code,
};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use twilight_model::channel::message::component::{ButtonStyle, Component};

/// How far Discord's clock (in a snowflake) may trail ours when rollback tells what the
/// migration made from what was there before it.
const CLOCK_SLACK_MS: u64 = 60_000;

/// View Channel (bit 10): what a gated channel denies @everyone and allows its roles.
const VIEW_CHANNEL: u64 = 1 << 10;

fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Database(sqlx::Error::Database(d)) if d.code().as_deref() == Some("23505"))
}

/// Migration's activities, on the Discord task queue (they read Discord and change it through
/// the gate).
pub struct MigrationActivities {
    store: Store,
    gate: Gate,
    client: Client,
}

impl MigrationActivities {
    /// Activities changing Discord only through `gate`, and stopping member sync through
    /// `client`.
    pub fn new(store: Store, gate: Gate, client: Client) -> Self {
        Self { store, gate, client }
    }

    async fn tenant(&self, guild: GuildId) -> Result<CommunityId, ActivityError> {
        self.store.community_of(guild).await.map_err(storage)?.ok_or_else(|| {
            ActivityFailure::new(FailureKind::UnknownGuild, format!("guild {guild} has no community: set it up first"))
                .into()
        })
    }

    /// The incumbent's gated channels: hidden from @everyone, shown to a role that carries a
    /// manifest role's name (the incumbent's role, as shadow mode maps it). Channels Arrakis
    /// made are not the incumbent's.
    async fn gated_channels(
        &self,
        guild: GuildId,
        manifest: &CommunityManifest,
        ours: &BTreeSet<u64>,
    ) -> Result<Vec<GatedChannel>, ActivityError> {
        let reader = self.gate.reader();
        let roles = reader.roles(guild.get()).await.map_err(DiscordFailure::into_activity_error)?;
        let channels = reader.channels(guild.get()).await.map_err(DiscordFailure::into_activity_error)?;
        let key_of = |role: u64| {
            let name = &roles.iter().find(|r| r.id.get() == role)?.name;
            manifest.roles.iter().find(|r| &r.name == name).map(|r| r.key.clone())
        };
        let mut out = Vec::new();
        for channel in channels.iter().map(crate::discord::actual_channel) {
            let Some(kind) = arrakis_schemas::plan::channel_kind(channel.kind) else { continue };
            if ours.contains(&channel.id) {
                continue;
            }
            let hidden = channel.overwrites.iter().any(|o| o.id == guild.get() && o.deny & VIEW_CHANNEL != 0);
            let role_keys: Vec<String> = channel
                .overwrites
                .iter()
                .filter(|o| o.id != guild.get() && o.allow & VIEW_CHANNEL != 0)
                .filter_map(|o| key_of(o.id))
                .collect();
            if hidden && !role_keys.is_empty() {
                out.push(GatedChannel { name: channel.name.clone(), kind, role_keys });
            }
        }
        Ok(out)
    }

    /// Saves the latest manifest again with `mode` (the mode change is audited with from, to
    /// and who); returns the version.
    async fn save_with_mode(
        &self,
        guild: GuildId,
        mode: Mode,
        actor: &str,
        workflow_id: &str,
    ) -> Result<i32, ActivityError> {
        let community = self.tenant(guild).await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let latest = tx.latest_manifest().await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        let Some(latest) = latest else {
            return Err(ActivityFailure::new(FailureKind::NoManifest, "the community has no manifest").into());
        };
        if latest.manifest.mode == mode {
            return Ok(latest.version);
        }
        let manifest = CommunityManifest { mode, ..latest.manifest };
        manifest.validate().map_err(|e| {
            ActivityFailure::new(FailureKind::InvalidManifest, format!("manifest in {} mode: {e}", mode.as_str()))
        })?;
        let request = SaveManifestRequest { manifest, actor: actor.to_string(), workflow_id: workflow_id.to_string() };
        Ok(save_manifest(&self.store, &request).await.map_err(storage)?.version)
    }

    /// Deletes the roles and channels the migration made (every object not on record before
    /// it), channels first; an object already gone is forgotten, a role whose name no longer
    /// starts with `arrakis-` is left and reported.
    async fn remove_objects(&self, input: &Compensate, ctx: &ActivityContext) -> Result<String, ActivityError> {
        let community = self.tenant(input.guild_id).await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let Some(before) = tx.kept_objects(&input.migration_id).await.map_err(storage)? else {
            // Without the record of what existed before, everything would look added.
            return Err(ActivityFailure::new(
                FailureKind::MigrationNotRecorded,
                format!("migration {} is not on record: nothing is removed without it", input.migration_id),
            )
            .into());
        };
        let kept: BTreeSet<(String, String)> = before.objects.into_iter().collect();
        let states = tx.shadow_states().await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        let mut older = 0u32;
        let mut added: Vec<(ItemKind, String, u64)> = Vec::new();
        for s in states.iter().filter(|s| !kept.contains(&(s.kind.clone(), s.key.clone()))) {
            let (Some(kind), Some(id)) = (ItemKind::parse(&s.kind), s.discord_id) else { continue };
            // An object Discord made before the migration began (one synthesis adopted by
            // name) is the operator's: it stays. The slack covers the clocks' difference.
            if snowflake_ms(id as u64) + CLOCK_SLACK_MS < before.started_at_ms {
                older += 1;
                continue;
            }
            added.push((kind, s.key.clone(), id as u64));
        }
        if added.is_empty() {
            return Ok(if older == 0 {
                "nothing Arrakis added is left".into()
            } else {
                format!("nothing Arrakis added is left; kept {older} object(s) older than the migration")
            });
        }
        // Channels before their categories, roles last (a role's overwrites go with it).
        let rank = |k: ItemKind| match k {
            ItemKind::Channel => 0,
            ItemKind::Category => 1,
            ItemKind::Role => 2,
        };
        added.sort_by_key(|(kind, key, _)| (rank(*kind), key.clone()));
        let writer = match self.gate.open(input.guild_id, format!("rollback ({})", input.reason)).await {
            Ok(writer) => writer,
            Err(GateClosed::Shadow) => {
                return Err(ActivityFailure::new(FailureKind::GateClosed, "the community is in shadow mode already: nothing can be removed (set parallel mode and run the rollback again)").into());
            }
            Err(e) => return Err(e.into_activity_error()),
        };
        // What exists now: an object someone already deleted is only forgotten, never sent a
        // DELETE whose answer (404) is known, and which counts toward Discord's invalid requests.
        let reader = self.gate.reader();
        let names = reader.roles(input.guild_id.get()).await.map_err(DiscordFailure::into_activity_error)?;
        let present: BTreeSet<u64> = reader
            .channels(input.guild_id.get())
            .await
            .map_err(DiscordFailure::into_activity_error)?
            .iter()
            .map(|c| c.id.get())
            .collect();
        let (mut roles, mut channels, mut left) = (Vec::new(), 0u32, Vec::new());
        for (kind, key, id) in added {
            let what = format!("remove {} {key} (migration rolled back)", kind.as_str());
            let result = match kind {
                ItemKind::Role => match names.iter().find(|r| r.id.get() == id).map(|r| r.name.clone()) {
                    None => Ok(()),
                    Some(name) if !name.starts_with(ROLE_PREFIX) => {
                        left.push(format!("@{name}"));
                        continue;
                    }
                    Some(_) => writer.delete_role(id, &what).await,
                },
                ItemKind::Category | ItemKind::Channel if !present.contains(&id) => Ok(()),
                ItemKind::Category | ItemKind::Channel => writer.delete_channel(id, &what).await,
            };
            match result {
                Ok(()) | Err(WriteError::Discord(DiscordFailure::NotFound { .. })) => {}
                Err(e) => return Err(e.into_activity_error()),
            }
            let mut tx = self.store.tenant(community).await.map_err(storage)?;
            tx.forget_shadow_state(kind.as_str(), &key).await.map_err(storage)?;
            if kind == ItemKind::Role {
                tx.forget_roles(&[id as i64]).await.map_err(storage)?;
                roles.push(id);
            } else {
                channels += 1;
            }
            tx.commit().await.map_err(storage)?;
            let _ = ctx.record_heartbeat(key).await;
        }
        let mut done = format!(
            "deleted {} role(s) (each leaves every member in one request) and {channels} channel(s)",
            roles.len()
        );
        if !left.is_empty() {
            done.push_str(&format!("; left {} (renamed without the arrakis- prefix)", left.join(", ")));
        }
        if older > 0 {
            done.push_str(&format!("; kept {older} object(s) older than the migration"));
        }
        Ok(done)
    }

    /// Stops member sync and waits (up to a minute) for its run to end, so no write of it
    /// lands after the roles go.
    /// Pauses (`hold`) or resumes the guild's reconcile schedule; a guild without one has
    /// nothing to hold.
    async fn hold_reconcile(&self, guild: GuildId, hold: bool, migration_id: &str) -> Result<String, ActivityError> {
        let id = reconcile::schedule_id(guild);
        let handle = self.client.get_schedule_handle(id.clone());
        let result = if hold {
            handle.pause(Some(format!("held by the rollback of {migration_id}")), PauseScheduleOptions::default()).await
        } else {
            handle
                .unpause(Some(format!("the rollback of {migration_id} ended")), UnpauseScheduleOptions::default())
                .await
        };
        match result {
            Ok(()) if hold => Ok(format!("paused {id}")),
            Ok(()) => Ok(format!("resumed {id}")),
            Err(ScheduleError::Rpc(status)) if status.code() == Code::NotFound => Ok(format!("no schedule {id}")),
            Err(e) => {
                let what = if hold { "pausing" } else { "resuming" };
                Err(ActivityFailure::new(FailureKind::TemporalUnavailable, format!("{what} {id}: {e}")).into())
            }
        }
    }

    async fn stop_member_sync(&self, input: &Compensate, ctx: &ActivityContext) -> Result<String, ActivityError> {
        let id = member_sync::workflow_id(input.guild_id);
        let handle = self.client.get_workflow_handle::<MemberSync>(id.clone());
        let decision =
            Lenient::new(&Decision { actor: input.actor.clone(), reason: input.reason.clone(), batch: None });
        let options =
            WorkflowExecuteUpdateOptions::builder().update_id(format!("rollback-{}", input.migration_id)).build();
        match handle.execute_update(MemberSyncStop, decision, options).await {
            Ok(_) => {}
            Err(WorkflowUpdateError::NotFound(_)) => return Ok(format!("member sync {id} was not running")),
            // The validator refuses a sync already stopping: the stop this waits for.
            Err(WorkflowUpdateError::Failed(_)) => {}
            Err(e) => {
                return Err(
                    ActivityFailure::new(FailureKind::TemporalUnavailable, format!("stopping {id}: {e}")).into()
                );
            }
        }
        let _ = ctx.record_heartbeat("stop sent").await;
        // Heartbeats while waiting, so the wait is not mistaken for a lost worker.
        let result = handle.get_result(WorkflowGetResultOptions::default());
        let deadline = tokio::time::sleep(Duration::from_secs(60));
        tokio::pin!(result, deadline);
        let mut beat = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                ended = &mut result => return match ended {
                    Ok(_) | Err(WorkflowGetResultError::NotFound(_)) => Ok(format!("stopped member sync {id}")),
                    Err(e) => Ok(format!("stopped member sync {id} ({e})")),
                },
                _ = &mut deadline => {
                    return Err(ActivityFailure::new(FailureKind::MemberSyncRunning, format!("{id} did not end within a minute of its stop")).into());
                }
                _ = beat.tick() => { let _ = ctx.record_heartbeat("waiting for member sync to end").await; }
            }
        }
    }
}

#[activities]
impl MigrationActivities {
    /// Readiness from the shadow tables: days in shadow mode beside an incumbent, and the
    /// accuracy of the predictions validated in the last 30 days.
    #[activity(name = "migration.readiness")]
    pub async fn readiness(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ReadinessRequest,
    ) -> Result<ReadinessReport, ActivityError> {
        let community = self.tenant(input.guild_id).await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let standing = tx.shadow_standing().await.map_err(storage)?;
        let (accuracy, validated) = tx.accuracy().await.map_err(storage)?;
        let latest = tx.latest_manifest().await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        let days = standing.shadow_since.map(|since| (chrono::Utc::now() - since).num_days().max(0) as u64);
        let mut readiness = migration::readiness(days, accuracy, validated);
        if standing.incumbent.is_none() {
            readiness.reasons.insert(0, "no incumbent bot is on record (`/arrakis incumbent` names one)".into());
            readiness.ready = false;
        }
        Ok(ReadinessReport { readiness, mode: standing.mode, version: latest.map(|l| l.version) })
    }

    /// Derives the parallel manifest from the latest (roles named `arrakis-…` without
    /// permissions, the channels of the strategy), saves it (the community is then in parallel
    /// mode, audited), and records the migration with what existed before it. A retry returns
    /// what the first call did.
    #[activity(name = "migration.prepare")]
    pub async fn prepare(self: Arc<Self>, _ctx: ActivityContext, input: Prepare) -> Result<Prepared, ActivityError> {
        let community = self.tenant(input.guild_id).await?;
        let workflow_id = migration::workflow_id(input.guild_id);
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let before = tx.prepared(&input.migration_id).await.map_err(storage)?;
        let latest = tx.latest_manifest().await.map_err(storage)?;
        let states = tx.shadow_states().await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        let (from_mode, base) = match before {
            // A retry: derive from the version the first call started from.
            Some((from_mode, previous, _)) => {
                let mut tx = self.store.tenant(community).await.map_err(storage)?;
                let base = tx.manifest_version(previous).await.map_err(storage)?;
                tx.commit().await.map_err(storage)?;
                (from_mode, base)
            }
            None => {
                let mode = self.gate.state(input.guild_id).await.map_err(GateClosed::into_activity_error)?.mode;
                (mode, latest)
            }
        };
        let Some(base) = base else {
            return Err(ActivityFailure::new(
                FailureKind::NoManifest,
                "the community has no manifest: set it up with `/arrakis setup` first",
            )
            .into());
        };
        if matches!(from_mode, Mode::Primary | Mode::Exclusive) {
            return Err(ActivityFailure::new(
                FailureKind::AlreadyMigrated,
                format!("the community is in {} mode already: there is nothing to migrate", from_mode.as_str()),
            )
            .into());
        }
        let ours: BTreeSet<u64> = states.iter().filter_map(|s| s.discord_id.map(|id| id as u64)).collect();
        let gated = if input.channels == ChannelStrategy::ParallelMirror {
            self.gated_channels(input.guild_id, &base.manifest, &ours).await?
        } else {
            Vec::new()
        };
        let (parallel, creates) = migration::parallel_manifest(&base.manifest, input.channels, &gated);
        parallel.validate().map_err(|e| {
            ActivityFailure::new(FailureKind::InvalidManifest, format!("the parallel manifest is invalid: {e}"))
        })?;
        let kept: Vec<(String, String)> = states.iter().map(|s| (s.kind.clone(), s.key.clone())).collect();
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let row = NewMigration {
            migration_id: &input.migration_id,
            workflow_id: &workflow_id,
            strategy: input.strategy,
            from_mode,
            previous_version: base.version,
            cohort: &input.cohort,
            kept_objects: &kept,
            forced_reason: input.forced.as_ref().map(|f| f.reason.as_str()),
            started_by: &input.actor,
        };
        match tx.insert_migration(&row).await {
            Ok(()) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(ActivityFailure::new(
                    FailureKind::MigrationUnderWay,
                    "another migration of this community is under way",
                )
                .into());
            }
            Err(e) => return Err(storage(e)),
        }
        if let Some(forced) = &input.forced {
            let detail = serde_json::json!({"migration_id": input.migration_id, "reason": forced.reason});
            tx.audit(&input.actor, "migration.readiness_overridden", detail, Some(&workflow_id))
                .await
                .map_err(storage)?;
        }
        let detail = serde_json::json!({"migration_id": input.migration_id, "strategy": input.strategy,
            "channels": input.channels, "from_mode": from_mode.as_str(), "creates": creates});
        tx.audit(&input.actor, "migration.started", detail, Some(&workflow_id)).await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        let request =
            SaveManifestRequest { manifest: parallel, actor: input.actor.clone(), workflow_id: workflow_id.clone() };
        let saved = save_manifest(&self.store, &request).await.map_err(storage)?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.set_parallel_version(&input.migration_id, saved.version).await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(Prepared {
            community_id: community,
            previous_version: base.version,
            previous_mode: from_mode,
            version: saved.version,
            creates,
        })
    }

    /// Records who is moved so far (member sync grants only them) and the stage.
    #[activity(name = "migration.cohort")]
    pub async fn cohort(self: Arc<Self>, _ctx: ActivityContext, input: SetCohort) -> Result<(), ActivityError> {
        let community = self.tenant(input.guild_id).await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.set_cohort(&input.migration_id, input.cohort.as_ref(), input.stage).await.map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    /// Puts the community in `mode` (a new manifest version with it; audited from → to, by
    /// whom); returns the version.
    #[activity(name = "migration.set_mode")]
    pub async fn set_mode(self: Arc<Self>, _ctx: ActivityContext, input: SetMode) -> Result<i32, ActivityError> {
        let workflow_id = migration::workflow_id(input.guild_id);
        self.save_with_mode(input.guild_id, input.mode, &input.actor, &workflow_id).await
    }

    /// Undoes one step; running it again changes nothing more. Returns what it did.
    #[activity(name = "migration.compensate")]
    pub async fn compensate(self: Arc<Self>, ctx: ActivityContext, input: Compensate) -> Result<String, ActivityError> {
        let workflow_id = migration::workflow_id(input.guild_id);
        match &input.compensation {
            Compensation::RestoreManifest { version } => {
                let community = self.tenant(input.guild_id).await?;
                let mut tx = self.store.tenant(community).await.map_err(storage)?;
                let record = tx.manifest_version(*version).await.map_err(storage)?;
                tx.commit().await.map_err(storage)?;
                let Some(record) = record else {
                    return Err(ActivityFailure::new(
                        FailureKind::UnknownVersion,
                        format!("manifest version {version} does not exist"),
                    )
                    .into());
                };
                let mode = record.manifest.mode;
                let request =
                    SaveManifestRequest { manifest: record.manifest, actor: input.actor.clone(), workflow_id };
                let saved = save_manifest(&self.store, &request).await.map_err(storage)?;
                Ok(format!("restored manifest v{version} as v{} ({} mode)", saved.version, mode.as_str()))
            }
            Compensation::RemoveArrakisObjects => self.remove_objects(&input, &ctx).await,
            Compensation::StopMemberSync => self.stop_member_sync(&input, &ctx).await,
            Compensation::HoldReconcile => self.hold_reconcile(input.guild_id, true, &input.migration_id).await,
            Compensation::RestoreMode { mode } => {
                let version = self.save_with_mode(input.guild_id, *mode, &input.actor, &workflow_id).await?;
                Ok(format!("{} mode again (manifest v{version})", mode.as_str()))
            }
        }
    }

    /// Resumes the reconcile schedule a rollback held ([`Compensation::HoldReconcile`]), once
    /// the manifest it reconciles to is the restored one.
    #[activity(name = "migration.resume_reconcile")]
    pub async fn resume_reconcile(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ResumeReconcile,
    ) -> Result<String, ActivityError> {
        self.hold_reconcile(input.guild_id, false, &input.migration_id).await
    }

    /// Closes the migration (completed, rolled back, not ready): member sync stops counting
    /// anyone as moved or not.
    #[activity(name = "migration.finish")]
    pub async fn finish(self: Arc<Self>, _ctx: ActivityContext, input: FinishMigration) -> Result<(), ActivityError> {
        let community = self.tenant(input.guild_id).await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.finish_migration(&input.migration_id, input.stage).await.map_err(storage)?;
        let detail = serde_json::json!({"migration_id": input.migration_id, "stage": input.stage.as_str()});
        let workflow_id = migration::workflow_id(input.guild_id);
        tx.audit("arrakis:migration", "migration.finished", detail, Some(&workflow_id)).await.map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    /// Writes the rollback to `rollback_events` (again as its steps complete) and, once it is
    /// finished, an audit row.
    #[activity(name = "migration.record_rollback")]
    pub async fn record_rollback(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: RecordRollback,
    ) -> Result<(), ActivityError> {
        let community = self.tenant(input.guild_id).await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.record_rollback(&input.migration_id, &input.rollback).await.map_err(storage)?;
        let r = &input.rollback;
        let detail = serde_json::json!({"migration_id": input.migration_id, "reason": r.reason, "automatic": r.automatic,
            "steps": r.steps});
        let workflow_id = migration::workflow_id(input.guild_id);
        tx.audit(&r.by, &input.audit_action(), detail, Some(&workflow_id)).await.map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    /// Tells the operator in the manifest's operator channel, with the button asked for;
    /// `false` when the manifest names no channel.
    #[activity(name = "migration.notify")]
    pub async fn notify(self: Arc<Self>, _ctx: ActivityContext, input: MigrationNotice) -> Result<bool, ActivityError> {
        let community = self.tenant(input.guild_id).await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let channel = tx.latest_manifest().await.map_err(storage)?.and_then(|r| r.manifest.operator_channel_id);
        tx.commit().await.map_err(storage)?;
        let Some(channel) = channel else { return Ok(false) };
        let buttons = match input.button {
            None => Vec::new(),
            Some(NoticeButton::Rollback) => vec![(ROLLBACK_BUTTON.to_string(), "Rollback", ButtonStyle::Danger)],
            Some(NoticeButton::ActivateBackup) => {
                vec![(BACKUP_BUTTON.to_string(), "Activate Arrakis as backup", ButtonStyle::Primary)]
            }
        };
        let rows: Vec<Component> = if buttons.is_empty() { Vec::new() } else { vec![button_row(&buttons)] };
        self.gate
            .messenger()
            .post(input.guild_id, channel.get(), &input.text, &rows)
            .await
            .map_err(DiscordFailure::into_activity_error)?;
        Ok(true)
    }
}
