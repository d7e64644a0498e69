//! What crosses Temporal for the wizard: the names, the input, the updates' payloads (a
//! step's answer, going back, a pasted manifest), the status every update returns, and the
//! activities' payloads.

use super::assets;
use crate::{
    Asset, ChannelPlan, CommunityManifest, Condition, GuildId, Mode, RoleSpec, Snowflake, Theme, UserId,
    plan::ItemKind,
    workflows::{incumbent::Incumbent, synthesis::RemovalChoice},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Workflow type name.
pub const WORKFLOW_TYPE: &str = "Wizard";
/// `ArrakisKind` value.
pub const KIND: &str = "wizard";
/// Update name: open (or re-open) the session; the gateway sends it with update-with-start.
pub const OPEN_UPDATE: &str = "open";
/// Update name: open the session once the run has looked for a deployed manifest; what the
/// gateway sends since sessions start from the deployed manifest (`open` stays for replays).
pub const OPEN_SESSION_UPDATE: &str = "open_session";
/// Update name: submit a step's answer.
pub const SUBMIT_UPDATE: &str = "submit_step";
/// Update name: go back to an earlier step.
pub const GO_BACK_UPDATE: &str = "go_back";
/// Query name for [`WizardStatus`].
pub const STATUS_QUERY: &str = "status";
/// Update name: load a pasted manifest into the draft and go to REVIEW.
pub const PASTE_UPDATE: &str = "paste_manifest";
/// How long an untouched session stays open: 24 hours.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 24 * 60 * 60;
/// The Deploy screen's Refresh button, which the worker puts back while it edits the screen.
pub const REFRESH_BUTTON: &str = "wiz:refresh";
/// How long the gateway leaves a Deploy screen's interaction token in Redis: a minute short
/// of the 15 minutes Discord lets the token edit the message.
pub const DEPLOY_SCREEN_TTL_SECS: u64 = 14 * 60;

/// The Redis key under which the gateway leaves the interaction token of the guild's Deploy
/// screen (the ephemeral message the operator pressed Deploy or Refresh on), for the worker to
/// edit that message as the deploy moves. The token stays out of workflow history.
pub fn deploy_screen_key(guild_id: GuildId) -> String {
    format!("arrakis:deploy-screen:{guild_id}")
}

/// The readable workflow ID: one wizard per guild.
pub fn workflow_id(guild_id: GuildId) -> String {
    format!("wizard-{guild_id}")
}

/// The steps, in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WizardStep {
    /// Name, theme and mode.
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

impl WizardStep {
    /// Every step, in order.
    pub const ALL: [WizardStep; 8] = [
        Self::Init,
        Self::ChainSelect,
        Self::AssetConfig,
        Self::EligibilityRules,
        Self::RoleMapping,
        Self::ChannelStructure,
        Self::Review,
        Self::Deploy,
    ];

    /// The step after this one (DEPLOY is last).
    pub fn next(self) -> Self {
        Self::ALL.get(self.index() + 1).copied().unwrap_or(Self::Deploy)
    }

    /// 0 for INIT … 7 for DEPLOY.
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// The wire name (`CHAIN_SELECT`), as stored in `wizard_funnel.step`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Init => "INIT",
            Self::ChainSelect => "CHAIN_SELECT",
            Self::AssetConfig => "ASSET_CONFIG",
            Self::EligibilityRules => "ELIGIBILITY_RULES",
            Self::RoleMapping => "ROLE_MAPPING",
            Self::ChannelStructure => "CHANNEL_STRUCTURE",
            Self::Review => "REVIEW",
            Self::Deploy => "DEPLOY",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.as_str() == s)
    }
}

/// Input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WizardInput {
    /// The guild being set up.
    pub guild_id: GuildId,
    /// The operator who ran `/arrakis setup`.
    pub operator_id: UserId,
    /// The channel the operator ran it in: deploy progress is posted there, and it becomes the
    /// manifest's `operator_channel_id` (drift reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<Snowflake>,
    /// Seconds without input after which the session closes as expired (default 24 h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_secs: Option<u64>,
}

/// The `open` update's payload: who opened the session, and from where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    /// The operator.
    pub operator_id: UserId,
    /// The channel of the interaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<Snowflake>,
    /// The incumbent bot detected in the guild, as the gateway found it: a new session starts
    /// in shadow mode beside it, and exclusive mode needs a confirmation naming it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incumbent: Option<Incumbent>,
}

