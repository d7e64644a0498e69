//! Migration (`migration-{guild_id}`): from the incumbent bot to Arrakis, as a saga.
//!
//! Readiness (the shadow tables), then the parallel manifest (`arrakis-*` roles without
//! permissions or colour, below every other role), member sync on it, members moved over (at
//! once, or in batches on durable timers with pause and resume), and the lead for strategies
//! that take it.
//! Every step registers its compensation before it runs; a rollback (the `rollback` update,
//! or by itself when member sync reports too many members losing access or too many Discord
//! errors) runs them in reverse, each until it succeeds. The state rides in the input across
//! continue-as-new, so a gradual migration over weeks keeps a short history.

use crate::{GUILD_ID_ATTR, KIND_ATTR, MODE_ATTR, retry, time_ms};
use arrakis_activities::{WizardActivities, migration::MigrationActivities};
use arrakis_schemas::{
    ChannelStrategy, GuildId, Lenient, Mode,
    temporal::ManifestPublishedSignal,
    workflows::{
        member_sync::{Decision, EnsureSync},
        migration::{
            self, AccessReport, Cohort, Compensate, Compensation, FinishMigration, KIND, MigrationCarried,
            MigrationInput, MigrationNotice, MigrationStage, MigrationStatus, MigrationStrategy, NoticeButton, Prepare,
            ReadinessRequest, RecordRollback, Reported, ResumeReconcile, RollbackInfo, RollbackRequest,
            RollbackThresholds, SetCohort, SetMode, prune, rollback_trigger, sum_reports,
        },
        synthesis::{self, RemovalChoice, SynthesisInput, SynthesisOutcome},
        wizard::ReconcileSchedule,
    },
};
use futures::future::FusedFuture;
use std::time::Duration;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    CancellableFuture, ChildWorkflowOptions, ContinueAsNewOptions, SyncWorkflowContext, WorkflowContext,
    WorkflowContextView, WorkflowResult,
};

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Events per run before continuing as new.
const HISTORY_BUDGET: u32 = 4_000;
/// The patch under which "complete" waits for member sync's word that every role is written.
const COMPLETE_AFTER_WRITTEN: &str = "migration-complete-after-written";
/// The patch under which a rollback holds the reconcile schedule.
const HOLDS_RECONCILE: &str = "migration-holds-reconcile";
/// The actor of a rollback a threshold started.
const AUTOMATIC: &str = "automatic";

/// Preparation steps, in order (`MigrationCarried::steps_done` counts them).
const STEP_MANIFEST: u32 = 1;
const STEP_DEPLOY: u32 = 2;
const STEP_MEMBER_SYNC: u32 = 3;
const STEP_LEAD: u32 = 4;

/// One guild's migration.
#[workflow]
pub struct MigrationWorkflow {
    input: Lenient<MigrationInput>,
    /// This run was started by continue-as-new (only then may the input carry state).
    continued: bool,
    guild: Option<GuildId>,
    strategy: Option<MigrationStrategy>,
    thresholds: RollbackThresholds,
    carried: MigrationCarried,
    /// Bumped by every signal and update: waits wake on it.
    wake: u64,
    /// The migration is being recorded as complete: no rollback can start any more.
    closing: bool,
}

impl MigrationWorkflow {
    fn now_ms(ctx: &WorkflowContext<Self>) -> u64 {
        time_ms(ctx.workflow_time())
    }

    fn stage(&self) -> MigrationStage {
        self.carried.status.stage
    }

    /// Whether a rollback may start now: the stage allows one and the migration is not being
    /// recorded as complete.
    fn may_roll_back(&self) -> bool {
        self.stage().can_roll_back() && !self.closing
    }

    /// Moves to `stage`, unless a rollback began meanwhile (a signal or update between two
    /// steps): a rollback is never overtaken.
    fn advance(&mut self, stage: MigrationStage) {
        if !matches!(self.stage(), MigrationStage::RollingBack | MigrationStage::RolledBack) {
            self.carried.status.stage = stage;
        }
    }

    /// Starts a rollback now (the caller checked one may start).
    fn begin_rollback(&mut self, reason: String, by: String, automatic: bool, now_ms: u64) {
        self.carried.status.stage = MigrationStage::RollingBack;
        self.carried.status.paused = false;
        self.carried.status.rollback = Some(RollbackInfo {
            reason,
            by,
            automatic,
            started_at_ms: now_ms,
            finished_at_ms: None,
            steps: Vec::new(),
        });
        self.wake += 1;
    }

