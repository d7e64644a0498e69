//! The kill switch: freeze synthesis for one guild or for all of them, until lifted. The flag
//! is what the synthesis activities check before every change; pausing the running syntheses
//! is the runbook's batch signal beside it.

use crate::GuildId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Workflow type name.
pub const WORKFLOW_TYPE: &str = "KillSwitch";
/// `ArrakisKind` value.
pub const KIND: &str = "kill_switch";

/// The readable workflow ID: `kill-switch-global` or `kill-switch-{guild_id}`.
pub fn workflow_id(guild_id: Option<GuildId>) -> String {
    guild_id.map_or_else(|| "kill-switch-global".to_string(), |g| format!("kill-switch-{g}"))
}

/// Input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KillSwitchInput {
    /// One guild, or every guild when absent.
    #[serde(default)]
    pub guild_id: Option<GuildId>,
    /// True to freeze, false to lift.
    pub frozen: bool,
    /// Why (1–500 characters), for the audit trail.
    pub reason: String,
    /// Who (e.g. `cli:alice`; 1–100 characters).
    #[serde(default = "default_actor")]
    pub actor: String,
}

fn default_actor() -> String {
    "cli".into()
}

impl KillSwitchInput {
    /// Checks the reason and the actor, naming the field.
    pub fn validate(&self) -> Result<(), crate::ValidationErrors> {
        let mut errors = crate::ValidationErrors::default();
        crate::check_text(&mut errors, "reason", &self.reason, true, crate::REASON_MAX);
        crate::check_actor(&mut errors, "actor", &self.actor);
        errors.into_result()
    }
}
