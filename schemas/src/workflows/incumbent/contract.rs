//! The incumbent workflows' contracts: detection's input, the guild's signals, the finding and
//! the outcome; the health check's input, signals and report; and the incumbents Arrakis
//! knows (`SIGNATURES`). Data only; the rules that read it are in `decide.rs`.

use crate::{GuildId, Mode, Snowflake};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Workflow type name.
pub const WORKFLOW_TYPE: &str = "IncumbentDetect";
/// `ArrakisKind` value.
pub const KIND: &str = "incumbent_detect";
/// Query: the finding so far.
pub const STATUS_QUERY: &str = "status";
/// The confidence from which a finding counts as an incumbent.
pub const THRESHOLD: f64 = 0.5;

/// The readable workflow ID.
pub fn workflow_id(guild_id: GuildId) -> String {
    format!("incumbent-detect-{guild_id}")
}

/// A token-gating bot Arrakis knows how to recognise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Incumbent {
    /// Collab.Land.
    Collabland,
    /// Matrica.
    Matrica,
    /// Guild.xyz.
    Guildxyz,
}

/// What identifies one incumbent.
#[derive(Clone, Copy, Debug)]
pub struct Signature {
    /// Which bot.
    pub incumbent: Incumbent,
    /// Its display name.
    pub name: &'static str,
    /// Its Discord user ids.
    pub bot_ids: &'static [u64],
    /// Names of its verification channels (compared without case).
    pub channels: &'static [&'static str],
    /// Fragments its role names carry (compared without case).
    pub role_fragments: &'static [&'static str],
}

/// The known incumbents. Collab.Land's and Guild.xyz's ids are the `client_id`s of their
/// public invite links; Matrica's comes from a public detection table and is unconfirmed,
/// which is why channels and roles count too.
pub const SIGNATURES: [Signature; 3] = [
    Signature {
        incumbent: Incumbent::Collabland,
        name: "Collab.Land",
        bot_ids: &[704_521_096_837_464_076, 703_886_990_948_565_003],
        channels: &["collabland-join", "collab-land", "collabland-config"],
        role_fragments: &["collab.land", "collabland"],
    },
    Signature {
        incumbent: Incumbent::Matrica,
        name: "Matrica",
        bot_ids: &[879_673_158_287_544_361],
        channels: &["matrica-verify", "matrica-join"],
        role_fragments: &["matrica"],
    },
    Signature {
        incumbent: Incumbent::Guildxyz,
        name: "Guild.xyz",
        bot_ids: &[868_172_385_000_509_460],
        channels: &["guild-verify", "guild-join", "guildxyz-join"],
        role_fragments: &["guild.xyz", "guildxyz"],
    },
];

impl Incumbent {
    /// Its signature.
    pub fn signature(self) -> &'static Signature {
        match self {
            Incumbent::Collabland => &SIGNATURES[0],
            Incumbent::Matrica => &SIGNATURES[1],
            Incumbent::Guildxyz => &SIGNATURES[2],
        }
    }

    /// The stored name (`collabland`, `matrica`, `guildxyz`).
    pub fn as_str(self) -> &'static str {
        match self {
            Incumbent::Collabland => "collabland",
            Incumbent::Matrica => "matrica",
            Incumbent::Guildxyz => "guildxyz",
        }
    }

    /// The stored name back, if it is one.
    pub fn parse(raw: &str) -> Option<Self> {
        SIGNATURES.iter().map(|s| s.incumbent).find(|i| i.as_str() == raw)
    }
}

/// The operator's word, which beats detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncumbentOverride {
    /// There is no incumbent, whatever the guild looks like.
    None,
    /// Collab.Land runs here.
    Collabland,
    /// Matrica runs here.
    Matrica,
    /// Guild.xyz runs here.
    Guildxyz,
}

impl IncumbentOverride {
    /// The incumbent it names, if any.
    pub fn incumbent(self) -> Option<Incumbent> {
        match self {
            IncumbentOverride::None => None,
            IncumbentOverride::Collabland => Some(Incumbent::Collabland),
            IncumbentOverride::Matrica => Some(Incumbent::Matrica),
            IncumbentOverride::Guildxyz => Some(Incumbent::Guildxyz),
        }
    }
}

/// Input: from the gateway on GUILD_CREATE, or from the CLI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectInput {
    /// The guild.
    pub guild_id: GuildId,
    /// The operator's override (`none`, `collabland`, `matrica`, `guildxyz`).
    #[serde(default, rename = "override")]
    pub operator_override: Option<IncumbentOverride>,
    /// Opt in to (true) or out of (false) the shadow digest in the operator's channel.
    #[serde(default)]
    pub digest: Option<bool>,
    /// True when the bot just joined: a guild already judged is left as it is.
    #[serde(default)]
    pub on_join: bool,
}

/// What the guild shows, as the detection activity read it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GuildSignals {
    /// Known bot ids found among the members.
    pub bot_members: Vec<Snowflake>,
    /// Channel names.
    pub channels: Vec<String>,
    /// Role names.
    pub roles: Vec<String>,
}