    /// The status as the query shows it: the window counts and the estimated members moved.
    fn refresh(&mut self, now_ms: u64) {
        let t = &self.thresholds;
        let within =
            |secs: u64| self.carried.reports.iter().filter(move |r| r.at_ms.saturating_add(secs * 1000) >= now_ms);
        let lost = sum_reports(within(t.access_window_secs), |r| r.lost);
        let failed = sum_reports(within(t.error_window_secs), |r| r.failed);
        let members = self.carried.reports.iter().map(|r| r.report.members).max().unwrap_or(0);
        let s = &mut self.carried.status;
        s.lost_in_window = lost;
        s.failed_in_window = failed;
        let batches = u64::from(s.batches.max(1));
        s.members_moved = members.saturating_mul(u64::from(s.moved_batches)) / batches;
        s.members_remaining = members.saturating_sub(s.members_moved);
    }

    /// Registers a compensation before its step runs.
    fn register(ctx: &WorkflowContext<Self>, compensation: Compensation) {
        ctx.state_mut(|s| {
            if !s.carried.status.compensations.contains(&compensation) {
                s.carried.status.compensations.push(compensation);
            }
        });
    }

    fn rolling_back(ctx: &WorkflowContext<Self>) -> bool {
        ctx.state(|s| s.stage() == MigrationStage::RollingBack)
    }

    /// A step that failed for good: the migration rolls itself back.
    fn step_failed(ctx: &WorkflowContext<Self>, what: &str, why: impl std::fmt::Display) {
        let now = Self::now_ms(ctx);
        ctx.state_mut(|s| {
            if s.may_roll_back() {
                s.begin_rollback(format!("{what} failed: {why}"), AUTOMATIC.into(), true, now);
            }
        });
    }

    async fn notify(
        ctx: &WorkflowContext<Self>,
        guild_id: GuildId,
        queue: &str,
        text: String,
        button: Option<NoticeButton>,
    ) {
        let notice = MigrationNotice { guild_id, text, button };
        // The migration goes on whether or not the operator's channel takes the message.
        let _ = ctx.execute_activity(MigrationActivities::notify, notice, retry::discord(queue)).await;
    }

    fn set_mode_attr(ctx: &WorkflowContext<Self>, mode: Mode) {
        ctx.state_mut(|s| s.carried.status.mode = Some(mode));
        ctx.upsert_search_attributes([MODE_ATTR.value_set(mode.as_str().to_string())]);
    }

    /// Readiness: at least 14 days in shadow and 95 % accuracy, or an audited override.
    async fn check_readiness(ctx: &WorkflowContext<Self>, input: &MigrationInput, queue: &str) -> WorkflowResult<()> {
        let report = ctx
            .execute_activity(
                MigrationActivities::readiness,
                ReadinessRequest { guild_id: input.guild_id },
                retry::discord(queue),
            )
            .await?;
        let forced = input.force.clone();
        let hard = if report.version.is_none() {
            Some("the community has no manifest: set it up with `/arrakis setup` first".to_string())
        } else if matches!(report.mode, Some(Mode::Primary | Mode::Exclusive)) {
            Some(format!("the community is in {} mode already", report.mode.map_or("", |m| m.as_str())))
        } else {
            None
        };
        let ready = hard.is_none() && (report.readiness.ready || forced.is_some());
        ctx.state_mut(|s| {
            let st = &mut s.carried.status;
            st.readiness = Some(report.readiness.clone());
            st.from_mode = report.mode;
            st.mode = report.mode;
            if let (Some(why), Some(r)) = (&hard, st.readiness.as_mut()) {
                r.ready = false;
                r.reasons.insert(0, why.clone());
            }
            if ready {
                st.forced = if report.readiness.ready { None } else { forced.clone() };
                // What rollback restores, registered before anything changes.
                if let Some(version) = report.version {
                    st.compensations.push(Compensation::RestoreManifest { version });
                }
            }
        });
        if ready {
            ctx.state_mut(|s| s.advance(MigrationStage::Preparing));
            return Ok(());
        }
        ctx.state_mut(|s| s.advance(MigrationStage::NotReady));
        let reasons =
            ctx.state(|s| s.carried.status.readiness.as_ref().map(|r| r.reasons.join("; ")).unwrap_or_default());
        let text = format!(
            "**Migration not started**: Arrakis is not ready to take over yet ({reasons}). Nothing was changed. \
             Keep shadow mode running, or start it again with an override and a reason (audited)."
        );
        Self::notify(ctx, input.guild_id, queue, text, None).await;
        Ok(())
    }

