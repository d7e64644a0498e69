//! The onboarding wizard: eight steps from `/arrakis setup` to a deployed community. Each
//! step's input arrives as a validated update; the workflow's state survives interaction
//! tokens, which last 15 minutes.
//!
//! The draft and its checks live here, not in the workflow, so the worker's update validator,
//! the gateway's forms and the CLI all agree on what a valid answer is.

pub mod assets;
pub mod form;
pub mod picks;

use crate::{
    Asset, ChannelPlan, ChannelStrategy, CommunityManifest, Condition, GuildId, Mode, RoleSpec, Snowflake, Theme,
    UserId, ValidationErrors, plan::ItemKind, workflows::synthesis::RemovalChoice,
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

/// A manifest key made of `words` (a symbol, a rule's parts, a role's name): lowercase letters
/// and digits joined by '-', `fallback` when nothing is left, and a `-2`, `-3`… suffix when
/// `taken`. Always a valid key.
fn key_from<'a>(words: impl IntoIterator<Item = &'a str>, fallback: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut key = String::new();
    for c in words.into_iter().collect::<Vec<_>>().join("-").chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            key.push(c);
        } else if !key.is_empty() && !key.ends_with('-') {
            key.push('-');
        }
    }
    let mut key: String = key.trim_end_matches('-').chars().take(crate::Limits::KEY_MAX - 4).collect();
    key.truncate(key.trim_end_matches('-').len());
    if key.is_empty() {
        key = fallback.to_string();
    }
    if !taken(&key) {
        return key;
    }
    (2..).map(|n| format!("{key}-{n}")).find(|k| !taken(k)).unwrap_or(key)
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

    /// The line every screen of the step starts with.
    pub fn heading(self) -> String {
        format!("**Arrakis setup — step {}/8: {}**", self.index() + 1, self.title())
    }

    /// A title for people ("Eligibility rules").
    pub fn title(self) -> &'static str {
        match self {
            Self::Init => "Community",
            Self::ChainSelect => "Chains",
            Self::AssetConfig => "Assets",
            Self::EligibilityRules => "Eligibility rules",
            Self::RoleMapping => "Roles",
            Self::ChannelStructure => "Channels",
            Self::Review => "Review",
            Self::Deploy => "Deploy",
        }
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
}

/// The `go_back` update's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoBack {
    /// The earlier step to edit.
    pub to: WizardStep,
}

