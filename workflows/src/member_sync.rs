//! Member sync (`member-sync-{guild_id}`): the token-gating loop of one deployed guild.
//!
//! One loop, one thing at a time, most urgent first: the chain watcher's transfers and the
//! members who acted (joined, linked a wallet, asked) are decided at once; negatives due for
//! their second read are re-read; queued writes go out a Discord window at a time; a sweep of
//! every member advances a page; echoes of Arrakis's own writes are recognised in bulk. The
//! chain watcher (a long-polling activity) runs beside the loop the whole time. Progress rides
//! in the input across continue-as-new, so the history stays bounded and a lost worker costs a
//! page at most; the queues themselves are in Postgres.

use crate::{GUILD_ID_ATTR, KIND_ATTR, ms, retry, time_ms};
use arrakis_activities::member_sync::MemberSyncActivities;
use arrakis_schemas::{
    GuildId, Lenient, UserId,
    temporal::AccessReportSignal,
    workflows::{
        member_sync::{
            Carried, ChainCursor, Decided, Decision, Forget, HeldAlert, HeldDecision, KIND, LoopView, MemberSyncInput,
            MemberSyncStatus, OpenSync, Pause, Phase, PlanOutcome, PlanRequest, Queued, Reason, Recheck, Settle, Step,
            SweepPage, SweepProgress, SweepRequest, SweepSummary, SyncMember, SyncSettings, WalletLinked, Watch,
            Watched, WriteBatch, idle_until, next_round, recheck_rest_ms, settled_batch_due,
        },
        members::{MemberEvent, MemberEventKind},
    },
};
use futures::future::FusedFuture;
use std::{pin::Pin, time::Duration};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, CancellableFuture, ContinueAsNewOptions, SyncWorkflowContext, WorkflowContext,
    WorkflowContextView, WorkflowResult,
};

type HandlerError = Box<dyn std::error::Error + Send + Sync>;
type WatchFuture<'a> = Pin<Box<dyn CancellableFuture<Output = Result<Watched, ActivityExecutionError>> + 'a>>;

/// Members queued before the rest wait for a sweep (the carried state stays small).
const QUEUE_MAX: usize = 1_000;
/// Members decided by one re-check.
const RECHECK_BATCH: usize = 100;
/// How long one watch activity polls when nothing moves.
const WATCH_WINDOW: Duration = Duration::from_secs(30);
/// How long a freeze (or shadow mode) keeps writes waiting before the next try.
const CLOSED_RETRY: Duration = Duration::from_secs(30);
/// Events per run before continuing as new (Temporal suggests about 2,000 for an iterator).
const HISTORY_BUDGET: u32 = 2_000;
/// How often a migration hears of plain requests; lost access and refusals it hears at once.
const REPORT_EVERY_MS: u64 = 60_000;

/// One guild's member sync.
#[workflow]
pub struct MemberSyncWorkflow {
    input: Lenient<MemberSyncInput>,
    /// This run was started by continue-as-new (only then may the input carry state).
    continued: bool,
    guild: Option<GuildId>,
    settings: SyncSettings,
    carried: Carried,
    status: MemberSyncStatus,
    /// The operator's answer to a held batch: (confirm, who and why).
    decision: Option<(bool, Decision)>,
    /// The next sweep is a dry run.
    dry_run_next: bool,
    /// Set by `stop`.
    stopping: Option<Decision>,
    /// Bumped by every signal and update: the idle loop wakes on it.
    wake: u64,
    /// A sweep's plan is being read: the sync is sweeping, though no page is under way yet.
    planning: bool,
}

impl MemberSyncWorkflow {
    fn now_ms(ctx: &WorkflowContext<Self>) -> u64 {
        time_ms(ctx.workflow_time())
    }