    /// The preparation's steps after the last one done; each registers its compensation first.
    async fn prepare(ctx: &WorkflowContext<Self>, input: &MigrationInput, queue: &str) -> WorkflowResult<()> {
        let guild_id = input.guild_id;
        let strategy = input.strategy;
        let done = ctx.state(|s| s.carried.steps_done);
        if done < STEP_MANIFEST {
            let (migration_id, started) = ctx.state(|s| (s.carried.migration_id.clone(), s.carried.started_at_ms));
            let cohort = match strategy {
                MigrationStrategy::Gradual => Cohort { batches: input.batch_count(), moved: 0, started_at_ms: started },
                _ => Cohort::everyone(started),
            };
            let prepare = Prepare {
                guild_id,
                migration_id,
                cohort,
                strategy,
                channels: input.channels.unwrap_or(ChannelStrategy::AdditiveOnly),
                actor: input.actor.clone(),
                forced: ctx.state(|s| s.carried.status.forced.clone()),
            };
            match ctx.execute_activity(MigrationActivities::prepare, prepare, retry::discord(queue)).await {
                Ok(prepared) => ctx.state_mut(|s| {
                    // Rollback restores the version the parallel one was derived from (a
                    // publish since the readiness check is what the operator last chose).
                    let restore = Compensation::RestoreManifest { version: prepared.previous_version };
                    for c in &mut s.carried.status.compensations {
                        if matches!(c, Compensation::RestoreManifest { .. }) {
                            *c = restore.clone();
                        }
                    }
                    s.carried.prepared = Some(prepared);
                    s.carried.steps_done = STEP_MANIFEST;
                }),
                // A refusal comes before the prepare's first write: nothing to restore.
                Err(e) if crate::refused(&e) => {
                    ctx.state_mut(|s| {
                        s.carried.status.compensations.clear();
                        if s.stage() != MigrationStage::RollingBack {
                            s.carried.status.stage = MigrationStage::NotReady;
                        }
                        if let Some(r) = s.carried.status.readiness.as_mut() {
                            r.ready = false;
                            r.reasons.insert(0, e.to_string());
                        }
                    });
                    let text = format!("**Migration not started**: {e}. Nothing was changed.");
                    Self::notify(ctx, guild_id, queue, text, None).await;
                    return Ok(());
                }
                // Out of retries, perhaps after saving the parallel manifest: put it back.
                Err(e) => {
                    Self::step_failed(ctx, "saving the parallel manifest", e);
                    return Ok(());
                }
            }
            Self::set_mode_attr(ctx, Mode::Parallel);
        }
        if Self::rolling_back(ctx) {
            return Ok(());
        }
        if done < STEP_DEPLOY {
            Self::register(ctx, Compensation::RemoveArrakisObjects);
            let version = ctx.state(|s| s.carried.prepared.as_ref().map_or(0, |p| p.version));
            let run = Lenient::new(&SynthesisInput { guild_id, version, removals: RemovalChoice::Hold });
            let options =
                ChildWorkflowOptions::builder().workflow_id(synthesis::workflow_id(guild_id, version)).build();
            let outcome: Result<SynthesisOutcome, String> =
                match ctx.start_child_workflow(crate::SynthesisWorkflow::run, run, options).await {
                    Ok(child) => child.result().await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
            if let Err(e) = outcome {
                Self::step_failed(ctx, "making the arrakis-* roles and channels", e);
                return Ok(());
            }
            // The rollback holds the schedule this ensures, so no scheduled run recreates what
            // it removes (added after runs were recorded, hence the patch).
            if ctx.patched(HOLDS_RECONCILE) {
                Self::register(ctx, Compensation::HoldReconcile);
            }
            let schedule = ReconcileSchedule { guild_id, task_queue: ctx.task_queue().to_string() };
            if let Err(e) =
                ctx.execute_activity(WizardActivities::ensure_reconcile_schedule, schedule, retry::storage()).await
            {
                Self::step_failed(ctx, "scheduling reconciliation", e);
                return Ok(());
            }
            ctx.state_mut(|s| s.carried.steps_done = STEP_DEPLOY);
        }
        if Self::rolling_back(ctx) {
            return Ok(());
        }
        if done < STEP_MEMBER_SYNC {
            // A sync that ran before the migration (parallel mode already) keeps running after
            // a rollback; one this migration starts stops with it.
            if ctx.state(|s| s.carried.status.from_mode == Some(Mode::Shadow)) {
                Self::register(ctx, Compensation::StopMemberSync);
            }
            let ensure = EnsureSync { guild_id, task_queue: ctx.task_queue().to_string() };
            if let Err(e) = ctx.execute_activity(WizardActivities::ensure_member_sync, ensure, retry::storage()).await {
                Self::step_failed(ctx, "starting member sync", e);
                return Ok(());
            }
            ctx.state_mut(|s| s.carried.steps_done = STEP_MEMBER_SYNC);
        }
        if Self::rolling_back(ctx) {
            return Ok(());
        }
        if done < STEP_LEAD && strategy == MigrationStrategy::ArrakisPrimary {
            Self::lead(ctx, input, queue).await?;
        }
        ctx.state_mut(|s| {
            s.carried.steps_done = STEP_LEAD;
            s.advance(MigrationStage::Migrating);
        });
        Ok(())
    }

    /// Arrakis takes the lead: primary mode (compensated by parallel mode again).
    async fn lead(ctx: &WorkflowContext<Self>, input: &MigrationInput, queue: &str) -> WorkflowResult<()> {
        Self::register(ctx, Compensation::RestoreMode { mode: Mode::Parallel });
        let request = SetMode {
            guild_id: input.guild_id,
            mode: Mode::Primary,
            actor: input.actor.clone(),
            reason: format!("migration ({})", input.strategy.as_str()),
        };
        match ctx.execute_activity(MigrationActivities::set_mode, request, retry::discord(queue)).await {
            Ok(_) => Self::set_mode_attr(ctx, Mode::Primary),
            Err(e) => Self::step_failed(ctx, "taking the lead (primary mode)", e),
        }
        Ok(())
    }

    /// Moves members over: a gradual migration's batches on their timers (held by a pause),
    /// everyone at once otherwise; then the lead where the strategy ends in primary mode.
    async fn migrate(ctx: &WorkflowContext<Self>, input: &MigrationInput, queue: &str) -> WorkflowResult<()> {
        let guild_id = input.guild_id;
        if input.strategy == MigrationStrategy::Gradual {
            let interval = input.batch_interval_ms();
            loop {
                let (moved, batches, next_at) = ctx.state(|s| {
                    (s.carried.status.moved_batches, s.carried.status.batches, s.carried.status.next_batch_at_ms)
                });
                if moved >= batches || Self::rolling_back(ctx) {
                    break;
                }
                let now = Self::now_ms(ctx);
                if let Some(at) = next_at.filter(|at| *at > now) {
                    Self::sleep_or_wake(ctx, at - now).await?;
                    // A signal or update woke the wait early: look again.
                    if Self::now_ms(ctx) < at {
                        continue;
                    }
                }
                if ctx.history_length() > HISTORY_BUDGET || ctx.continue_as_new_suggested() {
                    return Ok(());
                }
                if ctx.state(|s| s.carried.status.paused) {
                    // Any signal wakes the wait, so a long pause still continues as new.
                    let seen = ctx.state(|s| s.wake);
                    ctx.wait_condition(move |s: &Self| s.wake != seen).await?;
                    continue;
                }
                Self::move_batch(ctx, input, queue, moved + 1, interval).await?;
            }
        }
        if Self::rolling_back(ctx) {
            return Ok(());
        }
        // Added after runs were recorded: they completed when the roles existed.
        if ctx.patched(COMPLETE_AFTER_WRITTEN) && !Self::await_writes(ctx, input).await? {
            return Ok(());
        }
        if input.strategy.final_mode() == Mode::Primary && ctx.state(|s| s.carried.status.mode) != Some(Mode::Primary) {
            Self::lead(ctx, input, queue).await?;
            if Self::rolling_back(ctx) {
                return Ok(());
            }
        }
        let (migration_id, started) = ctx.state(|s| (s.carried.migration_id.clone(), s.carried.started_at_ms));
        let done = SetCohort {
            guild_id,
            migration_id,
            cohort: Some(Cohort::everyone(started)),
            stage: MigrationStage::Completed,
        };
        if let Err(e) = ctx.execute_activity(MigrationActivities::cohort, done, retry::discord(queue)).await {
            Self::step_failed(ctx, "recording the migration's end", e);
            return Ok(());
        }
        let watch = input.watch_secs.unwrap_or(migration::DEFAULT_WATCH_SECS) * 1000;
        let now = Self::now_ms(ctx);
        ctx.state_mut(|s| {
            let st = &mut s.carried.status;
            st.moved_batches = st.batches;
            st.next_batch_at_ms = None;
            st.watch_until_ms = Some(now + watch);
            s.advance(MigrationStage::Completed);
        });
        if !Self::rolling_back(ctx) {
            let text = format!(
                "**Migration complete** ({}): every member is on Arrakis's `arrakis-*` roles; the community is in {} \
                 mode. Rollback stays one click away until <t:{}:f>, and starts by itself if members lose access.",
                input.strategy.as_str(),
                ctx.state(|s| s.carried.status.mode.map_or("parallel", |m| m.as_str())),
                (now + watch) / 1000
            );
            Self::notify(ctx, guild_id, queue, text, Some(NoticeButton::Rollback)).await;
        }
        Ok(())
    }

    /// Waits for member sync to report the last batch written in full (every moved member's
    /// roles granted), so "complete" is true when it is said. `false` when this run stops here:
    /// a rollback began, or the history is long (the next run waits on).
    async fn await_writes(ctx: &WorkflowContext<Self>, input: &MigrationInput) -> WorkflowResult<bool> {
        let batches = ctx.state(|s| s.carried.status.batches);
        if input.strategy != MigrationStrategy::Gradual {
            // Everyone moved at once: the sweep this asks for answers for all of them.
            let payload = Lenient::from_json(serde_json::json!({"migration_batch": batches}));
            crate::tell_member_sync(ctx, input.guild_id, ManifestPublishedSignal, payload).await;
        }
        ctx.state_mut(|s| s.carried.status.awaiting_writes = true);
        loop {
            if Self::rolling_back(ctx) {
                ctx.state_mut(|s| s.carried.status.awaiting_writes = false);
                return Ok(false);
            }
            if ctx.history_length() > HISTORY_BUDGET || ctx.continue_as_new_suggested() {
                return Ok(false);
            }
            if ctx.state(|s| s.carried.settled_batch >= batches) {
                ctx.state_mut(|s| s.carried.status.awaiting_writes = false);
                return Ok(true);
            }
            let seen = ctx.state(|s| s.wake);
            ctx.wait_condition(move |s: &Self| s.wake != seen).await?;
        }
    }

    /// Moves batch `batch` over: member sync grants its members at its next sweep.
    async fn move_batch(
        ctx: &WorkflowContext<Self>,
        input: &MigrationInput,
        queue: &str,
        batch: u32,
        interval_ms: u64,
    ) -> WorkflowResult<()> {
        let (migration_id, started, batches) =
            ctx.state(|s| (s.carried.migration_id.clone(), s.carried.started_at_ms, s.carried.status.batches));
        let request = SetCohort {
            guild_id: input.guild_id,
            migration_id,
            cohort: Some(Cohort { batches, moved: batch, started_at_ms: started }),
            stage: MigrationStage::Migrating,
        };
        if let Err(e) = ctx.execute_activity(MigrationActivities::cohort, request, retry::discord(queue)).await {
            Self::step_failed(ctx, &format!("moving batch {batch}"), e);
            return Ok(());
        }
        let payload = Lenient::from_json(serde_json::json!({"migration_batch": batch}));
        crate::tell_member_sync(ctx, input.guild_id, ManifestPublishedSignal, payload).await;
        let now = Self::now_ms(ctx);
        ctx.state_mut(|s| {
            let st = &mut s.carried.status;
            st.moved_batches = batch;
            st.next_batch_at_ms = (batch < st.batches).then_some(now + interval_ms);
        });
        if batch == 1 || batch == batches {
            let text = format!(
                "**Migration**: batch {batch} of {batches} moved to Arrakis's roles{}.",
                if batch < batches { format!("; the next in {} min", interval_ms / 60_000) } else { String::new() }
            );
            Self::notify(ctx, input.guild_id, queue, text, Some(NoticeButton::Rollback)).await;
        }
        Ok(())
    }

    /// Waits out the watch period (rollback stays one click away, and automatic).
    async fn watch(ctx: &WorkflowContext<Self>) -> WorkflowResult<bool> {
        loop {
            let now = Self::now_ms(ctx);
            let until = ctx.state(|s| s.carried.status.watch_until_ms.unwrap_or(now));
            if Self::rolling_back(ctx) {
                return Ok(false);
            }
            if now >= until {
                return Ok(true);
            }
            if ctx.history_length() > HISTORY_BUDGET || ctx.continue_as_new_suggested() {
                return Ok(false);
            }
            Self::sleep_or_wake(ctx, until - now).await?;
        }
    }

    /// Waits `ms`, or less when a signal or an update arrives (the timer is then cancelled).
    async fn sleep_or_wake(ctx: &WorkflowContext<Self>, ms: u64) -> WorkflowResult<()> {
        let seen = ctx.state(|s| s.wake);
        let mut timer = Box::pin(ctx.timer(Duration::from_millis(ms)));
        temporalio_sdk::workflows::select! {
            _ = &mut timer => {},
            r = ctx.wait_condition(move |s: &Self| s.wake != seen) => { r?; }
        };
        if !timer.is_terminated() {
            timer.cancel();
        }
        Ok(())
    }

    /// Runs the registered compensations in reverse, each until it succeeds (one that fails
    /// for good is recorded and the rest still run), records the rollback and tells the
    /// operator.
    async fn roll_back(ctx: &WorkflowContext<Self>, input: &MigrationInput, queue: &str) -> WorkflowResult<()> {
        let guild_id = input.guild_id;
        let migration_id = ctx.state(|s| s.carried.migration_id.clone());
        let Some(info) = ctx.state(|s| s.carried.status.rollback.clone()) else { return Ok(()) };
        if info.steps.is_empty() {
            let started =
                RecordRollback { guild_id, migration_id: migration_id.clone(), rollback: info.clone(), step: None };
            ctx.execute_activity(MigrationActivities::record_rollback, started, retry::compensation(queue)).await?;
            let text = format!("**Rolling back the migration** ({}): {}.", info.by, info.reason);
            Self::notify(ctx, guild_id, queue, text, None).await;
        }
        let compensations: Vec<Compensation> = ctx.state(|s| s.carried.status.compensations.clone());
        let previous_mode = ctx.state(|s| s.carried.status.from_mode);
        for (i, compensation) in compensations.iter().enumerate().rev() {
            let done = compensations.len() - 1 - i;
            if ctx.state(|s| s.carried.status.rollback.as_ref().map_or(0, |r| r.steps.len())) > done {
                continue;
            }
            let request = Compensate {
                guild_id,
                migration_id: migration_id.clone(),
                compensation: compensation.clone(),
                actor: info.by.clone(),
                reason: info.reason.clone(),
            };
            let (step, succeeded) = match ctx
                .execute_activity(MigrationActivities::compensate, request, retry::compensation(queue))
                .await
            {
                Ok(what) => (format!("{}: {what}", compensation.describe()), true),
                Err(e) => (format!("{}: FAILED ({e})", compensation.describe()), false),
            };
            if let (true, Compensation::RestoreManifest { .. }) = (succeeded, compensation) {
                if let Some(mode) = previous_mode {
                    Self::set_mode_attr(ctx, mode);
                }
                // A sync that ran before the migration decides with the old manifest again.
                if previous_mode != Some(Mode::Shadow) {
                    let payload = Lenient::from_json(serde_json::json!({"rolled_back": true}));
                    crate::tell_member_sync(ctx, guild_id, ManifestPublishedSignal, payload).await;
                }
            }
            if let (true, Compensation::RestoreMode { mode }) = (succeeded, compensation) {
                Self::set_mode_attr(ctx, *mode);
            }
            let progress = ctx.state_mut(|s| {
                let r = s.carried.status.rollback.as_mut()?;
                r.steps.push(step);
                Some(r.clone())
            });
            if let Some(rollback) = progress {
                let step = Some(compensation.clone());
                let record = RecordRollback { guild_id, migration_id: migration_id.clone(), rollback, step };
                ctx.execute_activity(MigrationActivities::record_rollback, record, retry::compensation(queue)).await?;
            }
        }
        if compensations.contains(&Compensation::HoldReconcile) {
            let resume = ResumeReconcile { guild_id, migration_id: migration_id.clone() };
            let step = match ctx
                .execute_activity(MigrationActivities::resume_reconcile, resume, retry::compensation(queue))
                .await
            {
                Ok(what) => format!("resume the reconcile schedule: {what}"),
                Err(e) => format!("resume the reconcile schedule: FAILED ({e})"),
            };
            ctx.state_mut(|s| {
                if let Some(r) = s.carried.status.rollback.as_mut() {
                    r.steps.push(step);
                }
            });
        }
        let now = Self::now_ms(ctx);
        let finished = ctx.state_mut(|s| {
            let r = s.carried.status.rollback.as_mut()?;
            r.finished_at_ms = Some(now);
            Some(r.clone())
        });
        if let Some(rollback) = finished {
            let record =
                RecordRollback { guild_id, migration_id: migration_id.clone(), rollback: rollback.clone(), step: None };
            ctx.execute_activity(MigrationActivities::record_rollback, record, retry::compensation(queue)).await?;
            let finish = FinishMigration { guild_id, migration_id, stage: MigrationStage::RolledBack };
            ctx.execute_activity(MigrationActivities::finish, finish, retry::compensation(queue)).await?;
            let text = format!(
                "**Migration rolled back** ({}, {}). {}\nThe incumbent's roles were never touched.",
                rollback.by,
                rollback.reason,
                rollback.steps.iter().map(|s| format!("- {s}")).collect::<Vec<_>>().join("\n")
            );
            Self::notify(ctx, guild_id, queue, text, None).await;
        }
        ctx.state_mut(|s| s.carried.status.stage = MigrationStage::RolledBack);
        Ok(())
    }
}

#[workflow_methods]
impl MigrationWorkflow {
    #[init]
    pub fn new(ctx: &WorkflowContextView, input: Lenient<MigrationInput>) -> Self {
        let parsed = input.parse().ok();
        Self {
            guild: parsed.as_ref().map(|i| i.guild_id),
            strategy: parsed.as_ref().map(|i| i.strategy),
            thresholds: parsed.as_ref().map(|i| i.thresholds.clone()).unwrap_or_default(),
            carried: parsed.and_then(|i| i.carried).unwrap_or_default(),
            input,
            continued: ctx.continued_from_run_id().is_some(),
            wake: 0,
            closing: false,
        }
    }

