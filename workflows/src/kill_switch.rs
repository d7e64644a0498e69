//! The kill switch: sets the freeze flag the synthesis activities check before every change.

use crate::{GUILD_ID_ATTR, KIND_ATTR, retry};
use arrakis_activities::ManifestActivities;
use arrakis_schemas::{
    Lenient,
    workflows::kill_switch::{KIND, KillSwitchInput},
};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowContextView, WorkflowResult};

/// Freezes or thaws synthesis, globally or for one guild.
#[workflow]
pub struct KillSwitchWorkflow {
    input: Lenient<KillSwitchInput>,
    done: bool,
}

#[workflow_methods]
impl KillSwitchWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: Lenient<KillSwitchInput>) -> Self {
        Self { input, done: false }
    }

    /// Validates and sets the flag; returns what is now in force.
    #[run(name = "KillSwitch")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<String> {
        ctx.upsert_search_attributes([KIND_ATTR.value_set(KIND.to_string())]);
        let input = ctx.state(|s| crate::parse_input("kill switch", &s.input))?;
        input.validate().map_err(|errors| crate::invalid_input("kill switch", &errors))?;
        let scope = input.guild_id.map_or_else(|| "every guild".to_string(), |g| format!("guild {g}"));
        if let Some(guild) = input.guild_id {
            ctx.upsert_search_attributes([GUILD_ID_ATTR.value_set(guild.to_string())]);
        }
        let frozen = input.frozen;
        ctx.execute_activity(ManifestActivities::set_kill_switch, input, retry::storage()).await?;
        ctx.state_mut(|s| s.done = true);
        Ok(format!("synthesis {} for {scope}", if frozen { "frozen" } else { "running" }))
    }

    /// Whether the flag has been set.
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> bool {
        self.done
    }
}
