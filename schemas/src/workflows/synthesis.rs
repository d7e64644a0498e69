//! Synthesis: apply one manifest version to Discord (roles → categories → channels →
//! permission overwrites), idempotently and inside Discord's rate limits.

pub use crate::plan::{DesiredItem, OpAction, Phase, SynthesisOp};
use crate::{CommunityId, GuildId, plan::ExtraItem};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Workflow type name.
pub const WORKFLOW_TYPE: &str = "Synthesis";
/// `ArrakisKind` value.
pub const KIND: &str = "synthesis";
/// The operator's pause (no payload; whatever is sent is ignored).
pub const PAUSE_SIGNAL: &str = "pause";
/// Lifts the operator's pause (a freeze still holds the run).
pub const RESUME_SIGNAL: &str = "resume";
/// Stop after the op in flight; what was applied stays applied and recorded.
pub const CANCEL_SIGNAL: &str = "cancel";
/// The kill switch holds the run ([`FreezeNotice`]); sent by the `KillSwitch` workflow.
pub const FREEZE_SIGNAL: &str = "freeze";
/// The kill switch lifted one freeze ([`FreezeNotice`]); the run carries on once nothing
/// else holds it.
pub const THAW_SIGNAL: &str = "thaw";

/// Which freeze a [`FREEZE_SIGNAL`] or [`THAW_SIGNAL`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FreezeScope {
    /// Every guild (the global kill switch).
    Global,
    /// This run's guild only.
    Guild,
}

/// The payload of [`FREEZE_SIGNAL`] and [`THAW_SIGNAL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FreezeNotice {
    /// The global freeze or the guild's own.
    pub scope: FreezeScope,
}

/// What holds a synthesis before its next change. Each is lifted on its own, so lifting a
/// freeze never resumes a run the operator paused, nor one another freeze still holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Hold {
    /// The operator's `pause` signal, until `resume`.
    Operator,
    /// The global kill switch, until it is lifted.
    GlobalFreeze,
    /// The guild's own freeze, until it is lifted.
    GuildFreeze,
}

impl From<FreezeScope> for Hold {
    fn from(scope: FreezeScope) -> Self {
        match scope {
            FreezeScope::Global => Self::GlobalFreeze,
            FreezeScope::Guild => Self::GuildFreeze,
        }
    }
}

/// The readable workflow ID.
pub fn workflow_id(guild_id: GuildId, version: i32) -> String {
    format!("synthesis-{guild_id}-v{version}")
}

/// Input: which version of which guild's manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SynthesisInput {
    /// The guild.
    pub guild_id: GuildId,
    /// The manifest version to apply (1 or more).
    #[schemars(range(min = 1))]
    pub version: i32,
    /// What to do with what Arrakis made that this version drops (the operator's choice at
    /// REVIEW): `hold` (the default: keep it and report it), `remove` or `detach`.
    #[serde(default, skip_serializing_if = "RemovalChoice::is_hold")]
    pub removals: RemovalChoice,
}

impl SynthesisInput {
    /// Checks what the types cannot: the version is a saved one's number (1, 2, …).
    pub fn check(&self) -> Result<(), crate::ValidationErrors> {
        let mut errors = crate::ValidationErrors::default();
        if self.version < 1 {
            errors.push("version", "a saved manifest version: 1 or more");
        }
        errors.into_result()
    }
}

/// Which freezes stand for a guild: the `synthesis.freezes` activity's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GuildFreezes {
    /// The guild.
    pub guild_id: GuildId,
}

/// The operator's decision about the objects a new manifest version drops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RemovalChoice {
    /// Keep them and keep reporting them until the operator decides.
    #[default]
    Hold,
    /// Delete them now (a channel's messages go with it).
    Remove,
    /// Keep them as they are and stop managing them: never deleted later.
    Detach,
}

impl RemovalChoice {
    /// True for the default, which the JSON leaves out.
    pub fn is_hold(&self) -> bool {
        *self == Self::Hold
    }
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
    /// Held before the next change: by the operator, a freeze, or both (`held_by`).
    pub paused: bool,
    /// What holds it: `operator`, `global_freeze`, `guild_freeze`.
    #[serde(default)]
    pub held_by: Vec<Hold>,
    /// Cancelled by a signal: stops after the ops in flight.
    #[serde(default)]
    pub cancelled: bool,
}

/// The plan: the ops needed, and how many items already match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SynthesisPlan {
    /// The community (tenant) id.
    pub community_id: CommunityId,
    /// Ops, in phase order.
    pub ops: Vec<SynthesisOp>,
    /// Manifest items already applied and unchanged.
    pub unchanged: u32,
    /// What Arrakis made that this version drops, in the order removing it is safe.
    #[serde(default)]
    pub removals: Vec<ExtraItem>,
    /// Why nothing may be applied (shadow mode), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<String>,
    /// The freezes in force when it was planned: the run starts held by them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frozen: Vec<FreezeScope>,
}

/// One op to apply (the apply activity's input).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApplyOp {
    /// The guild.
    pub guild_id: GuildId,
    /// The community (tenant) id.
    pub community_id: CommunityId,
    /// The manifest version being applied.
    pub version: i32,
    /// The op.
    pub op: SynthesisOp,
}

/// Which manifest version's roles to put in manifest order (the order activity's input).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderRoles {
    /// The guild.
    pub guild_id: GuildId,
    /// The community (tenant) id.
    pub community_id: CommunityId,
    /// The manifest version.
    pub version: i32,
    /// Role keys reconciliation just recreated: each goes back to its place in the manifest's
    /// order (`plan::restore_recreated`), not where Discord puts a new role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recreated: Vec<String>,
}

/// The result of a synthesis.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SynthesisOutcome {
    /// Ops applied.
    pub applied: u32,
    /// Items that already matched.
    pub unchanged: u32,
    /// Ops that failed, with why.
    pub failed: Vec<String>,
    /// True when stopped by the cancel signal before the end.
    pub cancelled: bool,
    /// Dropped objects deleted, as the operator chose.
    #[serde(default)]
    pub removed: u32,
    /// Dropped objects left in place and no longer managed, as the operator chose.
    #[serde(default)]
    pub detached: u32,
    /// Dropped objects kept until the operator decides.
    #[serde(default)]
    pub held: u32,
    /// Why nothing was applied (shadow mode), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}