    /// Runs the migration to its end: completed (after the watch period), rolled back, or not
    /// ready; continues as new to keep its history short.
    #[run(name = "Migration")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<MigrationStatus> {
        ctx.upsert_search_attributes([KIND_ATTR.value_set(KIND.to_string())]);
        let input = ctx.state(|s| crate::parse_input("migration", &s.input))?;
        crate::refuse_carried_on_start("migration", input.carried.is_some(), ctx.state(|s| s.continued))?;
        input.check().map_err(|errors| crate::invalid_input("migration", &errors))?;
        ctx.upsert_search_attributes([GUILD_ID_ATTR.value_set(input.guild_id.to_string())]);
        let ctx: &WorkflowContext<Self> = ctx;
        let queue = retry::discord_queue(ctx.task_queue());
        if input.carried.is_none() {
            // Named by the workflow and its start, which a reset keeps (a run id it does not).
            let now = Self::now_ms(ctx);
            let id = format!("{}@{now}", migration::workflow_id(input.guild_id));
            ctx.state_mut(|s| {
                s.carried.migration_id = id;
                s.carried.started_at_ms = now;
                s.carried.status.strategy = Some(input.strategy);
                s.carried.status.batches = input.batch_count();
            });
        } else if let Some(mode) = ctx.state(|s| s.carried.status.mode) {
            ctx.upsert_search_attributes([MODE_ATTR.value_set(mode.as_str().to_string())]);
        }
        loop {
            let now = Self::now_ms(ctx);
            ctx.state_mut(|s| s.refresh(now));
            let stage = ctx.state(|s| s.stage());
            match stage {
                MigrationStage::CheckingReadiness => Self::check_readiness(ctx, &input, &queue).await?,
                MigrationStage::Preparing => Self::prepare(ctx, &input, &queue).await?,
                MigrationStage::Migrating => Self::migrate(ctx, &input, &queue).await?,
                MigrationStage::Completed => {
                    if Self::watch(ctx).await? {
                        // From here on no rollback can start: the record says completed.
                        ctx.state_mut(|s| s.closing = true);
                        let migration_id = ctx.state(|s| s.carried.migration_id.clone());
                        let finish = FinishMigration {
                            guild_id: input.guild_id,
                            migration_id,
                            stage: MigrationStage::Completed,
                        };
                        ctx.execute_activity(MigrationActivities::finish, finish, retry::discord(&queue)).await?;
                        break;
                    }
                }
                MigrationStage::RollingBack => Self::roll_back(ctx, &input, &queue).await?,
                MigrationStage::NotReady => {
                    let migration_id = ctx.state(|s| s.carried.migration_id.clone());
                    // A prepare that recorded the migration and then failed leaves its row open.
                    let finish = FinishMigration { guild_id: input.guild_id, migration_id, stage };
                    ctx.execute_activity(MigrationActivities::finish, finish, retry::discord(&queue)).await?;
                    break;
                }
                MigrationStage::RolledBack => break,
            }
            if ctx.history_length() > HISTORY_BUDGET || ctx.continue_as_new_suggested() {
                let c = ctx.clone();
                ctx.wait_condition(move |_| c.all_handlers_finished()).await?;
                let next = ctx.state(|s| MigrationInput {
                    carried: Some(MigrationCarried { runs: s.carried.runs + 1, ..s.carried.clone() }),
                    ..input.clone()
                });
                ctx.continue_as_new(Lenient::new(&next), ContinueAsNewOptions::default())?;
            }
        }
        let c = ctx.clone();
        ctx.wait_condition(move |_| c.all_handlers_finished()).await?;
        let now = Self::now_ms(ctx);
        ctx.state_mut(|s| s.refresh(now));
        Ok(ctx.state(|s| s.carried.status.clone()))
    }