    fn queue(&mut self, user: UserId, queued: Queued) {
        if self.carried.queued.len() >= QUEUE_MAX && !self.carried.queued.contains_key(&user) {
            // The sweep decides everyone: past the bound, a member waits for it.
            self.carried.sweep_requested = true;
            return;
        }
        match self.carried.queued.entry(user) {
            std::collections::btree_map::Entry::Occupied(mut entry) => entry.get_mut().merge(queued),
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(queued);
            }
        }
        self.wake += 1;
    }

    /// The status the query and the updates answer: `status` holds what only the loop knows
    /// (mode, pending writes, why closed); the rest is read from the carried state as it is now.
    fn fresh(&self) -> MemberSyncStatus {
        let c = &self.carried;
        let mut status = self.status.clone();
        status.guild_id = self.guild;
        status.paused = c.paused.clone();
        status.sweep = c.sweep.clone();
        status.sweep_requested = c.sweep_requested;
        status.last_sweep = c.last_sweep.clone();
        status.next_sweep_at_ms = c.next_sweep_at_ms;
        status.held = c.held.clone();
        status.queued = c.queued.len() as u64;
        status.next_recheck_at_ms = c.recheck_at_ms.map(|at| at.max(c.recheck_rest_until_ms));
        if status.pending_writes == 0 {
            status.oldest_write_at_ms = None;
        }
        status.chains = c.cursors.iter().map(|(chain, cursor)| (*chain, cursor.block)).collect();
        status.totals = c.totals;
        status.runs = c.runs;
        status.phase = if self.stopping.is_some() {
            Phase::Stopped
        } else if status.closed.is_some() {
            Phase::Closed
        } else if c.paused.is_some() {
            Phase::Paused
        } else if c.sweep.is_some() || self.planning {
            Phase::Sweeping
        } else {
            Phase::Watching
        };
        status
    }

    /// What the loop's next round is picked from.
    fn loop_view(&self, now_ms: u64) -> LoopView {
        let c = &self.carried;
        LoopView {
            now_ms,
            decision: self.decision.is_some() && c.held.is_some(),
            leaving: !c.leaving.is_empty(),
            urgent: c.queued.values().any(|q| q.reason != Reason::RolesChanged),
            echoes: c.queued.values().any(|q| q.reason == Reason::RolesChanged),
            recheck_at_ms: c.recheck_at_ms.map(|at| at.max(c.recheck_rest_until_ms)),
            pending_writes: self.status.pending_writes > 0,
            paused: c.paused.is_some(),
            dry_run_paused: c.paused.as_ref().is_some_and(|p| p.by == "dry_run"),
            write_retry_at_ms: c.write_retry_at_ms,
            sweeping: c.sweep.is_some(),
            sweep_requested: c.sweep_requested,
            next_sweep_at_ms: c.next_sweep_at_ms,
        }
    }

    fn decide_options(queue: &str) -> temporalio_sdk::ActivityOptions {
        retry::shadow_page(queue)
    }

    /// What is queued in Postgres, as the last activity saw it.
    fn backlog(&mut self, backlog: Option<&arrakis_schemas::workflows::member_sync::Backlog>) {
        if let Some(b) = backlog {
            self.status.pending_revocations = b.negatives;
            self.status.oldest_write_at_ms = b.oldest_write_at_ms;
        }
    }

    /// Applies a page's or a re-check's decisions to the carried state.
    fn absorb(&mut self, decided: &Decided) {
        if let Some(at) = decided.recheck_at_ms {
            self.carried.recheck_at_ms = Some(self.carried.recheck_at_ms.map_or(at, |now| now.min(at)));
        }
        self.status.pending_writes = decided.pending_writes;
        self.backlog(decided.backlog.as_ref());
        if decided.more_due {
            self.carried.sweep_requested = true;
        }
    }

    /// Puts a batch past the breaker, or keeps it for after the operator's decision on the
    /// batch already held.
    async fn settle(ctx: &WorkflowContext<Self>, batch: String, queue: &str) -> WorkflowResult<()> {
        if ctx.state(|s| s.carried.held.is_some()) {
            ctx.state_mut(|s| s.carried.unsettled.insert(batch));
            return Ok(());
        }
        let (guild, settings, holders) = ctx.state(|s| (s.guild, s.settings.clone(), s.carried.holders.clone()));
        let Some(guild_id) = guild else { return Ok(()) };
        let settle = Settle {
            guild_id,
            batch,
            holders,
            max_revoke_fraction: settings.max_revoke_fraction,
            breaker_min_revocations: settings.breaker_min_revocations,
        };
        let settled = ctx.execute_activity(MemberSyncActivities::settle, settle, retry::discord(queue)).await?;
        ctx.state_mut(|s| {
            if s.carried.migration.is_some() {
                s.carried.unreported.lost += settled.members;
                s.carried.unreported.breaker_tripped |= settled.held.is_some();
            }
        });
        if let Some(held) = settled.held {
            let count = held.count;
            ctx.state_mut(|s| {
                s.carried.totals.held += count;
                s.carried.held = Some(held.clone());
            });
            let alert = HeldAlert { guild_id, held };
            // The hold stands whether or not the operator's channel takes the message.
            let _ = ctx.execute_activity(MemberSyncActivities::alert, alert, retry::discord(queue)).await;
        }
        ctx.state_mut(|s| s.status.pending_writes += settled.queued);
        Self::report(ctx).await;
        Ok(())
    }

    /// Decides queued members (up to a batch): transfers and members who acted first, echoes
    /// of Arrakis's own writes in bulk once the writes are out.
    async fn recheck(ctx: &WorkflowContext<Self>, queue: &str, echoes: bool, due: bool) -> WorkflowResult<()> {
        let (guild, confirm_ms, cursors) =
            ctx.state(|s| (s.guild, s.settings.revoke_confirm_secs * 1000, s.carried.cursors.clone()));
        let Some(guild_id) = guild else { return Ok(()) };
        let members = ctx.state_mut(|s| {
            let picked: Vec<UserId> = s
                .carried
                .queued
                .iter()
                .filter(|(_, q)| (q.reason == Reason::RolesChanged) == echoes)
                .take(RECHECK_BATCH)
                .map(|(u, _)| *u)
                .collect();
            picked.into_iter().filter_map(|u| Some((u, s.carried.queued.remove(&u)?))).collect()
        });
        let batch = format!("recheck-{}", ctx.uuid4());
        let recheck = Recheck { guild_id, batch: batch.clone(), members, due, revoke_confirm_ms: confirm_ms, cursors };
        let decided = ctx.execute_activity(MemberSyncActivities::recheck, recheck, Self::decide_options(queue)).await?;
        // Second reads take a set share of the guild's read budget (added after runs were
        // recorded: the patch keeps their replay deterministic).
        let rest = (due && decided.reads > 0 && ctx.patched("member-sync-recheck-share")).then(|| {
            Self::now_ms(ctx) + recheck_rest_ms(decided.reads, ctx.state(|s| s.settings.recheck_reads_per_minute))
        });
        ctx.state_mut(|s| {
            if due {
                s.carried.recheck_at_ms = None;
            }
            if let Some(until) = rest {
                s.carried.recheck_rest_until_ms = until;
            }
            s.absorb(&decided);
        });
        if decided.staged > 0 {
            Self::settle(ctx, batch, queue).await?;
        }
        Ok(())
    }

    /// One write activity: a Discord window of queued writes.
    async fn write(ctx: &WorkflowContext<Self>, queue: &str) -> WorkflowResult<()> {
        let (guild, max) = ctx.state(|s| (s.guild, s.settings.writes_per_batch));
        let Some(guild_id) = guild else { return Ok(()) };
        let written = ctx
            .execute_activity(MemberSyncActivities::write, WriteBatch { guild_id, max }, retry::member_writes(queue))
            .await?;
        let now = Self::now_ms(ctx);
        ctx.state_mut(|s| {
            let t = &mut s.carried.totals;
            t.grants += written.grants;
            t.revocations += written.revocations;
            t.writes += written.grants + written.revocations;
            t.failed_writes += written.failed;
            s.status.pending_writes = written.remaining;
            s.backlog(written.backlog.as_ref());
            s.status.closed = written.closed.clone();
            s.carried.write_retry_at_ms = written.closed.as_ref().map(|_| now + ms(CLOSED_RETRY));
            if s.carried.migration.is_some() {
                s.carried.unreported.requests += written.requests;
                s.carried.unreported.failed += written.failed + written.errored;
            }
        });
        Self::report(ctx).await;
        Ok(())
    }

    /// Tells the migration under way what this sync saw: lost access, refusals and breaker
    /// trips at once, plain requests once a minute. A migration that ended ignores it.
    async fn report(ctx: &WorkflowContext<Self>) {
        let now = Self::now_ms(ctx);
        let due = ctx.state(|s| {
            let r = &s.carried.unreported;
            s.carried.migration.is_some()
                && (r.lost > 0
                    || r.failed > 0
                    || r.breaker_tripped
                    || (r.requests > 0 && now >= s.carried.reported_at_ms + REPORT_EVERY_MS))
        });
        // Added after runs were recorded: the patch keeps their replay deterministic.
        if !due || !ctx.patched("member-sync-reports-to-migration") {
            return;
        }
        Self::send_report(ctx, None).await;
    }

    /// Tells the migration, once idle, that the batch it last nudged for is written in full
    /// ([`settled_batch_due`]): it calls itself complete on that, not when the roles exist.
    async fn report_settled(ctx: &WorkflowContext<Self>) {
        let due = ctx.state(|s| settled_batch_due(&s.carried, s.status.pending_writes));
        // Added after runs were recorded: the patch keeps their replay deterministic.
        if let Some(batch) = due
            && ctx.patched("member-sync-reports-settled")
        {
            Self::send_report(ctx, Some(batch)).await;
        }
    }

    /// Sends what the migration has not been told yet (and the batch now written in full).
    async fn send_report(ctx: &WorkflowContext<Self>, settled: Option<u32>) {
        let now = Self::now_ms(ctx);
        let (id, report) = ctx.state_mut(|s| {
            let mut report = std::mem::take(&mut s.carried.unreported);
            let last = s.carried.last_sweep.as_ref().map_or(0, |l| l.tally.members);
            report.members = last.max(s.carried.sweep.as_ref().map_or(0, |p| p.tally.members));
            if let Some(batch) = settled {
                report.settled_batch = batch;
                s.carried.settled_batch = batch;
            }
            s.carried.reported_at_ms = now;
            (s.carried.migration.clone(), report)
        });
        let Some(id) = id else { return };
        let handle = ctx.external_workflow(id, None);
        let _ = handle
            .signal(AccessReportSignal, Lenient::new(&report), temporalio_sdk::SignalWorkflowOptions::default())
            .await;
    }

    /// Starts a sweep (or says why there is nothing to sweep).
    async fn begin_sweep(ctx: &WorkflowContext<Self>, queue: &str) -> WorkflowResult<()> {
        let Some(guild_id) = ctx.state(|s| s.guild) else { return Ok(()) };
        let now = Self::now_ms(ctx);
        // The request is taken before the plan is read, so a nudge that comes while it is
        // being read (a manifest published meanwhile) gets a sweep of its own.
        let taken_first = ctx.patched("member-sync-nudge-during-plan");
        ctx.state_mut(|s| {
            s.planning = true;
            if taken_first {
                s.carried.sweep_requested = false;
            }
        });
        let outcome =
            ctx.execute_activity(MemberSyncActivities::plan, PlanRequest { guild_id }, retry::discord(queue)).await;
        ctx.state_mut(|s| s.planning = false);
        let outcome = outcome?;
        let sweep_id = format!("sweep-{}", ctx.uuid4());
        ctx.state_mut(|s| {
            if !taken_first {
                s.carried.sweep_requested = false;
            }
            s.carried.next_sweep_at_ms = now + s.settings.sweep_interval_secs * 1000;
            match outcome {
                PlanOutcome::Skip(why) => {
                    s.status.closed = Some(why);
                    s.status.mode = None;
                    s.carried.migration = None;
                }
                PlanOutcome::Plan(plan) => {
                    s.status.closed = None;
                    // A chain the watcher has no cursor for yet is watched from the block this
                    // sweep reads, not from wherever the head is when the watcher first runs:
                    // a transfer while the first write queue drains is not missed.
                    for (chain, block) in &plan.blocks {
                        s.carried.cursors.entry(*chain).or_insert(ChainCursor { block: *block, hash: String::new() });
                    }
                    s.carried.migration = plan.migration.clone();
                    s.status.mode = plan.mode;
                    s.status.unknown_chains = plan.unreadable.clone();
                    s.carried.roles = plan.roles.clone();
                    let dry_run = std::mem::take(&mut s.dry_run_next);
                    s.carried.sweep = Some(SweepProgress {
                        sweep_id,
                        plan,
                        after: None,
                        tally: Default::default(),
                        dry_run,
                        started_at_ms: now,
                    });
                }
            }
        });
        Ok(())
    }

    /// The sweep's next page; at the last, the sweep's revocations go past the breaker.
    async fn sweep_page(ctx: &WorkflowContext<Self>, queue: &str) -> WorkflowResult<()> {
        let (guild, progress, confirm_ms) =
            ctx.state(|s| (s.guild, s.carried.sweep.clone(), s.settings.revoke_confirm_secs * 1000));
        let (Some(guild_id), Some(progress)) = (guild, progress) else { return Ok(()) };
        let page = SweepPage {
            guild_id,
            sweep_id: progress.sweep_id.clone(),
            plan: progress.plan.clone(),
            after: progress.after,
            dry_run: progress.dry_run,
            revoke_confirm_ms: confirm_ms,
        };
        let decided = ctx.execute_activity(MemberSyncActivities::sweep_page, page, Self::decide_options(queue)).await?;
        let now = Self::now_ms(ctx);
        let finished = ctx.state_mut(|s| {
            s.absorb(&decided);
            let sweep = s.carried.sweep.as_mut()?;
            sweep.tally.add(&decided.tally);
            sweep.after = decided.last.or(sweep.after);
            if !(decided.done || decided.last.is_none()) {
                return None;
            }
            let sweep = s.carried.sweep.take()?;
            s.carried.holders = sweep.tally.holders.clone();
            s.carried.last_sweep = Some(SweepSummary {
                sweep_id: sweep.sweep_id.clone(),
                manifest_version: sweep.plan.manifest_version,
                started_at_ms: sweep.started_at_ms,
                finished_at_ms: now,
                tally: sweep.tally.clone(),
                dry_run: sweep.dry_run,
                held: 0,
            });
            if sweep.dry_run {
                let t = &sweep.tally;
                s.carried.paused = Some(Pause {
                    by: "dry_run".into(),
                    reason: format!(
                        "dry run: would grant {}, would revoke {}; resume to apply",
                        t.grants, t.revocations
                    ),
                });
            }
            Some((sweep.sweep_id, sweep.dry_run))
        });
        if let Some((sweep_id, false)) = finished {
            Self::settle(ctx, sweep_id, queue).await?;
            ctx.state_mut(|s| {
                let held = s.carried.held.as_ref().map_or(0, |h| h.count);
                if let Some(last) = s.carried.last_sweep.as_mut() {
                    last.held = held;
                }
            });
        }
        Ok(())
    }

    /// The operator's answer to the held batch; then what waited behind it is settled.
    async fn decide_held(ctx: &WorkflowContext<Self>, queue: &str) -> WorkflowResult<()> {
        let (guild, held, decision) = ctx.state_mut(|s| (s.guild, s.carried.held.clone(), s.decision.take()));
        let (Some(guild_id), Some(held), Some((confirm, decision))) = (guild, held, decision) else { return Ok(()) };
        let request = HeldDecision { guild_id, batch: held.batch.clone(), confirm, decision };
        let count = ctx.execute_activity(MemberSyncActivities::decide_held, request, retry::discord(queue)).await?;
        let waiting = ctx.state_mut(|s| {
            s.carried.held = None;
            if !confirm {
                s.carried.totals.discarded += count;
            } else {
                s.status.pending_writes += count;
            }
            std::mem::take(&mut s.carried.unsettled)
        });
        for batch in waiting {
            Self::settle(ctx, batch, queue).await?;
        }
        Ok(())
    }
}