/// The `go_back` update's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoBack {
    /// The earlier step to edit.
    pub to: WizardStep,
}

pub(super) fn default_mode() -> Mode {
    Mode::Exclusive
}

/// One step's answer (the `submit_step` update's payload).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "step", content = "answer", deny_unknown_fields)]
pub enum StepAnswer {
    /// INIT.
    Init {
        /// Community name.
        name: String,
        /// Theme.
        theme: Theme,
        /// How Arrakis runs: `exclusive` (alone, the default) or `parallel` (beside another bot).
        #[serde(default = "default_mode")]
        mode: Mode,
        /// Where deploy progress and drift reports go; the channel `/arrakis setup` ran in
        /// when not chosen.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator_channel_id: Option<Snowflake>,
        /// The operator's confirmation, naming the detected incumbent, that Arrakis runs alone
        /// (`exclusive`) beside it: two bots granting and revoking the same members' roles.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        beside: Option<Incumbent>,
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
        /// Must be true: DEPLOY starts.
        confirm: bool,
        /// What to do with what Arrakis made that this version drops: `remove` or `detach`.
        /// Required when the plan lists removals, so nothing is deleted without a decision.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        removals: Option<RemovalChoice>,
    },
}

impl StepAnswer {
    /// The step this answers.
    pub fn step(&self) -> WizardStep {
        match self {
            Self::Init { .. } => WizardStep::Init,
            Self::ChainSelect { .. } => WizardStep::ChainSelect,
            Self::AssetConfig { .. } => WizardStep::AssetConfig,
            Self::EligibilityRules { .. } => WizardStep::EligibilityRules,
            Self::RoleMapping { .. } => WizardStep::RoleMapping,
            Self::ChannelStructure { .. } => WizardStep::ChannelStructure,
            Self::Review { .. } => WizardStep::Review,
        }
    }
}

/// The answers so far: what the operator has built, kept across edits so going back and
/// forward never loses a later answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WizardDraft {
    /// Community name (INIT).
    #[serde(default)]
    pub name: Option<String>,
    /// Theme (INIT).
    #[serde(default)]
    pub theme: Theme,
    /// Mode (INIT).
    #[serde(default = "default_mode")]
    pub mode: Mode,
    /// Chains (CHAIN_SELECT).
    #[serde(default)]
    pub chains: Vec<u64>,
    /// Assets (ASSET_CONFIG).
    #[serde(default)]
    pub assets: Vec<Asset>,
    /// Rules (ELIGIBILITY_RULES).
    #[serde(default)]
    pub rules: BTreeMap<String, Condition>,
    /// Roles (ROLE_MAPPING).
    #[serde(default)]
    pub roles: Vec<RoleSpec>,
    /// Channels (CHANNEL_STRUCTURE).
    #[serde(default)]
    pub channels: ChannelPlan,
    /// What to do with what this version drops (REVIEW's decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removals: Option<RemovalChoice>,
    /// The operator channel chosen at INIT (deploy progress, drift reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_channel_id: Option<Snowflake>,
}

/// The `paste_manifest` update's payload: a whole manifest for the draft ("Paste a
/// manifest"), which takes the session to REVIEW.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PastedManifest {
    /// The manifest, as the checked-in JSON Schema describes it.
    pub manifest: CommunityManifest,
}

/// One object REVIEW shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlannedItem {
    /// `role`, `category` or `channel`.
    #[schemars(with = "String")]
    pub kind: ItemKind,
    /// The manifest key.
    pub key: String,
    /// The name it will have in Discord (a text channel's as Discord stores it).
    pub name: String,
    /// Its type, where it sits and who sees it (channels), or what grants it (roles); for a
    /// removal, when it was last used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What DEPLOY will do to the guild, computed against Discord at REVIEW.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeployPlan {
    /// Objects that will be created.
    pub create: Vec<PlannedItem>,
    /// Objects that exist (Arrakis made them) and will be changed.
    pub update: Vec<PlannedItem>,
    /// Objects Arrakis made that this version drops: removed or kept as the operator chooses.
    #[serde(default)]
    pub remove: Vec<PlannedItem>,
    /// Objects already as wanted.
    pub unchanged: u32,
}

/// The `wizard.preview` activity's input: the draft manifest to plan against Discord.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PreviewRequest {
    /// The manifest the draft describes.
    pub manifest: CommunityManifest,
}

