//! Reconciliation: the three-way diff of a guild (manifest, shadow state, Discord), reported in
//! a dry run and fixed in apply mode through the same idempotent activities as synthesis.

use crate::{
    GUILD_ID_ATTR, KIND_ATTR,
    apply::{Target, apply_batch, batches, failure_reason},
    retry,
};
use arrakis_activities::{AuditEntry, SynthesisActivities};
use arrakis_schemas::{
    Lenient,
    workflows::reconcile::{
        DeleteExtra, DriftNotice, KIND, ReconcileDiff, ReconcileInput, ReconcileMode, ReconcileReport,
    },
};
use serde_json::json;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowContextView, WorkflowResult};

/// Finds drift and, in apply mode, fixes it.
#[workflow]
pub struct ReconcileWorkflow {
    input: Lenient<ReconcileInput>,
    report: ReconcileReport,
}

#[workflow_methods]
impl ReconcileWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: Lenient<ReconcileInput>) -> Self {
        Self { input, report: ReconcileReport::default() }
    }

    /// Diffs, audits the drift, and fixes it unless this is a dry run.
    #[run(name = "Reconcile")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<ReconcileReport> {
        ctx.upsert_search_attributes([KIND_ATTR.value_set(KIND.to_string())]);
        let input = ctx.state(|s| crate::parse_input("reconcile", &s.input))?;
        ctx.upsert_search_attributes([GUILD_ID_ATTR.value_set(input.guild_id.to_string())]);
        let queue = retry::discord_queue(ctx.task_queue());
        let diff: ReconcileDiff =
            ctx.execute_activity(SynthesisActivities::reconcile_diff, input.clone(), retry::discord(&queue)).await?;
        ctx.state_mut(|s| {
            s.report.version = diff.version;
            s.report.drift = diff.drift.clone();
        });
        if !diff.drift.is_empty() {
            let entry = AuditEntry {
                community_id: diff.community_id.clone(),
                actor: format!("workflow:{}", ctx.workflow_id()),
                action: "reconcile.drift".into(),
                detail: json!({"version": diff.version, "mode": input.mode, "drift": diff.drift}),
                workflow_id: ctx.workflow_id().to_string(),
            };
            ctx.execute_activity(SynthesisActivities::audit, entry, retry::discord(&queue)).await?;
            if let Some(channel_id) = diff.operator_channel_id {
                let notice =
                    DriftNotice { guild_id: input.guild_id, channel_id, mode: input.mode, drift: diff.drift.clone() };
                // The report is a courtesy: a channel the bot cannot post in must not stop the fix.
                if let Err(e) =
                    ctx.execute_activity(SynthesisActivities::reconcile_notify, notice, retry::discord(&queue)).await
                {
                    ctx.state_mut(|s| s.report.failed.push(format!("drift report to the operator's channel: {e}")));
                }
            }
        }
        if input.mode == ReconcileMode::Apply {
            let target = Target {
                guild_id: input.guild_id,
                community_id: &diff.community_id,
                version: diff.version,
                queue: &queue,
            };
            for batch in batches(&diff.ops) {
                for (op, failure) in apply_batch(ctx, &target, &batch).await? {
                    Self::record(ctx, op, failure);
                }
            }
            for extra in &diff.extras {
                let delete = DeleteExtra {
                    guild_id: input.guild_id,
                    community_id: diff.community_id.clone(),
                    item: extra.clone(),
                };
                let result = ctx
                    .execute_activity(SynthesisActivities::reconcile_delete, delete, retry::discord_apply(&queue))
                    .await;
                Self::record(ctx, format!("delete {} {}", extra.kind, extra.key), failure_reason(result)?);
            }
        }
        Ok(ctx.state(|s| s.report.clone()))
    }

    /// The drift found so far and what was fixed.
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> ReconcileReport {
        self.report.clone()
    }
}

impl ReconcileWorkflow {
    fn record(ctx: &mut WorkflowContext<Self>, op: String, failure: Option<String>) {
        match failure {
            None => ctx.state_mut(|s| s.report.applied += 1),
            Some(why) => ctx.state_mut(|s| s.report.failed.push(format!("{op}: {why}"))),
        }
    }
}