#[workflow_methods]
impl MemberSyncWorkflow {
    #[init]
    pub fn new(ctx: &WorkflowContextView, input: Lenient<MemberSyncInput>) -> Self {
        let parsed = input.parse().ok();
        Self {
            guild: parsed.as_ref().map(|i| i.guild_id),
            settings: parsed.as_ref().map(|i| i.settings.clone()).unwrap_or_default(),
            carried: parsed.and_then(|i| i.carried).unwrap_or_default(),
            input,
            continued: ctx.continued_from_run_id().is_some(),
            status: MemberSyncStatus::default(),
            decision: None,
            dry_run_next: false,
            stopping: None,
            wake: 0,
            planning: false,
        }
    }

    /// Sweeps, watches and writes until stopped; continues as new to keep its history short.
    #[run(name = "MemberSync")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<MemberSyncStatus> {
        ctx.upsert_search_attributes([KIND_ATTR.value_set(KIND.to_string())]);
        let input = ctx.state(|s| crate::parse_input("member sync", &s.input))?;
        crate::refuse_carried_on_start("member sync", input.carried.is_some(), ctx.state(|s| s.continued))?;
        input.settings.check().map_err(|errors| crate::invalid_input("member sync", &errors))?;
        ctx.upsert_search_attributes([GUILD_ID_ATTR.value_set(input.guild_id.to_string())]);
        let ctx: &WorkflowContext<Self> = ctx;
        let queue = retry::discord_queue(ctx.task_queue());
        if input.carried.is_none() {
            let opened = ctx
                .execute_activity(
                    MemberSyncActivities::open,
                    OpenSync { guild_id: input.guild_id },
                    retry::discord(&queue),
                )
                .await?;
            ctx.state_mut(|s| {
                s.carried.cursors = opened.cursors;
                s.carried.held = opened.held;
                s.dry_run_next = s.settings.dry_run_first;
            });
        }
        // Fair rounds (every due kind of work once per turn) came after runs were recorded.
        let fair = ctx.patched("member-sync-fair-rounds");
        let mut watch: Option<WatchFuture<'_>> = None;
        loop {
            if ctx.state(|s| s.stopping.is_some()) {
                if let Some(w) = watch.take() {
                    w.cancel();
                    let _ = w.await;
                }
                break;
            }
            // The watcher's answer, if it is in: its members are decided first.
            if let Some(mut w) = watch.as_mut() {
                let answer = temporalio_sdk::workflows::select! {
                    r = w => Some(r),
                    default => None,
                };
                if let Some(answer) = answer {
                    watch = None;
                    Self::take_watch(ctx, answer)?;
                }
            }
            let now = Self::now_ms(ctx);
            let view = ctx.state(|s| s.loop_view(now));
            let steps = next_round(&view, fair);
            for &step in &steps {
                match step {
                    Step::DecideHeld => Self::decide_held(ctx, &queue).await?,
                    Step::Forget => {
                        let (guild_id, users) = ctx.state_mut(|s| (s.guild, std::mem::take(&mut s.carried.leaving)));
                        if let Some(guild_id) = guild_id {
                            ctx.execute_activity(
                                MemberSyncActivities::forget,
                                Forget { guild_id, users },
                                retry::discord(&queue),
                            )
                            .await?;
                        }
                    }
                    Step::Recheck { due } => Self::recheck(ctx, &queue, false, due).await?,
                    Step::Write => {
                        // The watcher runs beside the write queue (a deploy's or a migration's
                        // first queue takes minutes at the guild's limit), not only once it has
                        // drained.
                        if watch.is_none() && ctx.patched("member-sync-watch-beside-writes") {
                            watch = Self::start_watch(ctx, &queue);
                        }
                        Self::write(ctx, &queue).await?;
                    }
                    Step::Echoes => Self::recheck(ctx, &queue, true, false).await?,
                    Step::SweepPage => Self::sweep_page(ctx, &queue).await?,
                    Step::BeginSweep => Self::begin_sweep(ctx, &queue).await?,
                }
            }
            // Runs recorded before rounds went back to the top after one of these.
            if !fair && matches!(steps.first(), Some(Step::DecideHeld | Step::Forget | Step::Recheck { .. })) {
                continue;
            }
            if ctx.history_length() > HISTORY_BUDGET || ctx.continue_as_new_suggested() {
                break;
            }
            if !steps.is_empty() {
                continue;
            }
            Self::report_settled(ctx).await;
            // Idle: the watcher runs, and the loop waits for it, an input, or the next due time.
            if watch.is_none() {
                watch = Self::start_watch(ctx, &queue);
            }
            let due_at = idle_until(&view);
            let wait = Duration::from_millis(due_at.saturating_sub(now).clamp(1_000, 86_400_000));
            let seen = ctx.state(|s| s.wake);
            let mut timer = Box::pin(ctx.timer(wait));
            let answer = match watch.as_mut() {
                Some(mut w) => temporalio_sdk::workflows::select! {
                    r = w => Some(r),
                    _ = &mut timer => None,
                    r = ctx.wait_condition(move |s: &Self| s.wake != seen) => { r?; None }
                },
                None => temporalio_sdk::workflows::select! {
                    _ = &mut timer => None,
                    r = ctx.wait_condition(move |s: &Self| s.wake != seen) => { r?; None }
                },
            };
            if !timer.is_terminated() {
                timer.cancel();
            }
            if let Some(answer) = answer {
                watch = None;
                Self::take_watch(ctx, answer)?;
            }
        }
        if let Some(w) = watch.take() {
            w.cancel();
            let _ = w.await;
        }
        let c = ctx.clone();
        ctx.wait_condition(move |_| c.all_handlers_finished()).await?;
        if ctx.state(|s| s.stopping.is_none()) {
            let next = ctx.state(|s| MemberSyncInput {
                guild_id: input.guild_id,
                settings: s.settings.clone(),
                carried: Some(Carried { runs: s.carried.runs + 1, ..s.carried.clone() }),
            });
            ctx.continue_as_new(Lenient::new(&next), ContinueAsNewOptions::default())?;
        }
        Ok(ctx.state(|s| s.fresh()))
    }

    /// A member joined, left or changed roles (from the gateway). Any payload is accepted:
    /// one that does not parse, or names another guild, is dropped.
    #[signal(name = "member_event")]
    pub fn member_event(&mut self, ctx: &mut SyncWorkflowContext<Self>, event: Lenient<MemberEvent>) {
        let event = match event.parse() {
            Ok(event) => event,
            Err(e) => return crate::signal_dropped(ctx, "member_event", &e),
        };
        if Some(event.guild_id) != self.guild {
            return crate::signal_dropped(
                ctx,
                "member_event",
                &format!("guild_id: {} is not this sync's guild", event.guild_id),
            );
        }
        match event.kind {
            MemberEventKind::Left => {
                self.carried.queued.remove(&event.user_id);
                self.carried.leaving.insert(event.user_id);
                self.wake += 1;
            }
            MemberEventKind::Joined => self.queue(
                event.user_id,
                Queued { reason: Reason::Joined, roles: Some(event.roles), seen_at_ms: event.received_at_ms },
            ),
            MemberEventKind::Updated => self.queue(
                event.user_id,
                Queued { reason: Reason::RolesChanged, roles: Some(event.roles), seen_at_ms: event.received_at_ms },
            ),
        }
    }

    /// A member linked a wallet (from WalletLink); a payload that does not parse is dropped.
    #[signal(name = "wallet_linked")]
    pub fn wallet_linked(&mut self, ctx: &mut SyncWorkflowContext<Self>, linked: Lenient<WalletLinked>) {
        match linked.parse() {
            Ok(linked) => self.queue(linked.user_id, linked.queued()),
            Err(e) => crate::signal_dropped(ctx, "wallet_linked", &e),
        }
    }

    /// A member asked for their roles (`/check-eligibility`); a bad payload is dropped.
    #[signal(name = "sync_member")]
    pub fn sync_member(&mut self, ctx: &mut SyncWorkflowContext<Self>, member: Lenient<SyncMember>) {
        match member.parse() {
            Ok(member) => self.queue(member.user_id, Queued::read(Reason::Asked)),
            Err(e) => crate::signal_dropped(ctx, "sync_member", &e),
        }
    }

    /// A new manifest version was saved: sweep with it soon. The payload is not read.
    #[signal(name = "manifest_published")]
    pub fn manifest_published(&mut self, _ctx: &mut SyncWorkflowContext<Self>, payload: Lenient<serde_json::Value>) {
        // A migration's nudge names the batch it moved; the sweep it asks for settles it.
        let batch = payload.parse().ok().and_then(|p: serde_json::Value| p.get("migration_batch")?.as_u64());
        if let Some(batch) = batch.and_then(|b| u32::try_from(b).ok()) {
            self.carried.migration_batch = self.carried.migration_batch.max(batch);
        }
        self.carried.sweep_requested = true;
        self.wake += 1;
    }

    /// Sweeps every member now (`/arrakis sync`), or dry-runs a sweep.
    #[update(name = "sync_now")]
    pub fn sync_now(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        request: Lenient<SweepRequest>,
    ) -> MemberSyncStatus {
        if let Ok(request) = request.parse() {
            self.carried.sweep_requested = true;
            self.dry_run_next = request.dry_run;
            self.wake += 1;
        }
        self.fresh()
    }

    #[update_validator(sync_now)]
    fn validate_sync_now(
        &self,
        _ctx: &WorkflowContextView,
        request: &Lenient<SweepRequest>,
    ) -> Result<(), HandlerError> {
        self.open_for_input()?;
        let request = request.parse().map_err(|e| e.to_string())?;
        request.check().map_err(|e| e.to_string())?;
        if self.carried.sweep.is_some() {
            return Err("a sweep is already under way: `status` shows its progress".into());
        }
        Ok(())
    }

    /// Applies the revocations the mass-removal breaker holds.
    #[update(name = "confirm_revocations")]
    pub fn confirm_revocations(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        decision: Lenient<Decision>,
    ) -> MemberSyncStatus {
        self.decide(true, decision)
    }

    #[update_validator(confirm_revocations)]
    fn validate_confirm(&self, _ctx: &WorkflowContextView, decision: &Lenient<Decision>) -> Result<(), HandlerError> {
        self.check_held(decision)
    }

    /// Drops the revocations the mass-removal breaker holds.
    #[update(name = "discard_revocations")]
    pub fn discard_revocations(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        decision: Lenient<Decision>,
    ) -> MemberSyncStatus {
        self.decide(false, decision)
    }

    #[update_validator(discard_revocations)]
    fn validate_discard(&self, _ctx: &WorkflowContextView, decision: &Lenient<Decision>) -> Result<(), HandlerError> {
        self.check_held(decision)
    }

    /// Stops writing to Discord until resumed (decisions go on and queue up).
    #[update(name = "pause")]
    pub fn pause(&mut self, _ctx: &mut SyncWorkflowContext<Self>, decision: Lenient<Decision>) -> MemberSyncStatus {
        if let Ok(d) = decision.parse() {
            self.carried.paused = Some(Pause { by: d.actor, reason: d.reason });
            self.wake += 1;
        }
        self.fresh()
    }

    #[update_validator(pause)]
    fn validate_pause(&self, _ctx: &WorkflowContextView, decision: &Lenient<Decision>) -> Result<(), HandlerError> {
        self.open_for_input()?;
        decision.parse().map_err(|e| e.to_string())?.check().map_err(|e| e.to_string().into())
    }

    /// Writes again after a pause; after a dry-run sweep, the real sweep starts now.
    #[update(name = "resume")]
    pub fn resume(&mut self, _ctx: &mut SyncWorkflowContext<Self>, decision: Lenient<Decision>) -> MemberSyncStatus {
        if decision.parse().is_ok() {
            if self.carried.paused.take().is_some_and(|p| p.by == "dry_run") {
                self.carried.sweep_requested = true;
            }
            self.wake += 1;
        }
        self.fresh()
    }

    #[update_validator(resume)]
    fn validate_resume(&self, _ctx: &WorkflowContextView, decision: &Lenient<Decision>) -> Result<(), HandlerError> {
        self.open_for_input()?;
        decision.parse().map_err(|e| e.to_string())?.check().map_err(|e| e.to_string())?;
        if self.carried.paused.is_none() {
            return Err("member sync is not paused".into());
        }
        Ok(())
    }

    /// Ends the sync (undeploy): what is queued stays in Postgres for a later run.
    #[update(name = "stop")]
    pub fn stop(&mut self, _ctx: &mut SyncWorkflowContext<Self>, decision: Lenient<Decision>) -> MemberSyncStatus {
        if let Ok(d) = decision.parse() {
            self.stopping = Some(d);
            self.wake += 1;
        }
        self.fresh()
    }

    #[update_validator(stop)]
    fn validate_stop(&self, _ctx: &WorkflowContextView, decision: &Lenient<Decision>) -> Result<(), HandlerError> {
        self.open_for_input()?;
        decision.parse().map_err(|e| e.to_string())?.check().map_err(|e| e.to_string().into())
    }

    /// Members, the last sweep and its counts, pending writes, held revocations, the last
    /// block per chain, and why nothing is written if so.
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> MemberSyncStatus {
        self.fresh()
    }
}

