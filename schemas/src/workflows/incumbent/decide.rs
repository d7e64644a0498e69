//! How the incumbent is judged, as pure functions with their tests: which bot runs the guild
//! and how sure that is ([`detect`], [`overridden`]), and how healthy it is and when the
//! operator hears of it ([`judge_health`], [`should_notify`]).

use super::contract::*;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Snowflake;

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
