//! Synthesis: apply one manifest version to a guild. Plan, then roles → categories →
//! channels (with their permission overwrites), a few ops at a time, each an idempotent
//! activity on the Discord task queue. The operator's pause, resume and cancel arrive as
//! signals whose payload is ignored; the kill switch holds and releases runs with its own
//! `freeze` and `thaw`, so each hold is lifted only by what set it.

use crate::{
    GUILD_ID_ATTR, KIND_ATTR,
    apply::{Target, apply_batch, batches, failure_reason},
    retry,
};
use arrakis_activities::{AuditEntry, SynthesisActivities};
use arrakis_schemas::{
    CommunityId, Lenient,
    workflows::{
        reconcile::DeleteExtra,
        synthesis::{
            FreezeNotice, GuildFreezes, Hold, KIND, OrderRoles, RemovalChoice, SynthesisInput, SynthesisOutcome,
            SynthesisPlan, SynthesisStatus,
        },
    },
};
use serde_json::json;
use std::{collections::BTreeSet, time::Duration};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ApplicationFailure, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult, workflows::select,
};

/// While only freezes hold a run, it asks the gate whether they still stand after this long,
/// then twice as long each time up to [`FREEZE_RECHECK_MAX`]: a lift the run did not hear
/// (it was not yet listed when the kill switch sent `thaw`) releases it soon, and a long freeze
/// costs a handful of history events an hour.
const FREEZE_RECHECK: Duration = Duration::from_secs(10);
const FREEZE_RECHECK_MAX: Duration = Duration::from_secs(300);

/// Applies a manifest version to Discord and records what it applied.
#[workflow]
pub struct SynthesisWorkflow {
    input: Lenient<SynthesisInput>,
    status: SynthesisStatus,
    holds: BTreeSet<Hold>,
}

impl SynthesisWorkflow {
    fn hold(&mut self, hold: Hold) {
        self.holds.insert(hold);
        self.show_holds();
    }

    fn release(&mut self, hold: Hold) {
        self.holds.remove(&hold);
        self.show_holds();
    }

    fn show_holds(&mut self) {
        self.status.held_by = self.holds.iter().copied().collect();
        self.status.paused = !self.holds.is_empty();
    }

    /// Waits until nothing holds the run (or it is cancelled). While only freezes hold it,
    /// the gate is asked now and then ([`FREEZE_RECHECK`]) whether they still stand.
    async fn until_released(ctx: &mut WorkflowContext<Self>, guild: &GuildFreezes, queue: &str) -> WorkflowResult<()> {
        let mut recheck = FREEZE_RECHECK;
        loop {
            let (held, frozen_only) = ctx.state(|s| {
                let held = !s.holds.is_empty() && !s.status.cancelled;
                (held, s.holds.iter().all(|h| *h != Hold::Operator))
            });
            if !held {
                return Ok(());
            }
            if !frozen_only {
                ctx.wait_condition(|s| s.holds.is_empty() || s.status.cancelled).await?;
                continue;
            }
            let released = select! {
                r = ctx.wait_condition(|s| s.holds.is_empty() || s.status.cancelled) => { r?; true },
                _ = ctx.timer(recheck) => false,
            };
            if !released {
                recheck = (recheck * 2).min(FREEZE_RECHECK_MAX);
                let standing =
                    ctx.execute_activity(SynthesisActivities::freezes, guild.clone(), retry::discord(queue)).await?;
                ctx.state_mut(|s| {
                    for hold in [Hold::GlobalFreeze, Hold::GuildFreeze] {
                        if !standing.iter().any(|f| Hold::from(*f) == hold) {
                            s.release(hold);
                        }
                    }
                });
            }
        }
    }