impl MemberSyncWorkflow {
    fn open_for_input(&self) -> Result<(), HandlerError> {
        if self.guild.is_none() {
            return Err("the sync's input is invalid".into());
        }
        if self.stopping.is_some() {
            return Err("member sync is stopping".into());
        }
        Ok(())
    }

    fn check_held(&self, decision: &Lenient<Decision>) -> Result<(), HandlerError> {
        self.open_for_input()?;
        let decision = decision.parse().map_err(|e| e.to_string())?;
        decision.check().map_err(|e| e.to_string())?;
        let Some(held) = &self.carried.held else {
            return Err(match decision.batch {
                Some(batch) => format!("batch {batch} is no longer held: nothing changed"),
                None => "no revocations are held: nothing to confirm or discard".into(),
            }
            .into());
        };
        if let Some(batch) = decision.batch.as_ref().filter(|b| **b != held.batch) {
            return Err(format!(
                "batch {batch} is no longer held (batch {} is, with {} removals): nothing changed",
                held.batch, held.count
            )
            .into());
        }
        if self.decision.is_some() {
            return Err("a decision on the held revocations is already being applied".into());
        }
        Ok(())
    }

    fn decide(&mut self, confirm: bool, decision: Lenient<Decision>) -> MemberSyncStatus {
        if let Ok(d) = decision.parse() {
            self.decision = Some((confirm, d));
            self.wake += 1;
        }
        self.fresh()
    }

