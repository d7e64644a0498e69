//! Incumbent detection (`incumbent-detect-{guild_id}`): which token-gating bot already runs
//! in a guild, from what anyone can see in it (the bot among the members, its verification
//! channel, its roles), with a confidence 0–1 and the operator's override. A community with
//! an incumbent starts in shadow mode.
//!
//! The scoring is pure, here, so the gateway, the activities and the tests share one rule.

use crate::{GuildId, Snowflake};
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
    pub source: String,
}

/// What the detection workflow did: the finding, and the community's mode after it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DetectOutcome {
    /// The finding on record.
    pub finding: IncumbentFinding,
    /// The community's mode.
    pub mode: String,
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
    let mut best = IncumbentFinding { source: "detected".into(), ..Default::default() };
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
    IncumbentFinding { incumbent: choice.incumbent(), confidence: 1.0, evidence, source: "operator".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(overridden(IncumbentOverride::None).source, "operator");
        for s in &SIGNATURES {
            assert_eq!(Incumbent::parse(s.incumbent.as_str()), Some(s.incumbent));
        }
    }
}