/// The verdict, with what it rests on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncumbentFinding {
    /// The incumbent, when the confidence reaches [`THRESHOLD`] or the operator said so.
    pub incumbent: Option<Incumbent>,
    /// 0–1.
    pub confidence: f64,
    /// What was seen, in words.
    pub evidence: Vec<String>,
    /// `detected` or `operator`.
    // `""` (None) when nothing is on record.
    #[serde(with = "crate::wire::empty_as_none")]
    #[schemars(with = "String")]
    pub source: Option<FindingSource>,
}

/// Who made a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingSource {
    /// Detection, from the guild's signals.
    Detected,
    /// The operator's override.
    Operator,
}

impl FindingSource {
    /// The stored name (`incumbent_source`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Detected => "detected",
            Self::Operator => "operator",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Detected, Self::Operator].into_iter().find(|f| f.as_str() == s)
    }
}

/// What the detection workflow did: the finding, and the community's mode after it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DetectOutcome {
    /// The finding on record.
    pub finding: IncumbentFinding,
    /// The community's mode.
    // `""` (None) before detection has run.
    #[serde(with = "crate::wire::empty_as_none")]
    #[schemars(with = "String")]
    pub mode: Option<Mode>,
    /// The shadow-sync schedule, when the community is in shadow mode with an incumbent.
    pub schedule_id: Option<String>,
    /// True when an earlier finding was kept (a re-join of a guild already judged).
    pub kept: bool,
    /// True once finished.
    pub done: bool,
}

/// Workflow type name of the health check.
pub const HEALTH_WORKFLOW_TYPE: &str = "IncumbentHealth";
/// `ArrakisKind` value of the health check.
pub const HEALTH_KIND: &str = "incumbent_health";
/// Role updates older than this raise an alert (hours).
pub const ROLES_ALERT_HOURS: u64 = 48;
/// Role updates older than this are critical (hours).
pub const ROLES_CRITICAL_HOURS: u64 = 72;
/// A verification channel quiet for longer than this raises an alert (hours).
pub const CHANNEL_ALERT_HOURS: u64 = 168;
/// The custom id of the "Activate Arrakis as backup" button.
pub const BACKUP_BUTTON: &str = "inc:backup";

/// The readable workflow ID of a guild's health check (and of its schedule).
pub fn health_workflow_id(guild_id: GuildId) -> String {
    format!("incumbent-health-{guild_id}")
}

/// Input of the health check (also what its schedule starts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthInput {
    /// The guild.
    pub guild_id: GuildId,
}

/// `incumbent.health_notified`'s input: the operator's channel took the notice of `level`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HealthNotified {
    /// The guild.
    pub guild_id: GuildId,
    /// The level the notice told of.
    pub level: HealthLevel,
}

/// What the guild shows of the incumbent's activity. Presence ("online") needs the privileged
/// GUILD_PRESENCES intent, which Arrakis does not ask for: the incumbent counts as alive when
/// it works, judged from its own member-role changes in the guild's audit log (a REST read
/// under View Audit Log, no intent) and from its verification channel's last message (a
/// snowflake, so a timestamp, from the channel Arrakis already sees with GUILDS).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HealthSignals {
    /// The incumbent on record.
    pub incumbent: Option<Incumbent>,
    /// The incumbent's bot is still a member of the guild.
    pub bot_member: bool,
    /// When the incumbent's bot last changed a member's roles (Unix ms), if the audit log shows it.
    pub last_role_update_ms: Option<u64>,
    /// Why the audit log could not be read, if it could not (a missing View Audit Log).
    pub audit_log_unreadable: Option<String>,
    /// The incumbent's verification channel, if the guild has one.
    pub verification_channel: Option<String>,
    /// When a message was last posted there (Unix ms).
    pub last_message_ms: Option<u64>,
    /// When the signals were read (Unix ms).
    pub checked_at_ms: u64,
}

/// How the incumbent is doing, worst finding first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthLevel {
    /// Nothing to judge (no incumbent, or nothing readable).
    #[default]
    Unknown,
    /// Working.
    Healthy,
    /// Quiet for longer than it should be.
    Alert,
    /// Down, as far as anyone can tell.
    Critical,
}

impl HealthLevel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Healthy => "healthy",
            Self::Alert => "alert",
            Self::Critical => "critical",
        }
    }
}

/// The health check's verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IncumbentHealth {
    /// The worst level found.
    pub level: HealthLevel,
    /// Each finding, in an operator's words.
    pub findings: Vec<String>,
    /// Hours since the incumbent last changed a member's roles.
    pub role_update_age_hours: Option<u64>,
    /// Hours since the verification channel's last message.
    pub channel_age_hours: Option<u64>,
    /// The signals judged.
    pub signals: HealthSignals,
}

/// `incumbent.health`'s answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HealthReport {
    /// The verdict.
    pub health: IncumbentHealth,
    /// Tell the operator (the level got worse than what they were told).
    pub notify: bool,
}