    /// The watcher's answer: its members are queued first; its cursors are kept.
    /// Starts the chain watcher from the carried cursors, when something is open to watch for.
    fn start_watch<'a>(ctx: &'a WorkflowContext<Self>, queue: &str) -> Option<WatchFuture<'a>> {
        let (guild_id, settings, cursors) = ctx.state(|s| {
            let open = s.status.closed.is_none() && !s.carried.roles.is_empty();
            (s.guild.filter(|_| open), s.settings.clone(), s.carried.cursors.clone())
        });
        let request = Watch {
            guild_id: guild_id?,
            cursors,
            window_ms: ms(WATCH_WINDOW),
            interval_ms: settings.watch_interval_ms,
            confirmations: settings.confirmations,
            reorg_margin: settings.reorg_margin,
            max_block_range: settings.max_block_range,
        };
        Some(Box::pin(ctx.execute_activity(
            MemberSyncActivities::watch,
            request,
            retry::chain_watch(queue, WATCH_WINDOW),
        )))
    }

    fn take_watch(ctx: &WorkflowContext<Self>, answer: Result<Watched, ActivityExecutionError>) -> WorkflowResult<()> {
        match answer {
            Ok(watched) => ctx.state_mut(|s| {
                for user in watched.moved {
                    s.queue(user, Queued::read(Reason::Transfer));
                }
                s.carried.cursors = watched.cursors;
                s.status.unknown_chains = watched.unreadable;
            }),
            // A watch that failed for good is started again at the next idle moment; the sweep
            // covers what it missed.
            Err(ActivityExecutionError::Failed(_)) => {}
            Err(other) => return Err(other.into()),
        }
        Ok(())
    }
}
