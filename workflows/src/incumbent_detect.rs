//! Incumbent detection (`incumbent-detect-{guild_id}`): one activity reads what the guild
//! shows (or takes the operator's override), records the finding, and puts a community with
//! an incumbent on the 6-hourly shadow-sync schedule.

use crate::{GUILD_ID_ATTR, KIND_ATTR, retry};
use arrakis_activities::shadow::ShadowActivities;
use arrakis_schemas::{
    Lenient,
    workflows::incumbent::{DetectInput, DetectOutcome, KIND},
};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowContextView, WorkflowResult};

/// One detection.
#[workflow]
pub struct IncumbentDetectWorkflow {
    input: Lenient<DetectInput>,
    outcome: DetectOutcome,
}

#[workflow_methods]
impl IncumbentDetectWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: Lenient<DetectInput>) -> Self {
        Self { input, outcome: DetectOutcome::default() }
    }

    /// Detects and records.
    #[run(name = "IncumbentDetect")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<DetectOutcome> {
        ctx.upsert_search_attributes([KIND_ATTR.value_set(KIND.to_string())]);
        let input = ctx.state(|s| crate::parse_input("incumbent detection", &s.input))?;
        ctx.upsert_search_attributes([GUILD_ID_ATTR.value_set(input.guild_id.to_string())]);
        let queue = retry::discord_queue(ctx.task_queue());
        let outcome = ctx.execute_activity(ShadowActivities::detect, input, retry::discord(&queue)).await?;
        ctx.state_mut(|s| s.outcome = outcome.clone());
        Ok(outcome)
    }

    /// The finding (empty until done).
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> DetectOutcome {
        self.outcome.clone()
    }
}
