//! Incumbent detection (`incumbent-detect-{guild_id}`): which token-gating bot already runs
//! in a guild, from what anyone can see in it (the bot among the members, its verification
//! channel, its roles), with a confidence 0–1 and the operator's override. A community with
//! an incumbent starts in shadow mode.
//!
//! The scoring is pure, here, so the gateway, the activities and the tests share one rule.

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

/// Scores every known incumbent against the signals: the bot among the members weighs 0.7,
/// a verification channel 0.2, a role carrying its name 0.1. The highest score wins when it
/// reaches [`THRESHOLD`]; a guild with only the leftovers of a removed bot has none.
pub fn detect(signals: &GuildSignals) -> IncumbentFinding {
    let mut best = IncumbentFinding { source: Some(FindingSource::Detected), ..Default::default() };
    let mut best_score = 0.0_f64;
    for signature in &SIGNATURES {
        let mut score = 0.0_f64;
        let mut evidence = Vec::new();
        if let Some(bot) = signature.bot_ids.iter().find(|id| signals.bot_members.iter().any(|m| m.get() == **id)) {
            score += 0.7;
            evidence.push(format!("{} bot ({bot}) is a member", signature.name));
        }
        if let Some(channel) =
            signals.channels.iter().find(|c| signature.channels.iter().any(|n| c.eq_ignore_ascii_case(n)))
        {
            score += 0.2;
            evidence.push(format!("verification channel #{channel}"));
        }
        if let Some(role) = signals.roles.iter().find(|r| {
            let lower = r.to_lowercase();
            signature.role_fragments.iter().any(|f| lower.contains(f))
        }) {
            score += 0.1;
            evidence.push(format!("role '{role}'"));
        }
        let score = (score * 100.0).round() / 100.0;
        if score > best_score {
            best_score = score;
            best.incumbent = (score >= THRESHOLD).then_some(signature.incumbent);
            best.confidence = score;
            best.evidence = evidence;
        }
    }
    best
}

