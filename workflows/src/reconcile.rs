//! Reconciliation: the three-way diff of a guild (manifest, shadow state, Discord), reported in
//! a dry run and fixed in apply mode through the same idempotent activities as synthesis. What
//! the manifest dropped is held and reported until the operator decides (remove or detach);
//! the report goes to the operator's channel after the fixes, with each item's outcome.

use crate::{
    GUILD_ID_ATTR, KIND_ATTR,
    apply::{Target, apply_batch, batches, failure_reason},
    retry,
};
use arrakis_activities::{AuditEntry, SynthesisActivities, WizardActivities};
use arrakis_schemas::{
    Lenient, Mode,
    plan::ItemKind,
    workflows::member_sync::EnsureSync,
    workflows::reconcile::{
        DeleteExtra, Drift, DriftKind, DriftNotice, ExtraItem, ItemReport, KIND, Outcome, ReconcileDiff,
        ReconcileInput, ReconcileMode, ReconcileReport, ReportNotice,
    },
    workflows::synthesis::OrderRoles,
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

    /// Diffs, audits the drift, fixes it unless this is a dry run (or the community is in
    /// shadow mode), then reports what became of each item.
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
        // Runs recorded before reports moved after the fixes keep their order of commands.
        if !ctx.patched("reconcile-report-after-fixes") {
            return Self::run_reported_first(ctx, &input, &diff, &queue).await;
        }
        input.check().map_err(|errors| crate::invalid_input("reconcile", &errors))?;
        let mut drift = diff.drift.clone();
        drift.extend(diff.extras.iter().map(|e| Drift {
            key: e.key.clone(),
            kind: DriftKind::ExtraButOurs,
            detail: e.detail.clone().unwrap_or_default(),
            item: Some(e.kind),
            name: Some(e.name.clone()),
        }));
        ctx.state_mut(|s| s.report.drift = drift.clone());
        if drift.is_empty() {
            return Ok(ctx.state(|s| s.report.clone()));
        }
        let shadow = diff.mode == Some(Mode::Shadow);
        let fixing = input.mode == ReconcileMode::Apply && !shadow;
        Self::audit(
            ctx,
            &diff,
            "reconcile.drift",
            json!({"version": diff.version, "mode": input.mode, "drift": drift}),
        )
        .await?;

        let mut items: Vec<ItemReport> = Vec::new();
        if fixing {
            let target = Target {
                guild_id: input.guild_id,
                community_id: diff.community_id,
                version: diff.version,
                queue: &queue,
            };
            for batch in batches(&diff.ops) {
                let outcomes = apply_batch(ctx, &target, &batch).await?;
                for (op, (_, failure)) in batch.iter().zip(outcomes) {
                    let outcome = match failure {
                        None => Outcome::Fixed,
                        Some(reason) => Outcome::Failed { reason },
                    };
                    items.push(item_of(&diff.drift, ItemKind::of_phase(op.phase), &op.key, outcome));
                }
            }
        } else {
            for d in &diff.drift {
                items.push(item_of(&diff.drift, d.item.unwrap_or(ItemKind::Role), &d.key, Outcome::Reported));
            }
        }
        // A recreated role is empty and at the bottom of the list: it goes back to its place,
        // and member sync gives it back to every member who qualifies (a sweep, paced by the
        // guild's limit), forgetting what was queued for the dead id.
        let recreated: Vec<String> = items
            .iter()
            .filter(|i| {
                i.item == ItemKind::Role && i.drift == DriftKind::DeletedInDiscord && i.outcome == Outcome::Fixed
            })
            .map(|i| i.key.clone())
            .collect();
        if !recreated.is_empty() && ctx.patched("reconcile-restores-recreated-roles") {
            let order = OrderRoles {
                guild_id: input.guild_id,
                community_id: diff.community_id,
                version: diff.version,
                recreated: recreated.clone(),
            };
            if let Err(e) = ctx.execute_activity(SynthesisActivities::order, order, retry::discord(&queue)).await {
                ctx.state_mut(|s| s.report.failed.push(format!("role order after recreating {recreated:?}: {e}")));
            }
            let ensure = EnsureSync { guild_id: input.guild_id, task_queue: ctx.task_queue().to_string() };
            if let Err(e) = ctx.execute_activity(WizardActivities::ensure_member_sync, ensure, retry::storage()).await {
                ctx.state_mut(|s| s.report.failed.push(format!("member sync after recreating {recreated:?}: {e}")));
            }
        }
        for extra in &diff.extras {
            let outcome = if !fixing {
                Outcome::Reported
            } else if input.remove.contains(&extra.reference()) {
                Self::dispose(ctx, &input, &diff, extra, true, &queue).await?
            } else if input.detach.contains(&extra.reference()) {
                Self::dispose(ctx, &input, &diff, extra, false, &queue).await?
            } else {
                Outcome::Held
            };
            items.push(ItemReport {
                item: extra.kind,
                key: extra.key.clone(),
                name: extra.name.clone(),
                drift: DriftKind::ExtraButOurs,
                detail: extra.detail.clone().unwrap_or_default(),
                outcome,
            });
        }
        ctx.state_mut(|s| {
            for item in &items {
                match &item.outcome {
                    Outcome::Fixed | Outcome::Removed | Outcome::Detached => s.report.applied += 1,
                    Outcome::Failed { reason } => {
                        s.report.failed.push(format!("{} {}: {reason}", item.item.as_str(), item.key))
                    }
                    Outcome::Held | Outcome::Reported => {}
                }
            }
            s.report.items = items;
            s.report.reported_only = (shadow && input.mode == ReconcileMode::Apply)
                .then(|| "the community is in shadow mode: Arrakis changes nothing in Discord".to_string());
        });
        let report = ctx.state(|s| s.report.clone());
        Self::audit(ctx, &diff, "reconcile.outcome", json!({"version": diff.version, "items": report.items})).await?;
        if let Some(channel_id) = diff.operator_channel_id {
            let notice = ReportNotice { guild_id: input.guild_id, channel_id, report: report.clone() };
            // The report is a courtesy: a channel the bot cannot post in changes no outcome.
            if let Err(e) =
                ctx.execute_activity(SynthesisActivities::reconcile_report, notice, retry::discord(&queue)).await
            {
                ctx.state_mut(|s| s.report.failed.push(format!("report to the operator's channel: {e}")));
            }
        }
        Ok(ctx.state(|s| s.report.clone()))
    }

    /// The drift found so far and what became of each item.
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> ReconcileReport {
        self.report.clone()
    }
}