    /// What the version drops, as the operator decided at REVIEW: deleted, detached, or held
    /// (kept and reported). Returns (removed, detached, held).
    async fn removals(
        ctx: &mut WorkflowContext<Self>,
        input: &SynthesisInput,
        plan: &SynthesisPlan,
        queue: &str,
        failed: &mut Vec<String>,
    ) -> WorkflowResult<(u32, u32, u32)> {
        let (mut removed, mut detached) = (0, 0);
        if input.removals == RemovalChoice::Hold {
            return Ok((0, 0, plan.removals.len() as u32));
        }
        for item in &plan.removals {
            ctx.state_mut(|s| {
                s.status.current_op = Some(format!("{:?} {} {}", input.removals, item.kind.as_str(), item.key))
            });
            let request = DeleteExtra {
                guild_id: input.guild_id,
                community_id: plan.community_id,
                item: item.clone(),
                version: input.version,
            };
            let result = if input.removals == RemovalChoice::Remove {
                ctx.execute_activity(SynthesisActivities::reconcile_delete, request, retry::discord_apply(queue)).await
            } else {
                ctx.execute_activity(SynthesisActivities::reconcile_detach, request, retry::discord(queue)).await
            };
            match failure_reason(result)? {
                None if input.removals == RemovalChoice::Remove => removed += 1,
                None => detached += 1,
                Some(why) => failed.push(format!("remove {} {}: {why}", item.kind.as_str(), item.key)),
            }
        }
        Ok((removed, detached, 0))
    }

    fn audit(
        ctx: &WorkflowContext<Self>,
        community_id: CommunityId,
        action: &str,
        detail: serde_json::Value,
    ) -> AuditEntry {
        AuditEntry {
            community_id,
            actor: format!("workflow:{}", ctx.workflow_id()),
            action: action.to_string(),
            detail,
            workflow_id: ctx.workflow_id().to_string(),
        }
    }
}