fn default_mode() -> Mode {
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

impl WizardDraft {
    /// A draft for a new session (mode `exclusive`, nothing answered).
    pub fn new() -> Self {
        Self { mode: default_mode(), ..Self::default() }
    }

    /// The manifest the draft describes (its operator channel: the one chosen at INIT, else
    /// `operator_channel_id`, where setup ran). In parallel mode every role is named `arrakis-…`:
    /// the prefix is added to the operator's name, never asked for.
    pub fn manifest(&self, guild_id: GuildId, operator_channel_id: Option<Snowflake>) -> CommunityManifest {
        let mut roles = self.roles.clone();
        if self.mode == Mode::Parallel {
            for role in &mut roles {
                role.name = crate::workflows::migration::parallel_role_name(&role.name);
            }
        }
        CommunityManifest {
            guild_id,
            name: self.name.clone().unwrap_or_default(),
            theme: self.theme,
            mode: self.mode,
            chains: self.chains.clone(),
            assets: self.assets.clone(),
            rules: self.rules.clone(),
            roles,
            channels: self.channels.clone(),
            operator_channel_id: self.operator_channel_id.or(operator_channel_id),
        }
    }

    /// A draft holding a deployed manifest, to edit it: `/arrakis setup` after a deploy starts
    /// from what is live rather than from nothing. (Parallel-mode names keep their prefix;
    /// adding it again leaves them as they are.)
    pub fn from_manifest(manifest: &CommunityManifest) -> Self {
        Self {
            name: Some(manifest.name.clone()),
            theme: manifest.theme,
            mode: if manifest.mode == Mode::Primary { Mode::Exclusive } else { manifest.mode },
            chains: manifest.chains.clone(),
            assets: manifest.assets.clone(),
            rules: manifest.rules.clone(),
            roles: manifest.roles.clone(),
            channels: manifest.channels.clone(),
            removals: None,
            operator_channel_id: manifest.operator_channel_id,
        }
    }

    /// The draft with `answer` applied.
    pub fn with(&self, answer: &StepAnswer) -> Self {
        let mut next = self.clone();
        match answer.clone() {
            StepAnswer::Init { name, theme, mode, operator_channel_id } => {
                next.name = Some(name);
                next.theme = theme;
                next.mode = mode;
                next.operator_channel_id = operator_channel_id.or(self.operator_channel_id);
            }
            StepAnswer::ChainSelect { chains } => next.chains = chains,
            StepAnswer::AssetConfig { assets } => next.assets = assets,
            StepAnswer::EligibilityRules { rules } => next.rules = rules,
            StepAnswer::RoleMapping { roles } => next.roles = roles,
            StepAnswer::ChannelStructure { channels } => next.channels = channels,
            StepAnswer::Review { removals, .. } => next.removals = removals,
        }
        next
    }

    /// The draft as it stands up to `step` (inclusive): later answers cleared, so an earlier
    /// step is checked only against what it depends on.
    fn through(&self, step: WizardStep) -> Self {
        let mut d = self.clone();
        if step < WizardStep::ChannelStructure {
            d.channels = ChannelPlan::default();
        }
        if step < WizardStep::RoleMapping {
            d.roles.clear();
        }
        if step < WizardStep::EligibilityRules {
            d.rules.clear();
        }
        if step < WizardStep::AssetConfig {
            d.assets.clear();
        }
        if step < WizardStep::ChainSelect {
            d.chains.clear();
        }
        d
    }

    /// Checks `answer` given the session's current step: the step must be reached, the answer
    /// must be complete, and the manifest built so far must hold every rule. Errors name the
    /// manifest field (`assets[1].address: …`).
    pub fn check(&self, guild_id: GuildId, current: WizardStep, answer: &StepAnswer) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let step = answer.step();
        if step > current {
            errors.push("step", format!("answer {} first (this session is at {})", current.as_str(), current.as_str()));
            return Err(errors);
        }
        match answer {
            StepAnswer::ChainSelect { chains } if chains.is_empty() => {
                errors.push("chains", "choose at least one chain")
            }
            StepAnswer::AssetConfig { assets } if assets.is_empty() => {
                errors.push("assets", "add at least one token or collection")
            }
            StepAnswer::EligibilityRules { rules } if rules.is_empty() => errors.push("rules", "add at least one rule"),
            StepAnswer::RoleMapping { roles } if roles.is_empty() => errors.push("roles", "add at least one role"),
            StepAnswer::Init { mode: Mode::Primary, .. } => errors.push(
                "mode",
                "the wizard sets up `shadow` (beside your current bot, changing nothing), `parallel` or `exclusive`; \
                 `primary` comes with a migration",
            ),
            StepAnswer::Review { confirm: false, .. } => {
                errors.push("confirm", "must be true to deploy (go back to change an earlier step)")
            }
            StepAnswer::Review { .. } if current != WizardStep::Review => {
                errors.push("step", "review the plan before deploying")
            }
            _ => {}
        }
        errors.into_result()?;
        self.with(answer).through(step).manifest(guild_id, None).validate()
    }

    /// Checks a draft edited in place at `step` (a picked rule or role): the manifest built
    /// so far must hold, but an empty list is allowed until the step is submitted.
    pub fn check_edited(&self, guild_id: GuildId, step: WizardStep) -> Result<(), ValidationErrors> {
        self.through(step).manifest(guild_id, None).validate()
    }

    /// True when the channel plan asks for channels (its strategy is then `custom` or another
    /// managing strategy).
    pub fn manages_channels(&self) -> bool {
        self.channels.strategy != ChannelStrategy::None
    }
}

/// The `paste_manifest` update's payload: a whole manifest for the draft ("Paste a
/// manifest"), which takes the session to REVIEW.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PastedManifest {
    /// The manifest, as the checked-in JSON Schema describes it.
    pub manifest: CommunityManifest,
}