/// The report line of a drifted item and its outcome.
fn item_of(drift: &[Drift], kind: ItemKind, key: &str, outcome: Outcome) -> ItemReport {
    let found = drift.iter().find(|d| d.key == key && d.item.is_none_or(|i| i == kind));
    ItemReport {
        item: kind,
        key: key.to_string(),
        name: found.and_then(|d| d.name.clone()).unwrap_or_else(|| key.to_string()),
        drift: found.map_or(DriftKind::Outdated, |d| d.kind),
        detail: found.map(|d| d.detail.clone()).unwrap_or_default(),
        outcome,
    }
}

impl ReconcileWorkflow {
    async fn audit(
        ctx: &mut WorkflowContext<Self>,
        diff: &ReconcileDiff,
        action: &str,
        detail: serde_json::Value,
    ) -> WorkflowResult<()> {
        let entry = AuditEntry {
            community_id: diff.community_id,
            actor: format!("workflow:{}", ctx.workflow_id()),
            action: action.into(),
            detail,
            workflow_id: ctx.workflow_id().to_string(),
        };
        let queue = retry::discord_queue(ctx.task_queue());
        ctx.execute_activity(SynthesisActivities::audit, entry, retry::discord(&queue)).await?;
        Ok(())
    }

    /// Removes (or detaches) an item the operator decided about.
    async fn dispose(
        ctx: &mut WorkflowContext<Self>,
        input: &ReconcileInput,
        diff: &ReconcileDiff,
        extra: &ExtraItem,
        remove: bool,
        queue: &str,
    ) -> WorkflowResult<Outcome> {
        let request = DeleteExtra {
            guild_id: input.guild_id,
            community_id: diff.community_id,
            item: extra.clone(),
            version: diff.version,
        };
        let result = if remove {
            ctx.execute_activity(SynthesisActivities::reconcile_delete, request, retry::discord_apply(queue)).await
        } else {
            ctx.execute_activity(SynthesisActivities::reconcile_detach, request, retry::discord(queue)).await
        };
        Ok(match failure_reason(result)? {
            None if remove => Outcome::Removed,
            None => Outcome::Detached,
            Some(reason) => Outcome::Failed { reason },
        })
    }

    /// The order of commands of runs recorded before the report moved after the fixes (and
    /// before dropped items were held for the operator): replays them as they ran.
    async fn run_reported_first(
        ctx: &mut WorkflowContext<Self>,
        input: &ReconcileInput,
        diff: &ReconcileDiff,
        queue: &str,
    ) -> WorkflowResult<ReconcileReport> {
        if !diff.drift.is_empty() {
            Self::audit(
                ctx,
                diff,
                "reconcile.drift",
                json!({"version": diff.version, "mode": input.mode, "drift": diff.drift}),
            )
            .await?;
            if let Some(channel_id) = diff.operator_channel_id {
                let notice =
                    DriftNotice { guild_id: input.guild_id, channel_id, mode: input.mode, drift: diff.drift.clone() };
                if let Err(e) =
                    ctx.execute_activity(SynthesisActivities::reconcile_notify, notice, retry::discord(queue)).await
                {
                    ctx.state_mut(|s| s.report.failed.push(format!("drift report to the operator's channel: {e}")));
                }
            }
        }
        if input.mode == ReconcileMode::Apply {
            let target =
                Target { guild_id: input.guild_id, community_id: diff.community_id, version: diff.version, queue };
            for batch in batches(&diff.ops) {
                for (op, failure) in apply_batch(ctx, &target, &batch).await? {
                    Self::record(ctx, op, failure);
                }
            }
            for extra in &diff.extras {
                let delete = DeleteExtra {
                    guild_id: input.guild_id,
                    community_id: diff.community_id,
                    item: extra.clone(),
                    version: diff.version,
                };
                let result = ctx
                    .execute_activity(SynthesisActivities::reconcile_delete, delete, retry::discord_apply(queue))
                    .await;
                Self::record(ctx, format!("delete {} {}", extra.kind.as_str(), extra.key), failure_reason(result)?);
            }
        }
        Ok(ctx.state(|s| s.report.clone()))
    }

    fn record(ctx: &mut WorkflowContext<Self>, op: String, failure: Option<String>) {
        match failure {
            None => ctx.state_mut(|s| s.report.applied += 1),
            Some(why) => ctx.state_mut(|s| s.report.failed.push(format!("{op}: {why}"))),
        }
    }
}
