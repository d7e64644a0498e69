//! Migration: move a community from an incumbent bot to Arrakis, with one-click and
//! automatic rollback.

use crate::GuildId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Workflow type name.
pub const WORKFLOW_TYPE: &str = "Migration";
/// `ArrakisKind` value.
pub const KIND: &str = "migration";
/// Update name: roll back, with a reason.
pub const ROLLBACK_UPDATE: &str = "rollback";

/// The readable workflow ID.
pub fn workflow_id(guild_id: GuildId) -> String {
    format!("migration-{guild_id}")
}

/// How members move over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MigrationStrategy {
    /// Everyone at once.
    Instant,
    /// New members at once, existing ones in batches over `days`.
    Gradual,
    /// Both bots for good.
    ParallelForever,
    /// Arrakis leads, the incumbent stays as a fallback.
    ArrakisPrimary,
}

/// Input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MigrationInput {
    /// The guild.
    pub guild_id: GuildId,
    /// How members move over.
    pub strategy: MigrationStrategy,
    /// For `gradual`: over how many days (1–90).
    #[serde(default)]
    pub days: Option<u32>,
}

/// The rollback update's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RollbackRequest {
    /// Why, for the audit log (1–500 characters).
    pub reason: String,
}

/// Where a migration is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MigrationStage {
    /// Readiness checks (shadow days, accuracy).
    #[default]
    CheckingReadiness,
    /// Moving members.
    Migrating,
    /// Finished.
    Completed,
    /// Putting everything back.
    RollingBack,
    /// Put back.
    RolledBack,
}

/// The `status` query's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MigrationStatus {
    /// The stage.
    pub stage: MigrationStage,
    /// Members moved so far.
    pub members_moved: u64,
}