impl PastedManifest {
    /// The manifest must be this server's, in a mode the wizard sets up, and valid by the
    /// manifest's own rules (the same ones every other path meets).
    pub fn check(&self, guild_id: GuildId) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if self.manifest.guild_id != guild_id {
            errors.push(
                "guild_id",
                format!(
                    "this manifest is for server {}; this is {guild_id} (leave guild_id out to use this server)",
                    self.manifest.guild_id
                ),
            );
        }
        if self.manifest.mode == Mode::Primary {
            errors.push("mode", "`primary` comes with a migration: paste it as `exclusive`, `parallel` or `shadow`");
        }
        errors.into_result()?;
        self.manifest.validate()
    }
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

impl WizardStatus {
    /// REVIEW's own rule, which needs the plan: when the version drops objects, the operator
    /// must say whether they go or stay.
    pub fn check_review(&self, answer: &StepAnswer) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let StepAnswer::Review { removals: None, .. } = answer {
            let dropped = self.plan.as_ref().map_or(0, |p| p.remove.len());
            if dropped > 0 {
                errors.push(
                    "removals",
                    format!("this version drops {dropped} object(s): choose `remove` (delete them now) or `detach` (keep them, unmanaged)"),
                );
            }
        }
        errors.into_result()
    }
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
}

impl WizardStatus {
    /// The Deploy screen: where the deploy is, then how it ended. The gateway shows it when
    /// Deploy or Refresh is pressed, and the worker edits the screen to it as the deploy moves.
    pub fn deploy_screen(&self) -> String {
        let stage = match self.deploy {
            DeployStage::Pending | DeployStage::Saving => "saving the manifest",
            DeployStage::Synthesizing => "creating roles and channels",
            DeployStage::Shadowing => "starting shadow mode",
            DeployStage::Scheduling => "scheduling reconciliation",
            DeployStage::Done => "done",
            DeployStage::Failed => "stopped",
        };
        let body =
            self.summary.clone().or_else(|| self.progress.clone()).unwrap_or_else(|| format!("Deploying: {stage}…"));
        format!("{}\n{body}", WizardStep::Deploy.heading())
    }

    /// Notes that the session reached `step` (the funnel stays in step order).
    pub fn reach(&mut self, step: WizardStep) {
        if !self.reached.contains(&step) {
            self.reached.push(step);
            self.reached.sort();
        }
    }

    /// The session's funnel in one line: each step, marked as reached, current or not yet.
    /// Where an operator dropped out is the step marked current in an expired session.
    pub fn funnel_line(&self) -> String {
        WizardStep::ALL
            .iter()
            .map(|step| {
                let mark = if *step == self.step && self.is_open() {
                    " ← here"
                } else if *step == self.step && self.expired {
                    " ✗ (stopped here)"
                } else if self.reached.contains(step) {
                    " ✓"
                } else {
                    ""
                };
                format!("{}{mark}", step.title())
            })
            .collect::<Vec<_>>()
            .join(" → ")
    }

    /// True once DEPLOY has ended, either way: the screen then stops offering Refresh.
    pub fn deploy_finished(&self) -> bool {
        matches!(self.deploy, DeployStage::Done | DeployStage::Failed)
    }
}