    /// What member sync saw (access lost, requests refused). Any payload is accepted; one
    /// that does not parse, or carries counts no sync could send, is dropped. The rollback starts here, in the workflow task that
    /// crosses a threshold.
    #[signal(name = "access_report")]
    pub fn access_report(&mut self, ctx: &mut SyncWorkflowContext<Self>, report: Lenient<AccessReport>) {
        let report = match report.parse() {
            Ok(report) => report,
            Err(e) => return crate::signal_dropped(ctx, "access_report", &e),
        };
        let Some(report) = AccessReport::bounded(report) else {
            return crate::signal_dropped(ctx, "access_report", &"counts no sync could send");
        };
        let now = time_ms(ctx.workflow_time());
        self.carried.settled_batch = self.carried.settled_batch.max(report.settled_batch);
        self.carried.reports.push(Reported { at_ms: now, report });
        prune(&mut self.carried.reports, now, &self.thresholds);
        if self.may_roll_back()
            && let Some(why) = rollback_trigger(&self.carried.reports, now, &self.thresholds)
        {
            self.begin_rollback(why, AUTOMATIC.into(), true, now);
        }
        self.refresh(now);
        self.wake += 1;
    }

    /// Rolls back now: compensations in reverse, then the rollback is recorded and the
    /// operator told.
    #[update(name = "rollback")]
    pub fn rollback(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        request: Lenient<RollbackRequest>,
    ) -> MigrationStatus {
        if let Ok(request) = request.parse() {
            let now = time_ms(ctx.workflow_time());
            self.begin_rollback(request.reason, request.actor, false, now);
        }
        self.carried.status.clone()
    }

