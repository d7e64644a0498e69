//! Synthesis: apply one manifest version to Discord (roles → categories → channels →
//! permission overwrites), idempotently and inside Discord's rate limits.

use crate::GuildId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Workflow type name.
pub const WORKFLOW_TYPE: &str = "Synthesis";
/// `ArrakisKind` value.
pub const KIND: &str = "synthesis";
/// Signals (no payload, so they can never poison a run).
pub const PAUSE_SIGNAL: &str = "pause";
/// Resume after a pause.
pub const RESUME_SIGNAL: &str = "resume";
/// Stop after the op in flight; what was applied stays applied and recorded.
pub const CANCEL_SIGNAL: &str = "cancel";

/// The readable workflow ID.
pub fn workflow_id(guild_id: GuildId, version: i32) -> String {
    format!("synthesis-{guild_id}-v{version}")
}

/// Input: which version of which guild's manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SynthesisInput {
    /// The guild.
    pub guild_id: GuildId,
    /// The manifest version to apply.
    pub version: i32,
}

/// The `status` query's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SynthesisStatus {
    /// Ops the plan holds.
    pub planned: u32,
    /// Ops applied so far.
    pub applied: u32,
    /// Ops that failed, with the reason.
    pub failed: Vec<String>,
    /// The op in flight, e.g. `create role naib`.
    pub current_op: Option<String>,
    /// Paused by a signal or a kill switch.
    pub paused: bool,
}