impl WizardStatus {
    /// CHAIN_SELECT's own rule, which needs the chains the worker reads: when it said which,
    /// only those (an asset on another chain could never be read).
    pub fn check_chains(&self, answer: &StepAnswer) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let (StepAnswer::ChainSelect { chains }, Some(offered)) = (answer, &self.chains_offered)
            && !offered.is_empty()
        {
            for chain in chains.iter().filter(|c| !offered.iter().any(|o| o.id == **c)) {
                let listed = offered.iter().map(|o| format!("{} ({})", o.id, o.name)).collect::<Vec<_>>().join(", ");
                errors.push("chains", format!("chain {chain} is not read by this deployment; it reads {listed}"));
            }
        }
        errors.into_result()
    }

    /// Checks an `asset` edit against the session: ASSET_CONFIG must be the current step, a
    /// lookup must be well formed and on one of the draft's chains, a confirmation needs
    /// something found, a removal a known key. Returns the edit as it will be applied.
    pub fn check_asset_edit(&self, edit: &assets::AssetEdit) -> Result<assets::AssetEdit, ValidationErrors> {
        use assets::AssetEdit;
        let mut errors = ValidationErrors::default();
        if self.step != WizardStep::AssetConfig {
            errors
                .push("step", format!("assets are edited at ASSET_CONFIG (this session is at {})", self.step.as_str()));
            return Err(errors);
        }
        match edit {
            AssetEdit::Confirm if self.found_asset.is_none() => {
                errors.push("edit", "nothing was looked up to confirm: add a token or collection first")
            }
            AssetEdit::Remove { key } if !self.draft.assets.iter().any(|a| &a.key == key) => {
                let keys = self.draft.assets.iter().map(|a| a.key.as_str()).collect::<Vec<_>>().join(", ");
                errors.push("key", format!("no asset '{key}' in the draft (it has: {keys})"))
            }
            _ => {}
        }
        errors.into_result()?;
        let edit = edit.checked(&self.draft.chains)?;
        if let AssetEdit::LookUp { chain_id, address, token_id } = &edit
            && let Some(same) = self
                .draft
                .assets
                .iter()
                .find(|a| a.chain_id == *chain_id && &a.address == address && &a.token_id == token_id)
        {
            let mut errors = ValidationErrors::default();
            errors.push("address", format!("{address} is in the draft already, as `{}`", same.key));
            return Err(errors);
        }
        Ok(edit)
    }

    /// The rules a `rule` edit leaves, checked: ELIGIBILITY_RULES must be the current step
    /// and the manifest must hold.
    pub fn check_rule_edit(
        &self,
        guild_id: GuildId,
        edit: &picks::RuleEdit,
    ) -> Result<BTreeMap<String, Condition>, ValidationErrors> {
        self.at(WizardStep::EligibilityRules, "rules")?;
        let rules = edit.rules(&self.draft)?;
        WizardDraft { rules: rules.clone(), ..self.draft.clone() }
            .check_edited(guild_id, WizardStep::EligibilityRules)?;
        Ok(rules)
    }

    /// The roles a `role` edit leaves, checked likewise at ROLE_MAPPING.
    pub fn check_role_edit(
        &self,
        guild_id: GuildId,
        edit: &picks::RoleEdit,
    ) -> Result<Vec<RoleSpec>, ValidationErrors> {
        self.at(WizardStep::RoleMapping, "roles")?;
        let roles = edit.roles(&self.draft)?;
        WizardDraft { roles: roles.clone(), ..self.draft.clone() }.check_edited(guild_id, WizardStep::RoleMapping)?;
        Ok(roles)
    }

    /// The channels a `channel` edit leaves, checked likewise at CHANNEL_STRUCTURE.
    pub fn check_channel_edit(
        &self,
        guild_id: GuildId,
        edit: &picks::ChannelEdit,
    ) -> Result<ChannelPlan, ValidationErrors> {
        self.at(WizardStep::ChannelStructure, "channels")?;
        let channels = edit.channels(&self.draft)?;
        WizardDraft { channels: channels.clone(), ..self.draft.clone() }
            .check_edited(guild_id, WizardStep::ChannelStructure)?;
        Ok(channels)
    }

    fn at(&self, step: WizardStep, what: &str) -> Result<(), ValidationErrors> {
        if self.step == step {
            return Ok(());
        }
        let mut errors = ValidationErrors::default();
        errors.push(
            "step",
            format!("{what} are edited at {} (this session is at {})", step.as_str(), self.step.as_str()),
        );
        Err(errors)
    }

    /// The draft with an accepted `asset` edit applied (a lookup's finding is set apart, by
    /// the workflow, in `found_asset`).
    pub fn apply_asset_edit(&mut self, edit: &assets::AssetEdit) {
        use assets::AssetEdit;
        match edit {
            AssetEdit::Confirm => {
                if let Some(found) = self.found_asset.take() {
                    let taken: Vec<String> = self.draft.assets.iter().map(|a| a.key.clone()).collect();
                    self.draft.assets.push(found.to_asset(&taken));
                }
            }
            AssetEdit::Discard => self.found_asset = None,
            AssetEdit::Remove { key } => self.draft.assets.retain(|a| &a.key != key),
            AssetEdit::LookUp { .. } => {}
        }
    }

    /// True while the session takes input.
    pub fn is_open(&self) -> bool {
        !self.expired && self.step != WizardStep::Deploy
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AssetKind, RoleGrant};

    #[test]
    fn a_funnel_mark_is_the_step_name_or_how_the_session_ended() {
        for (mark, wire) in [
            (FunnelMark::Reached(WizardStep::Init), "\"INIT\""),
            (FunnelMark::Reached(WizardStep::ChainSelect), "\"CHAIN_SELECT\""),
            (FunnelMark::Ended(SessionEnd::Expired), "\"EXPIRED\""),
            (FunnelMark::Ended(SessionEnd::Deployed), "\"DEPLOYED\""),
        ] {
            assert_eq!(serde_json::to_string(&mark).expect("json"), wire);
            assert_eq!(serde_json::from_str::<FunnelMark>(wire).expect(wire), mark);
            assert_eq!(format!("\"{}\"", mark.as_str()), wire);
        }
        assert!(serde_json::from_str::<FunnelMark>("\"LOST\"").is_err());
    }

    fn guild() -> GuildId {
        "123456789012345678".parse().expect("snowflake")
    }

    fn asset() -> Asset {
        Asset {
            key: "spice".into(),
            chain_id: 1,
            kind: AssetKind::Erc20,
            address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".into(),
            token_id: None,
            decimals: Some(18),
        }
    }

    fn answered() -> WizardDraft {
        WizardDraft::new()
            .with(&StepAnswer::Init {
                name: "Sietch".into(),
                theme: Theme::Basic,
                mode: Mode::Exclusive,
                operator_channel_id: None,
            })
            .with(&StepAnswer::ChainSelect { chains: vec![1] })
            .with(&StepAnswer::AssetConfig { assets: vec![asset()] })
    }

    #[test]
    fn steps_run_in_order_and_round_trip_their_names() {
        for (i, step) in WizardStep::ALL.iter().enumerate() {
            assert_eq!(step.index(), i);
            assert_eq!(WizardStep::parse(step.as_str()), Some(*step));
        }
        assert_eq!(WizardStep::Review.next(), WizardStep::Deploy);
        assert_eq!(WizardStep::Deploy.next(), WizardStep::Deploy);
    }

    #[test]
    fn an_answer_ahead_of_the_session_is_refused() {
        let e = WizardDraft::new()
            .check(guild(), WizardStep::Init, &StepAnswer::ChainSelect { chains: vec![1] })
            .expect_err("ahead");
        assert!(e.has("step"), "{e}");
    }

    #[test]
    fn a_rule_on_an_unknown_asset_names_the_field() {
        let mut rules = BTreeMap::new();
        rules.insert("holder".into(), Condition::MinBalance { asset: "water".into(), amount: "1".into() });
        let e = answered()
            .check(guild(), WizardStep::EligibilityRules, &StepAnswer::EligibilityRules { rules })
            .expect_err("unknown asset");
        assert!(e.to_string().contains("rules.holder.min_balance.asset"), "{e}");
    }

    #[test]
    fn an_earlier_step_is_checked_without_later_answers() {
        // Roles refer to a rule; editing the chains must not be refused because of them.
        let mut rules = BTreeMap::new();
        rules.insert("holder".into(), Condition::MinBalance { asset: "spice".into(), amount: "1".into() });
        let draft = answered().with(&StepAnswer::EligibilityRules { rules }).with(&StepAnswer::RoleMapping {
            roles: vec![RoleSpec {
                key: "holder".into(),
                name: "Holder".into(),
                color: 0,
                hoist: false,
                mentionable: false,
                grant: RoleGrant::Rule("holder".into()),
                permissions: None,
            }],
        });
        draft.check(guild(), WizardStep::Review, &StepAnswer::ChainSelect { chains: vec![1, 8453] }).expect("ok");
        let e =
            draft.check(guild(), WizardStep::Review, &StepAnswer::ChainSelect { chains: vec![] }).expect_err("empty");
        assert!(e.has("chains"), "{e}");
    }

    #[test]
    fn confirming_needs_true_and_the_review_step() {
        let d = answered();
        assert!(d.check(guild(), WizardStep::Review, &StepAnswer::Review { confirm: false, removals: None }).is_err());
        assert!(d.check(guild(), WizardStep::Review, &StepAnswer::Review { confirm: true, removals: None }).is_ok());
    }

    #[test]
    fn a_version_that_drops_objects_needs_a_decision() {
        let item = PlannedItem { kind: ItemKind::Category, key: "vault".into(), name: "Vault".into(), detail: None };
        let status = WizardStatus {
            plan: Some(DeployPlan { remove: vec![item], ..DeployPlan::default() }),
            ..WizardStatus::default()
        };
        let undecided = StepAnswer::Review { confirm: true, removals: None };
        assert!(status.check_review(&undecided).expect_err("no decision").has("removals"));
        let decided = StepAnswer::Review { confirm: true, removals: Some(RemovalChoice::Detach) };
        assert!(status.check_review(&decided).is_ok());
        assert!(WizardStatus::default().check_review(&undecided).is_ok(), "nothing dropped, nothing to decide");
    }

    #[test]
    fn asset_edits_need_their_step_a_finding_and_known_keys_and_never_add_twice() {
        use assets::{AssetEdit, FoundAsset};
        let mut status = WizardStatus { step: WizardStep::AssetConfig, ..WizardStatus::default() };
        status.draft.chains = vec![1];
        assert!(status.check_asset_edit(&AssetEdit::Confirm).expect_err("nothing found").has("edit"));
        assert!(status.check_asset_edit(&AssetEdit::Remove { key: "spice".into() }).expect_err("none").has("key"));
        status.found_asset = Some(FoundAsset {
            chain_id: 1,
            address: asset().address,
            kind: AssetKind::Erc20,
            name: Some("Spice".into()),
            symbol: Some("SPICE".into()),
            decimals: Some(18),
            token_id: None,
            decimals_assumed: false,
        });
        status.check_asset_edit(&AssetEdit::Confirm).expect("something to confirm");
        status.apply_asset_edit(&AssetEdit::Confirm);
        assert_eq!((status.draft.assets.clone(), status.found_asset.is_none()), (vec![asset()], true));
        let again = AssetEdit::LookUp { chain_id: 1, address: asset().address.to_lowercase(), token_id: None };
        let e = status.check_asset_edit(&again).expect_err("twice");
        assert!(e.has("address") && e.to_string().contains("as `spice`"), "{e}");
        status.apply_asset_edit(&AssetEdit::Remove { key: "spice".into() });
        assert!(status.draft.assets.is_empty());
        status.step = WizardStep::EligibilityRules;
        assert!(status.check_asset_edit(&again).expect_err("another step").has("step"));
    }

    #[test]
    fn a_deployed_manifest_comes_back_whole_as_a_draft() {
        let m: CommunityManifest =
            serde_json::from_str(include_str!("../../../examples/sietch-tabr.json")).expect("the example manifest");
        assert_eq!(WizardDraft::from_manifest(&m).manifest(m.guild_id, m.operator_channel_id), m);
    }

    #[test]
    fn the_funnel_marks_what_was_reached_and_where_the_operator_is() {
        let mut status = WizardStatus::default();
        status.reach(WizardStep::Init);
        status.reach(WizardStep::AssetConfig);
        status.reach(WizardStep::ChainSelect);
        status.reach(WizardStep::ChainSelect);
        status.step = WizardStep::AssetConfig;
        assert_eq!(status.reached, vec![WizardStep::Init, WizardStep::ChainSelect, WizardStep::AssetConfig]);
        let line = status.funnel_line();
        assert!(line.starts_with("Community ✓ → Chains ✓ → Assets ← here → Eligibility rules → Roles"), "{line}");
        status.expired = true;
        assert!(
            status.funnel_line().contains("Chains ✓ → Assets ✗ (stopped here) → Eligibility"),
            "{}",
            status.funnel_line()
        );
    }
}
