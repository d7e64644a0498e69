//! The incumbent's health (`incumbent-health-{guild_id}`, every 6 hours from its schedule):
//! read how recently the incumbent bot worked, record it, and tell the operator once per worse
//! level, with an **Activate Arrakis as backup** button. Nothing is ever activated by itself.

use crate::{GUILD_ID_ATTR, KIND_ATTR, retry};
use arrakis_activities::{migration::MigrationActivities, shadow::ShadowActivities};
use arrakis_schemas::{
    Lenient,
    workflows::{
        incumbent::{HEALTH_KIND, HealthInput, HealthNotified, IncumbentHealth},
        migration::{MigrationNotice, NoticeButton},
    },
};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowContextView, WorkflowResult};

/// The patch under which the level told is recorded after the notice is posted.
const NOTIFIED_AFTER_POST: &str = "health-notified-after-post";

/// One health check.
#[workflow]
pub struct IncumbentHealthWorkflow {
    input: Lenient<HealthInput>,
    health: IncumbentHealth,
}

#[workflow_methods]
impl IncumbentHealthWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: Lenient<HealthInput>) -> Self {
        Self { input, health: IncumbentHealth::default() }
    }

    /// Checks, records, and alerts the operator when the incumbent got worse.
    #[run(name = "IncumbentHealth")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<IncumbentHealth> {
        ctx.upsert_search_attributes([KIND_ATTR.value_set(HEALTH_KIND.to_string())]);
        let input = ctx.state(|s| crate::parse_input("incumbent health", &s.input))?;
        ctx.upsert_search_attributes([GUILD_ID_ATTR.value_set(input.guild_id.to_string())]);
        let queue = retry::discord_queue(ctx.task_queue());
        let guild_id = input.guild_id;
        // The level told is recorded once Discord took the notice (older runs recorded it first,
        // so a notice that failed was never sent again at that level).
        let after_post = ctx.patched(NOTIFIED_AFTER_POST);
        let report = if after_post {
            ctx.execute_activity(ShadowActivities::judge_health, input, retry::discord(&queue)).await?
        } else {
            ctx.execute_activity(ShadowActivities::health, input, retry::discord(&queue)).await?
        };
        ctx.state_mut(|s| s.health = report.health.clone());
        if report.notify {
            let health = &report.health;
            let name = health.signals.incumbent.map_or("The incumbent bot", |i| i.signature().name);
            let text = format!(
                "**{name} may be down** ({}):\n{}\nArrakis changes nothing by itself. If members are not getting their roles, \
                 **Activate Arrakis as backup** starts a migration in which Arrakis leads with its own `arrakis-*` \
                 roles (the incumbent's stay as they are), undone with one Rollback click.",
                health.level.as_str(),
                health.findings.iter().map(|f| format!("- {f}")).collect::<Vec<_>>().join("\n")
            );
            let notice = MigrationNotice { guild_id, text, button: Some(NoticeButton::ActivateBackup) };
            // The finding is recorded whether or not the operator's channel takes the message.
            let posted = ctx.execute_activity(MigrationActivities::notify, notice, retry::discord(&queue)).await;
            if after_post && matches!(posted, Ok(true)) {
                let told = HealthNotified { guild_id, level: health.level };
                ctx.execute_activity(ShadowActivities::health_notified, told, retry::discord(&queue)).await?;
            }
        }
        Ok(report.health)
    }

    /// The last verdict (empty until the check is done).
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> IncumbentHealth {
        self.health.clone()
    }
}
