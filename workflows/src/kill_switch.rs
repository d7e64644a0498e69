//! The kill switch: sets the freeze flag the gate checks before every Discord change, then
//! holds the running syntheses it covers (or releases what it held, when lifted).

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
        ctx.execute_activity(ManifestActivities::set_kill_switch, input.clone(), retry::storage()).await?;
        // Added after runs were recorded: the patch keeps their replay deterministic.
        let told = if ctx.patched("kill-switch-holds-syntheses") {
            let told = ctx.execute_activity(ManifestActivities::hold_syntheses, input, retry::storage()).await?;
            format!(
                "; {told} running synthes{} {}",
                if told == 1 { "is" } else { "es" },
                if frozen { "held" } else { "released" }
            )
        } else {
            String::new()
        };
        ctx.state_mut(|s| s.done = true);
        Ok(format!("changes {} for {scope}{told}", if frozen { "frozen" } else { "running" }))
    }

    /// Whether the flag has been set.
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> bool {
        self.done
    }
}
