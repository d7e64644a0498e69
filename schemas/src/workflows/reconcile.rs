//! Reconciliation: three-way drift between the manifest (desired), the shadow state (last
//! applied) and Discord (actual), and the minimal ops to fix it.

use crate::GuildId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Workflow type name.
pub const WORKFLOW_TYPE: &str = "Reconcile";
/// `ArrakisKind` value.
pub const KIND: &str = "reconcile";

/// The readable workflow ID of one run (`run` is a timestamp or an operator's label).
pub fn workflow_id(guild_id: GuildId, run: &str) -> String {
    format!("reconcile-{guild_id}-{run}")
}

/// Report only, or fix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReconcileMode {
    /// Report drift; change nothing.
    #[default]
    DryRun,
    /// Fix drift through the synthesis activities.
    Apply,
}

/// Input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReconcileInput {
    /// The guild.
    pub guild_id: GuildId,
    /// Report or fix.
    #[serde(default)]
    pub mode: ReconcileMode,
}

/// One difference between what should be and what is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// In the manifest, never applied.
    Missing,
    /// Applied, then changed by hand in Discord.
    ChangedInDiscord,
    /// Applied, then deleted by hand in Discord.
    DeletedInDiscord,
    /// Made by Arrakis, no longer in the manifest.
    ExtraButOurs,
    /// The manifest changed since this item was applied (a version not yet synthesised).
    Outdated,
}

/// A drifted manifest item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Drift {
    /// The manifest key.
    pub key: String,
    /// What happened to it.
    pub kind: DriftKind,
    /// A human-readable account, e.g. `name 'council' → 'council-old'`.
    pub detail: String,
}

/// The result and the `status` query's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReconcileReport {
    /// The manifest version compared against.
    pub version: i32,
    /// The drift found.
    pub drift: Vec<Drift>,
    /// Ops applied (zero in a dry run).
    pub applied: u32,
    /// Ops that failed, with why.
    #[serde(default)]
    pub failed: Vec<String>,
}

/// An object Arrakis made for a manifest item that is gone from the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtraItem {
    /// `role`, `category` or `channel`.
    pub kind: String,
    /// The manifest key it was made for.
    pub key: String,
    /// The Discord object.
    pub discord_id: String,
}

/// The three-way diff: what drifted, and the ops that fix it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReconcileDiff {
    /// The community (tenant) id.
    pub community_id: String,
    /// The manifest version compared against.
    pub version: i32,
    /// The drift, item by item.
    pub drift: Vec<Drift>,
    /// Creates and updates that fix it.
    pub ops: Vec<super::synthesis::SynthesisOp>,
    /// Objects to delete.
    pub extras: Vec<ExtraItem>,
    /// Where to tell the operator about drift, if the manifest names a channel.
    #[serde(default)]
    pub operator_channel_id: Option<crate::Snowflake>,
}

/// A drift report for the operator's channel (the notify activity's input).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriftNotice {
    /// The guild.
    pub guild_id: GuildId,
    /// The channel.
    pub channel_id: crate::Snowflake,
    /// Report only, or fixed.
    pub mode: ReconcileMode,
    /// The drift.
    pub drift: Vec<Drift>,
}

/// One object to delete (the delete activity's input).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeleteExtra {
    /// The guild.
    pub guild_id: GuildId,
    /// The community (tenant) id.
    pub community_id: String,
    /// The object.
    pub item: ExtraItem,
}