#[workflow_methods]
impl SynthesisWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: Lenient<SynthesisInput>) -> Self {
        Self { input, status: SynthesisStatus::default(), holds: BTreeSet::new() }
    }

    /// Plans and applies the version; fails with an account of every op that failed.
    #[run(name = "Synthesis")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<SynthesisOutcome> {
        ctx.upsert_search_attributes([KIND_ATTR.value_set(KIND.to_string())]);
        let input = ctx.state(|s| crate::parse_input("synthesis", &s.input))?;
        input.check().map_err(|errors| crate::invalid_input("synthesis", &errors))?;
        ctx.upsert_search_attributes([GUILD_ID_ATTR.value_set(input.guild_id.to_string())]);
        let guild = GuildFreezes { guild_id: input.guild_id };
        let discord_queue = retry::discord_queue(ctx.task_queue());
        let plan: SynthesisPlan =
            ctx.execute_activity(SynthesisActivities::plan, input.clone(), retry::discord(&discord_queue)).await?;
        let community = plan.community_id;
        // Shadow mode: the version is saved and compared, and nothing changes in Discord.
        if let Some(why) = plan.closed.clone() {
            let skipped =
                Self::audit(ctx, community, "synthesis.skipped", json!({"version": input.version, "why": why}));
            ctx.execute_activity(SynthesisActivities::audit, skipped, retry::discord(&discord_queue)).await?;
            return Ok(SynthesisOutcome {
                unchanged: plan.unchanged,
                skipped: Some(why),
                ..SynthesisOutcome::default()
            });
        }
        // A run planned during a freeze starts held by it (the gate would refuse its changes).
        ctx.state_mut(|s| {
            s.status.planned = plan.ops.len() as u32;
            for scope in &plan.frozen {
                s.hold(Hold::from(*scope));
            }
        });
        let started = Self::audit(
            ctx,
            community,
            "synthesis.started",
            json!({"version": input.version, "planned": plan.ops.len(), "unchanged": plan.unchanged}),
        );
        ctx.execute_activity(SynthesisActivities::audit, started, retry::discord(&discord_queue)).await?;

        let mut failed = Vec::new();
        let target =
            Target { guild_id: input.guild_id, community_id: community, version: input.version, queue: &discord_queue };
        for batch in batches(&plan.ops) {
            Self::until_released(ctx, &guild, &discord_queue).await?;
            if ctx.state(|s| s.status.cancelled) {
                break;
            }
            let described: Vec<String> = batch.iter().map(|op| op.describe()).collect();
            ctx.state_mut(|s| s.status.current_op = Some(described.join(", ")));
            for (op, failure) in apply_batch(ctx, &target, &batch).await? {
                match failure {
                    None => ctx.state_mut(|s| s.status.applied += 1),
                    Some(why) => {
                        let reason = format!("{op}: {why}");
                        ctx.state_mut(|s| s.status.failed.push(reason.clone()));
                        failed.push(reason);
                    }
                }
            }
        }
        // A pause or a freeze that arrived during the last batch holds the removals too.
        Self::until_released(ctx, &guild, &discord_queue).await?;
        let (removed, detached, held) = if failed.is_empty() && !ctx.state(|s| s.status.cancelled) {
            Self::removals(ctx, &input, &plan, &discord_queue, &mut failed).await?
        } else {
            (0, 0, plan.removals.len() as u32)
        };
        // Added after runs were recorded: the patch keeps their replay deterministic.
        if ctx.patched("synthesis-order-roles")
            && failed.is_empty()
            && !plan.ops.is_empty()
            && !ctx.state(|s| s.status.cancelled)
        {
            Self::until_released(ctx, &guild, &discord_queue).await?;
            ctx.state_mut(|s| s.status.current_op = Some("order roles".into()));
            let order = OrderRoles {
                guild_id: input.guild_id,
                community_id: community,
                version: input.version,
                recreated: Vec::new(),
            };
            if let Err(e) =
                ctx.execute_activity(SynthesisActivities::order, order, retry::discord_apply(&discord_queue)).await
            {
                failed.push(format!("order roles: {e}"));
            }
        }
        ctx.state_mut(|s| s.status.current_op = None);
        let (applied, cancelled) = ctx.state(|s| (s.status.applied, s.status.cancelled));
        let outcome = SynthesisOutcome {
            applied,
            unchanged: plan.unchanged,
            failed: failed.clone(),
            cancelled,
            removed,
            detached,
            held,
            skipped: None,
        };
        let action = if !failed.is_empty() {
            "synthesis.failed"
        } else if cancelled {
            "synthesis.cancelled"
        } else {
            "synthesis.completed"
        };
        let detail = json!({"version": input.version, "applied": applied, "unchanged": plan.unchanged, "failed": failed,
            "cancelled": cancelled, "removed": removed, "detached": detached, "held": held});
        let entry = Self::audit(ctx, community, action, detail);
        ctx.execute_activity(SynthesisActivities::audit, entry, retry::discord(&discord_queue)).await?;
        if !failed.is_empty() {
            return Err(ApplicationFailure::builder(format!(
                "{} of {} ops failed (re-run the same version to finish the rest): {}",
                failed.len(),
                plan.ops.len(),
                failed.join("; ")
            ))
            .type_name("SynthesisIncomplete".to_string())
            .non_retryable(true)
            .build()
            .into());
        }
        Ok(outcome)
    }

    /// The operator holds the run before its next change. Any payload is ignored.
    #[signal(name = "pause")]
    pub fn pause(&mut self, ctx: &mut SyncWorkflowContext<Self>, input: Lenient<()>) {
        crate::ignore_payload(ctx, "pause", &input);
        self.hold(Hold::Operator);
    }

    /// Lifts the operator's pause; a freeze still holds the run until it is lifted.
    #[signal(name = "resume")]
    pub fn resume(&mut self, ctx: &mut SyncWorkflowContext<Self>, input: Lenient<()>) {
        crate::ignore_payload(ctx, "resume", &input);
        self.release(Hold::Operator);
    }

    /// Stops after the ops in flight; what was applied stays applied and recorded.
    #[signal(name = "cancel")]
    pub fn cancel(&mut self, ctx: &mut SyncWorkflowContext<Self>, input: Lenient<()>) {
        crate::ignore_payload(ctx, "cancel", &input);
        self.status.cancelled = true;
    }

    /// The kill switch holds the run (`{"scope": "global" | "guild"}`); a payload that does
    /// not fit is dropped (the gate refuses the run's changes all the same).
    #[signal(name = "freeze")]
    pub fn freeze(&mut self, ctx: &mut SyncWorkflowContext<Self>, notice: Lenient<FreezeNotice>) {
        match notice.parse() {
            Ok(notice) => self.hold(Hold::from(notice.scope)),
            Err(e) => crate::signal_dropped(ctx, "freeze", &e),
        }
    }

    /// The kill switch lifted one freeze; the run carries on once nothing else holds it.
    #[signal(name = "thaw")]
    pub fn thaw(&mut self, ctx: &mut SyncWorkflowContext<Self>, notice: Lenient<FreezeNotice>) {
        match notice.parse() {
            Ok(notice) => self.release(Hold::from(notice.scope)),
            Err(e) => crate::signal_dropped(ctx, "thaw", &e),
        }
    }

    /// Planned, applied, failed (with why), the op in flight, paused.
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> SynthesisStatus {
        self.status.clone()
    }
}
