//! A member's eligibility check (`eligibility-{guild_id}-{user_id}`), from `/check-eligibility`
//! or the CLI: one activity (linked wallets, chain reads, ranks, the engine; cached for five
//! minutes), retried by Temporal; when it cannot be made the report says why and nothing
//! about any role changes.

use crate::{GuildId, UserId, eligibility::RoleVerdict};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Workflow type.
pub const WORKFLOW_TYPE: &str = "EligibilityCheck";
/// `ArrakisKind`.
pub const KIND: &str = "eligibility_check";
/// Query: the report so far.
pub const STATUS_QUERY: &str = "status";

/// The check of one member.
pub fn workflow_id(guild_id: GuildId, user_id: UserId) -> String {
    format!("eligibility-{guild_id}-{user_id}")
}

/// Workflow input (and the activity's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EligibilityCheckInput {
    /// The guild.
    pub guild_id: GuildId,
    /// The member.
    pub user_id: UserId,
}

/// The answer, per role of the current manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EligibilityReport {
    /// The manifest version the roles come from.
    pub manifest_version: Option<i32>,
    /// The member's linked wallets, checksummed.
    pub wallets: Vec<String>,
    /// The block read per chain id.
    pub blocks: BTreeMap<u64, u64>,
    /// Each role's verdict with its sources.
    pub roles: Vec<RoleVerdict>,
    /// True when the answer came from the five-minute cache.
    pub cached: bool,
    /// Why no answer could be made (then `roles` is empty and nothing changes).
    pub error: Option<String>,
    /// True once the check finished.
    pub done: bool,
}