    #[update_validator(rollback)]
    fn validate_rollback(
        &self,
        _ctx: &WorkflowContextView,
        request: &Lenient<RollbackRequest>,
    ) -> Result<(), HandlerError> {
        let request = request.parse().map_err(|e| e.to_string())?;
        request.check().map_err(|e| e.to_string())?;
        if self.closing {
            return Err("the migration is being recorded as complete: nothing to roll back".into());
        }
        match self.stage() {
            stage if stage.can_roll_back() => Ok(()),
            MigrationStage::RollingBack => Err("a rollback is already under way: `status` shows its steps".into()),
            stage => Err(format!("nothing to roll back: the migration is {}", stage.as_str()).into()),
        }
    }

    /// Holds the next batch of a gradual migration until resumed.
    #[update(name = "pause")]
    pub fn pause(&mut self, _ctx: &mut SyncWorkflowContext<Self>, decision: Lenient<Decision>) -> MigrationStatus {
        if decision.parse().is_ok() {
            self.carried.status.paused = true;
            self.wake += 1;
        }
        self.carried.status.clone()
    }

    #[update_validator(pause)]
    fn validate_pause(&self, _ctx: &WorkflowContextView, decision: &Lenient<Decision>) -> Result<(), HandlerError> {
        decision.parse().map_err(|e| e.to_string())?.check().map_err(|e| e.to_string())?;
        self.check_gradual()?;
        if self.carried.status.paused {
            return Err("the migration is paused already".into());
        }
        Ok(())
    }