/// Where DEPLOY is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeployStage {
    /// Not started.
    #[default]
    Pending,
    /// Saving the manifest version.
    Saving,
    /// Synthesis (a child workflow) is applying it.
    Synthesizing,
    /// Shadow mode: the first shadow sync is being started instead of a synthesis.
    Shadowing,
    /// Creating the reconciliation schedule.
    Scheduling,
    /// Done.
    Done,
    /// Stopped on an error; `summary` says which.
    Failed,
}

/// The `status` query's answer, and every update's result: what the gateway renders.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WizardStatus {
    /// The guild.
    pub guild_id: Option<GuildId>,
    /// The step awaiting input.
    pub step: WizardStep,
    /// True once the idle timeout closed the session.
    pub expired: bool,
    /// The answers so far.
    pub draft: WizardDraft,
    /// REVIEW's plan, once computed.
    pub plan: Option<DeployPlan>,
    /// DEPLOY's progress.
    pub deploy: DeployStage,
    /// The deployed manifest version, once saved.
    pub deployed_version: Option<i32>,
    /// The synthesis child's workflow ID, once started.
    pub synthesis_workflow_id: Option<String>,
    /// The closing summary (or the failure), once DEPLOY ends.
    pub summary: Option<String>,
    /// The chains this deployment reads (`ARRAKIS_CHAINS`), once the worker said; `None` in
    /// sessions begun before the wizard asked, and the chain select then offers well-known
    /// chains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chains_offered: Option<Vec<assets::ChainOption>>,
    /// The deployed version this session started from, to edit it (`None`: a first setup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub editing_version: Option<i32>,
    /// ASSET_CONFIG: the contract just looked up, waiting for the operator's confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_asset: Option<assets::FoundAsset>,
    /// DEPLOY: the latest progress line, as posted in the operator channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// The steps this session has reached, in order: its funnel, which `/arrakis status`
    /// shows (empty in sessions begun before it was kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reached: Vec<WizardStep>,
    /// The incumbent bot detected in the guild when the session was opened, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incumbent: Option<Incumbent>,
}

/// The `wizard.deployed_manifest` activity's answer: the guild's newest manifest version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeployedManifest {
    /// Its version.
    pub version: i32,
    /// The manifest.
    pub manifest: CommunityManifest,
}

/// The `wizard.record_step` activity's input: one funnel row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FunnelStep {
    /// The guild.
    pub guild_id: GuildId,
    /// The session (the workflow's run id).
    pub session_id: String,
    /// The step reached, or `EXPIRED` / `DEPLOYED`.
    #[schemars(with = "String")]
    pub step: FunnelMark,
}

/// A mark in the wizard's funnel (`wizard_funnel.step`): a step reached, or how the session
/// ended. On the wire, the step's name (`CHAIN_SELECT`), `EXPIRED` or `DEPLOYED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FunnelMark {
    /// The operator reached this step.
    Reached(WizardStep),
    /// How the session ended.
    Ended(SessionEnd),
}

/// How a wizard session ended, as the funnel records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionEnd {
    /// Idle past its deadline.
    Expired,
    /// Saved and applied.
    Deployed,
}

impl FunnelMark {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reached(step) => step.as_str(),
            Self::Ended(SessionEnd::Expired) => "EXPIRED",
            Self::Ended(SessionEnd::Deployed) => "DEPLOYED",
        }
    }
}

/// The `wizard.deploy_message` activity's input: post or edit the progress message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeployMessage {
    /// The guild.
    pub guild_id: GuildId,
    /// Where to post.
    pub channel_id: Snowflake,
    /// The message to edit; `None` posts a new one.
    pub message_id: Option<Snowflake>,
    /// The text.
    pub content: String,
}

/// The `wizard.deploy_screen` activity's input: edit the operator's Deploy screen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeployScreen {
    /// The guild (the token is found by it).
    pub guild_id: GuildId,
    /// The screen's text ([`WizardStatus::deploy_screen`]).
    pub content: String,
    /// True when the deploy has ended: the Refresh button goes.
    pub finished: bool,
}

/// The `schedule.ensure_reconcile` activity's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReconcileSchedule {
    /// The guild.
    pub guild_id: GuildId,
    /// The task queue the scheduled runs go to.
    pub task_queue: String,
}

/// The result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WizardOutcome {
    /// The final status.
    pub status: WizardStatus,
}