/// The operator's override as a finding.
pub fn overridden(choice: IncumbentOverride) -> IncumbentFinding {
    let evidence = match choice.incumbent() {
        Some(i) => vec![format!("the operator says {} runs here", i.signature().name)],
        None => vec!["the operator says no incumbent runs here".to_string()],
    };
    IncumbentFinding { incumbent: choice.incumbent(), confidence: 1.0, evidence, source: Some(FindingSource::Operator) }
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

/// The Unix-ms time a Discord snowflake was made.
pub fn snowflake_ms(id: u64) -> u64 {
    (id >> 22) + crate::plan::DISCORD_EPOCH_MS
}

/// Judges the incumbent's health: role updates older than 48 h raise an alert and older than
/// 72 h are critical; a verification channel quiet for more than 168 h raises an alert.
pub fn judge_health(signals: &HealthSignals) -> IncumbentHealth {
    let mut out = IncumbentHealth { signals: signals.clone(), ..IncumbentHealth::default() };
    let Some(incumbent) = signals.incumbent else {
        out.findings.push("no incumbent on record: nothing to watch".into());
        return out;
    };
    let name = incumbent.signature().name;
    let hours = |at: u64| signals.checked_at_ms.saturating_sub(at) / 3_600_000;
    let mut levels = Vec::new();
    if !signals.bot_member {
        out.level = HealthLevel::Critical;
        out.findings.push(format!("the {name} bot is no longer a member of the server"));
        return out;
    }
    match (signals.last_role_update_ms, &signals.audit_log_unreadable) {
        (_, Some(why)) => out.findings.push(format!("{name}'s role updates cannot be read: {why}")),
        (None, None) => {
            levels.push(HealthLevel::Alert);
            out.findings.push(format!("{name} has changed no member's roles in the audit log's memory"));
        }
        (Some(at), None) => {
            let age = hours(at);
            out.role_update_age_hours = Some(age);
            let level = if age >= ROLES_CRITICAL_HOURS {
                HealthLevel::Critical
            } else if age >= ROLES_ALERT_HOURS {
                HealthLevel::Alert
            } else {
                HealthLevel::Healthy
            };
            if level > HealthLevel::Healthy {
                out.findings.push(format!(
                    "{name} last changed a member's roles {age} h ago ({} from {ROLES_ALERT_HOURS} h, critical from \
                     {ROLES_CRITICAL_HOURS} h)",
                    level.as_str()
                ));
            }
            levels.push(level);
        }
    }
    if let Some(channel) = &signals.verification_channel {
        match signals.last_message_ms {
            Some(at) if hours(at) < CHANNEL_ALERT_HOURS => {
                out.channel_age_hours = Some(hours(at));
                levels.push(HealthLevel::Healthy);
            }
            Some(at) => {
                out.channel_age_hours = Some(hours(at));
                levels.push(HealthLevel::Alert);
                out.findings.push(format!(
                    "#{channel} has had no message for {} h (alert from {CHANNEL_ALERT_HOURS} h)",
                    hours(at)
                ));
            }
            None => {
                levels.push(HealthLevel::Alert);
                out.findings.push(format!("#{channel} has no message at all"));
            }
        }
    }
    out.level = levels.into_iter().max().unwrap_or(HealthLevel::Unknown);
    out
}

/// True when the operator should hear of `now`: it is worse than what they were last told
/// (`notified`, reset once the incumbent is healthy again).
pub fn should_notify(notified: Option<HealthLevel>, now: HealthLevel) -> bool {
    now >= HealthLevel::Alert && notified.is_none_or(|n| now > n)
}

/// `incumbent.health`'s answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HealthReport {
    /// The verdict.
    pub health: IncumbentHealth,
    /// Tell the operator (the level got worse than what they were told).
    pub notify: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3_600_000;

    fn signals(role_age_h: Option<u64>, channel_age_h: Option<u64>) -> HealthSignals {
        let now = 1_800_000_000_000;
        HealthSignals {
            incumbent: Some(Incumbent::Collabland),
            bot_member: true,
            last_role_update_ms: role_age_h.map(|h| now - h * HOUR),
            audit_log_unreadable: None,
            verification_channel: Some("collabland-join".into()),
            last_message_ms: channel_age_h.map(|h| now - h * HOUR),
            checked_at_ms: now,
        }
    }

    #[test]
    fn health_alerts_at_48_h_of_role_updates_critical_at_72_and_168_h_of_channel_silence() {
        assert_eq!(judge_health(&signals(Some(1), Some(1))).level, HealthLevel::Healthy);
        let alert = judge_health(&signals(Some(48), Some(1)));
        assert_eq!((alert.level, alert.role_update_age_hours), (HealthLevel::Alert, Some(48)));
        assert!(alert.findings[0].contains("48 h ago"), "{alert:?}");
        assert_eq!(judge_health(&signals(Some(72), Some(1))).level, HealthLevel::Critical);
        let quiet = judge_health(&signals(Some(1), Some(168)));
        assert_eq!(quiet.level, HealthLevel::Alert);
        assert!(quiet.findings[0].contains("#collabland-join"), "{quiet:?}");
        assert_eq!(judge_health(&signals(Some(1), Some(167))).level, HealthLevel::Healthy);
        let blind = HealthSignals { audit_log_unreadable: Some("403".into()), ..signals(None, Some(1)) };
        assert_eq!(judge_health(&blind).level, HealthLevel::Healthy, "the channel still says it works");
        assert_eq!(judge_health(&HealthSignals::default()).level, HealthLevel::Unknown);
        let gone = HealthSignals { bot_member: false, ..signals(Some(1), Some(1)) };
        assert_eq!(judge_health(&gone).level, HealthLevel::Critical);
    }

    #[test]
    fn the_operator_hears_of_each_worse_level_once() {
        assert!(should_notify(None, HealthLevel::Alert));
        assert!(!should_notify(Some(HealthLevel::Alert), HealthLevel::Alert));
        assert!(should_notify(Some(HealthLevel::Alert), HealthLevel::Critical));
        assert!(!should_notify(None, HealthLevel::Healthy));
        assert_eq!(snowflake_ms(175_928_847_299_117_063), 1_462_015_105_796);
    }

    fn id(raw: u64) -> Snowflake {
        Snowflake::new(raw).expect("id")
    }

    #[test]
    fn each_bot_is_recognised_with_its_channel_and_role() {
        for signature in &SIGNATURES {
            let signals = GuildSignals {
                bot_members: vec![id(signature.bot_ids[0])],
                channels: vec!["general".into(), signature.channels[0].to_uppercase()],
                roles: vec!["@everyone".into(), signature.name.to_string()],
            };
            let finding = detect(&signals);
            assert_eq!(finding.incumbent, Some(signature.incumbent));
            assert_eq!(finding.confidence, 1.0);
            assert_eq!(finding.evidence.len(), 3, "{:?}", finding.evidence);
        }
    }

    #[test]
    fn the_bot_alone_is_enough_and_leftovers_alone_are_not() {
        let bot = GuildSignals { bot_members: vec![id(868_172_385_000_509_460)], ..Default::default() };
        assert_eq!(detect(&bot).incumbent, Some(Incumbent::Guildxyz));
        assert_eq!(detect(&bot).confidence, 0.7);
        let leftovers = GuildSignals {
            channels: vec!["collabland-join".into()],
            roles: vec!["Collab.Land".into()],
            ..Default::default()
        };
        let finding = detect(&leftovers);
        assert_eq!(finding.incumbent, None);
        assert_eq!(finding.confidence, 0.3);
    }

    #[test]
    fn a_plain_guild_has_none() {
        let signals = GuildSignals {
            bot_members: vec![],
            channels: vec!["general".into(), "verify".into()],
            roles: vec!["Holder".into(), "Verified".into()],
        };
        let finding = detect(&signals);
        assert_eq!((finding.incumbent, finding.confidence), (None, 0.0));
        assert!(finding.evidence.is_empty());
    }

    #[test]
    fn the_operator_beats_detection() {
        assert_eq!(overridden(IncumbentOverride::Matrica).incumbent, Some(Incumbent::Matrica));
        assert_eq!(overridden(IncumbentOverride::None).incumbent, None);
        assert_eq!(overridden(IncumbentOverride::None).source, Some(FindingSource::Operator));
        for s in &SIGNATURES {
            assert_eq!(Incumbent::parse(s.incumbent.as_str()), Some(s.incumbent));
        }
    }
}
