//! A member's eligibility check (`eligibility-{guild_id}-{user_id}`): one activity under
//! Temporal's retries; when it cannot answer, the report says why and changes nothing.

use crate::{GUILD_ID_ATTR, KIND_ATTR};
use arrakis_activities::eligibility::{CHAIN_ATTEMPTS, MemberActivities};
use arrakis_schemas::{
    Lenient,
    temporal::SyncMemberSignal,
    workflows::{
        eligibility_check::{EligibilityCheckInput, EligibilityReport, KIND},
        member_sync::SyncMember,
    },
};
use std::time::Duration;
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult};

/// One check.
#[workflow]
pub struct EligibilityCheckWorkflow {
    input: Lenient<EligibilityCheckInput>,
    report: EligibilityReport,
}

#[workflow_methods]
impl EligibilityCheckWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: Lenient<EligibilityCheckInput>) -> Self {
        Self { input, report: EligibilityReport::default() }
    }

    /// Runs the check; its last attempt answers `unknown` for an unreachable chain.
    #[run(name = "EligibilityCheck")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<EligibilityReport> {
        ctx.upsert_search_attributes([KIND_ATTR.value_set(KIND.to_string())]);
        let input = ctx.state(|s| crate::parse_input("eligibility check", &s.input))?;
        ctx.upsert_search_attributes([GUILD_ID_ATTR.value_set(input.guild_id.to_string())]);
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
            .retry_policy(
                RetryPolicy::builder()
                    .initial_interval(Duration::from_millis(500))
                    .backoff_coefficient(2.0)
                    .maximum_attempts(CHAIN_ATTEMPTS)
                    .build(),
            )
            .build();
        let report = match ctx.execute_activity(MemberActivities::check, input.clone(), options).await {
            Ok(report) => report,
            Err(e) => EligibilityReport {
                error: Some(format!("could not check eligibility: {e}")),
                done: true,
                ..Default::default()
            },
        };
        ctx.state_mut(|s| s.report = report.clone());
        // A member who asked gets their roles synced too (added after runs were recorded).
        if report.error.is_none() && ctx.patched("eligibility-syncs-member") {
            let member = Lenient::new(&SyncMember { user_id: input.user_id });
            crate::tell_member_sync(ctx, input.guild_id, SyncMemberSignal, member).await;
        }
        Ok(report)
    }

    /// The report (empty until the check is done).
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> EligibilityReport {
        self.report.clone()
    }
}
