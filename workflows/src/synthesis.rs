//! Synthesis: apply one manifest version to a guild. Plan, then roles → categories →
//! channels (with their permission overwrites), a few ops at a time, each an idempotent
//! activity on the Discord task queue. Pause, resume and cancel arrive as payload-free signals.

use crate::{
    GUILD_ID_ATTR, KIND_ATTR,
    apply::{Target, apply_batch, batches},
    retry,
};
use arrakis_activities::{AuditEntry, SynthesisActivities};
use arrakis_schemas::{
    Lenient,
    workflows::synthesis::{KIND, OrderRoles, SynthesisInput, SynthesisOutcome, SynthesisPlan, SynthesisStatus},
};
use serde_json::json;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ApplicationFailure, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult};

/// Applies a manifest version to Discord and records what it applied.
#[workflow]
pub struct SynthesisWorkflow {
    input: Lenient<SynthesisInput>,
    status: SynthesisStatus,
}

impl SynthesisWorkflow {
    fn audit(ctx: &WorkflowContext<Self>, community_id: &str, action: &str, detail: serde_json::Value) -> AuditEntry {
        AuditEntry {
            community_id: community_id.to_string(),
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
        Self { input, status: SynthesisStatus::default() }
    }

    /// Plans and applies the version; fails with an account of every op that failed.
    #[run(name = "Synthesis")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<SynthesisOutcome> {
        ctx.upsert_search_attributes([KIND_ATTR.value_set(KIND.to_string())]);
        let input = ctx.state(|s| crate::parse_input("synthesis", &s.input))?;
        ctx.upsert_search_attributes([GUILD_ID_ATTR.value_set(input.guild_id.to_string())]);
        let discord_queue = retry::discord_queue(ctx.task_queue());
        let plan: SynthesisPlan =
            ctx.execute_activity(SynthesisActivities::plan, input.clone(), retry::discord(&discord_queue)).await?;
        let community = plan.community_id.clone();
        ctx.state_mut(|s| s.status.planned = plan.ops.len() as u32);
        let started = Self::audit(
            ctx,
            &community,
            "synthesis.started",
            json!({"version": input.version, "planned": plan.ops.len(), "unchanged": plan.unchanged}),
        );
        ctx.execute_activity(SynthesisActivities::audit, started, retry::discord(&discord_queue)).await?;

        let mut failed = Vec::new();
        let target = Target {
            guild_id: input.guild_id,
            community_id: &community,
            version: input.version,
            queue: &discord_queue,
        };
        for batch in batches(&plan.ops) {
            ctx.wait_condition(|s| !s.status.paused || s.status.cancelled).await?;
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
        // Added after runs were recorded: the patch keeps their replay deterministic.
        if ctx.patched("synthesis-order-roles")
            && failed.is_empty()
            && !plan.ops.is_empty()
            && !ctx.state(|s| s.status.cancelled)
        {
            ctx.state_mut(|s| s.status.current_op = Some("order roles".into()));
            let order =
                OrderRoles { guild_id: input.guild_id, community_id: community.clone(), version: input.version };
            if let Err(e) =
                ctx.execute_activity(SynthesisActivities::order, order, retry::discord_apply(&discord_queue)).await
            {
                failed.push(format!("order roles: {e}"));
            }
        }
        ctx.state_mut(|s| s.status.current_op = None);
        let (applied, cancelled) = ctx.state(|s| (s.status.applied, s.status.cancelled));
        let outcome = SynthesisOutcome { applied, unchanged: plan.unchanged, failed: failed.clone(), cancelled };
        let action = if !failed.is_empty() {
            "synthesis.failed"
        } else if cancelled {
            "synthesis.cancelled"
        } else {
            "synthesis.completed"
        };
        let detail = json!({"version": input.version, "applied": applied, "unchanged": plan.unchanged, "failed": failed, "cancelled": cancelled});
        let entry = Self::audit(ctx, &community, action, detail);
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

    /// Holds before the next batch of ops (the kill switch sends it to every synthesis).
    #[signal(name = "pause")]
    pub fn pause(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _input: ()) {
        self.status.paused = true;
    }

    /// Continues after a pause.
    #[signal(name = "resume")]
    pub fn resume(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _input: ()) {
        self.status.paused = false;
    }

    /// Stops after the ops in flight; what was applied stays applied and recorded.
    #[signal(name = "cancel")]
    pub fn cancel(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _input: ()) {
        self.status.cancelled = true;
    }

    /// Planned, applied, failed (with why), the op in flight, paused.
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> SynthesisStatus {
        self.status.clone()
    }
}