    /// Carries on after a pause: the next batch goes at its time (at once if it is past).
    #[update(name = "resume")]
    pub fn resume(&mut self, _ctx: &mut SyncWorkflowContext<Self>, decision: Lenient<Decision>) -> MigrationStatus {
        if decision.parse().is_ok() {
            self.carried.status.paused = false;
            self.wake += 1;
        }
        self.carried.status.clone()
    }

    #[update_validator(resume)]
    fn validate_resume(&self, _ctx: &WorkflowContextView, decision: &Lenient<Decision>) -> Result<(), HandlerError> {
        decision.parse().map_err(|e| e.to_string())?.check().map_err(|e| e.to_string())?;
        self.check_gradual()?;
        if !self.carried.status.paused {
            return Err("the migration is not paused".into());
        }
        Ok(())
    }

    /// Stage, readiness (and any override), batches moved and the next batch's time,
    /// compensations registered, the rollback and its steps.
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> MigrationStatus {
        self.carried.status.clone()
    }
}

impl MigrationWorkflow {
    fn check_gradual(&self) -> Result<(), HandlerError> {
        if self.guild.is_none() {
            return Err("the migration's input is invalid".into());
        }
        if self.strategy != Some(MigrationStrategy::Gradual) {
            return Err("only a gradual migration has batches to pause".into());
        }
        if !matches!(
            self.stage(),
            MigrationStage::CheckingReadiness | MigrationStage::Preparing | MigrationStage::Migrating
        ) {
            return Err(format!("the migration is {}: no batch is left to hold", self.stage().as_str()).into());
        }
        Ok(())
    }
}
