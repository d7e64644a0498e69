//! The onboarding wizard: eight steps from `/arrakis setup` to a deployed community. Each
//! step's input arrives as a validated update; the workflow's state survives interaction
//! tokens, which last 15 minutes.

use crate::{Asset, ChannelPlan, Condition, GuildId, RoleSpec, Theme, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Workflow type name.
pub const WORKFLOW_TYPE: &str = "Wizard";
/// `ArrakisKind` value.
pub const KIND: &str = "wizard";
/// Update name: submit the current step's answer.
pub const SUBMIT_UPDATE: &str = "submit_step";
/// Update name: go back to an earlier step.
pub const GO_BACK_UPDATE: &str = "go_back";

/// The readable workflow ID: one wizard per guild.
pub fn workflow_id(guild_id: GuildId) -> String {
    format!("wizard-{guild_id}")
}

/// The steps, in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WizardStep {
    /// Name and theme.
    #[default]
    Init,
    /// Which chains.
    ChainSelect,
    /// Which tokens and collections.
    AssetConfig,
    /// Which conditions.
    EligibilityRules,
    /// Which roles they grant.
    RoleMapping,
    /// Which channels, visible to whom.
    ChannelStructure,
    /// The plan: exactly what will be created.
    Review,
    /// Save and apply.
    Deploy,
}

/// Input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WizardInput {
    /// The guild being set up.
    pub guild_id: GuildId,
    /// The operator who ran `/arrakis setup`.
    pub operator_id: UserId,
}

/// One step's answer (the `submit_step` update's payload).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "step", content = "answer")]
pub enum StepAnswer {
    /// INIT.
    Init {
        /// Community name.
        name: String,
        /// Theme.
        theme: Theme,
    },
    /// CHAIN_SELECT.
    ChainSelect {
        /// Chain ids.
        chains: Vec<u64>,
    },
    /// ASSET_CONFIG.
    AssetConfig {
        /// Assets.
        assets: Vec<Asset>,
    },
    /// ELIGIBILITY_RULES.
    EligibilityRules {
        /// Rules by key.
        rules: BTreeMap<String, Condition>,
    },
    /// ROLE_MAPPING.
    RoleMapping {
        /// Roles.
        roles: Vec<RoleSpec>,
    },
    /// CHANNEL_STRUCTURE.
    ChannelStructure {
        /// Channels.
        channels: ChannelPlan,
    },
    /// REVIEW: the operator confirms the plan.
    Review {
        /// True to go on to DEPLOY.
        confirm: bool,
    },
}

/// The `status` query's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WizardStatus {
    /// The step awaiting input.
    pub step: WizardStep,
    /// True once the idle timeout closed the session.
    pub expired: bool,
    /// The deployed manifest version, once deployed.
    pub deployed_version: Option<i32>,
}
