//! Shadow sync: compare Arrakis's eligibility with the roles an incumbent bot gave, page by
//! page, with zero Discord mutations.

use crate::GuildId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Workflow type name.
pub const WORKFLOW_TYPE: &str = "ShadowSync";
/// `ArrakisKind` value.
pub const KIND: &str = "shadow_sync";

/// The readable workflow ID.
pub fn workflow_id(guild_id: GuildId) -> String {
    format!("shadow-sync-{guild_id}")
}

/// Input; the cursor fields carry progress across continue-as-new.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShadowSyncInput {
    /// The guild.
    pub guild_id: GuildId,
    /// The last member id of the previous page (Discord's `after`), if resuming.
    #[serde(default)]
    pub after: Option<crate::UserId>,
    /// Members compared so far in this sync.
    #[serde(default)]
    pub members_seen: u64,
    /// Divergences recorded so far in this sync.
    #[serde(default)]
    pub divergences: u64,
}

/// The `status` query's answer and the result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ShadowSyncStatus {
    /// Members compared.
    pub members_seen: u64,
    /// Divergences recorded.
    pub divergences: u64,
    /// Share of validated predictions that were right, 0–1.
    pub accuracy: Option<f64>,
}
