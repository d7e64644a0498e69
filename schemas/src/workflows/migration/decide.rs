//! How a migration decides, as pure functions with their tests: whether the community is
//! ready ([`readiness`]), which members a gradual batch moves ([`batch_of`]), when it rolls
//! itself back ([`rollback_trigger`]), and the parallel manifest with its `arrakis-…` roles and
//! their place in the role list ([`parallel_manifest`], [`parallel_positions`]).

use super::contract::*;
use crate::{
    Category, Channel, ChannelKind, ChannelPlan, ChannelStrategy, CommunityManifest, Condition, Mode, RoleGrant,
    RoleSpec, UserId,
};

/// The readiness checks: at least 14 days in shadow mode and at least 95 % accuracy.
pub fn readiness(shadow_days: Option<u64>, accuracy: Option<f64>, validated: u64) -> Readiness {
    let mut reasons = Vec::new();
    match shadow_days {
        Some(d) if d >= MIN_SHADOW_DAYS => {}
        Some(d) => reasons.push(format!("{d} day(s) in shadow mode; {MIN_SHADOW_DAYS} are needed")),
        None => reasons.push("the community never ran in shadow mode beside an incumbent".into()),
    }
    match accuracy {
        Some(a) if a >= MIN_ACCURACY => {}
        Some(a) => reasons.push(format!(
            "accuracy {:.1} % over {validated} checked predictions; {:.0} % is needed",
            a * 100.0,
            MIN_ACCURACY * 100.0
        )),
        None => reasons.push("no prediction has been checked yet (let shadow sync run)".into()),
    }
    Readiness { shadow_days, accuracy, validated, ready: reasons.is_empty(), reasons }
}

/// The batch (0-based) of `user` among `batches`: a stable spread (SplitMix64 of the id).
pub fn batch_of(user: UserId, batches: u32) -> u32 {
    let mut z = user.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % u64::from(batches.max(1))) as u32
}

/// Sums `count` over `reports` without overflowing.
pub fn sum_reports<'a>(reports: impl Iterator<Item = &'a Reported>, count: impl Fn(&AccessReport) -> u64) -> u64 {
    reports.fold(0u64, |sum, r| sum.saturating_add(count(&r.report)))
}

/// Why the migration must roll back by itself now, if it must: more than the share of members
/// lost access within the window, Discord refused more than the share of requests within its
/// window, or the mass-removal breaker tripped while the community was moving.
pub fn rollback_trigger(reports: &[Reported], now_ms: u64, t: &RollbackThresholds) -> Option<String> {
    if reports.iter().any(|r| r.report.breaker_tripped) {
        return Some("the mass-removal breaker held revocations during the migration".into());
    }
    let within = |secs: u64| reports.iter().filter(move |r| r.at_ms.saturating_add(secs * 1000) >= now_ms);
    let members = reports.iter().map(|r| r.report.members).max().unwrap_or(0);
    let lost = sum_reports(within(t.access_window_secs), |r| r.lost);
    if members > 0 && lost as f64 > t.access_loss_fraction * members as f64 {
        return Some(format!(
            "{lost} of {members} members lost access within {} min (more than {:.0} %)",
            t.access_window_secs / 60,
            t.access_loss_fraction * 100.0
        ));
    }
    let requests = sum_reports(within(t.error_window_secs), |r| r.requests);
    let failed = sum_reports(within(t.error_window_secs), |r| r.failed);
    if requests >= t.min_requests && failed as f64 > t.error_fraction * requests as f64 {
        return Some(format!(
            "Discord refused {failed} of {requests} requests within {} min (more than {:.0} %)",
            t.error_window_secs / 60,
            t.error_fraction * 100.0
        ));
    }
    None
}

/// Drops reports older than every window (the state stays small).
pub fn prune(reports: &mut Vec<Reported>, now_ms: u64, t: &RollbackThresholds) {
    let keep = t.access_window_secs.max(t.error_window_secs) * 1000;
    reports.retain(|r| r.at_ms.saturating_add(keep) >= now_ms);
}

/// A role name in parallel mode: the operator's name after the `arrakis-` prefix, which is
/// never dropped ("Spice Holder" → `arrakis-spice-holder`).
pub fn parallel_role_name(name: &str) -> String {
    if name.starts_with(ROLE_PREFIX) {
        return name.to_string();
    }
    let slug: String = name.to_lowercase().chars().map(|c| if c.is_alphanumeric() { c } else { '-' }).collect();
    let slug = slug.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-");
    let name = format!("{ROLE_PREFIX}{}", if slug.is_empty() { "role" } else { &slug });
    name.chars().take(crate::Limits::NAME_MAX).collect()
}

/// The conviction thresholds of `additive_only`'s channels, per theme: `#conviction-lounge`
/// from a score of 80, `#diamond-hands` from 95.
pub fn conviction_thresholds(_theme: crate::Theme) -> [(&'static str, &'static str, &'static str); 2] {
    [("conviction-lounge", "Conviction Lounge", "80"), ("diamond-hands", "Diamond Hands", "95")]
}

/// The parallel version of a community's manifest: its roles named `arrakis-…` with no
/// permissions, mode `parallel`, and the channels the strategy adds. Returns it with what it
/// creates, in an operator's words (what REVIEW and `/arrakis migrate` show).
pub fn parallel_manifest(
    base: &CommunityManifest,
    channels: ChannelStrategy,
    gated: &[GatedChannel],
) -> (CommunityManifest, Vec<String>) {
    let mut m = base.clone();
    m.mode = Mode::Parallel;
    // No permissions, no colour, not hoisted: beside the incumbent, members see no change.
    for role in &mut m.roles {
        role.name = parallel_role_name(&role.name);
        role.permissions = None;
        role.color = 0;
        role.hoist = false;
    }
    let mut creates: Vec<String> = m
        .roles
        .iter()
        .map(|r| format!("role @{} (below your other roles, no permissions or colour)", r.name))
        .collect();
    m.channels = match channels {
        ChannelStrategy::None => ChannelPlan::default(),
        ChannelStrategy::Custom => base.channels.clone(),
        ChannelStrategy::AdditiveOnly => {
            let Some(asset) = base.assets.first().map(|a| a.key.clone()) else {
                return (m, creates);
            };
            let mut lounge = Category {
                key: "arrakis".into(),
                name: "Arrakis".into(),
                visible_to: Vec::new(),
                channels: Vec::new(),
            };
            for (slug, title, score) in conviction_thresholds(base.theme) {
                let key = format!("arrakis-{slug}");
                if m.rules.contains_key(&key) || m.roles.iter().any(|r| r.key == key) {
                    continue;
                }
                m.rules.insert(key.clone(), Condition::ScoreAtLeast { asset: asset.clone(), score: score.into() });
                m.roles.push(RoleSpec {
                    key: key.clone(),
                    name: format!("{ROLE_PREFIX}{slug}"),
                    color: 0,
                    hoist: false,
                    mentionable: false,
                    grant: RoleGrant::Rule(key.clone()),
                    permissions: None,
                });
                lounge.channels.push(Channel {
                    key: key.clone(),
                    name: slug.into(),
                    kind: ChannelKind::Text,
                    topic: Some(format!("{title}: a conviction score of {score} or more")),
                    visible_to: vec![key.clone()],
                });
                creates.push(format!("role @{ROLE_PREFIX}{slug} and channel #{slug} (score ≥ {score})"));
            }
            ChannelPlan { strategy: ChannelStrategy::AdditiveOnly, categories: vec![lounge] }
        }
        ChannelStrategy::ParallelMirror => {
            let copies: Vec<Channel> = gated
                .iter()
                .filter(|g| !g.role_keys.is_empty())
                .enumerate()
                .map(|(i, g)| {
                    creates.push(format!(
                        "channel {ROLE_PREFIX}{} (a copy of #{} for the arrakis-* roles)",
                        g.name, g.name
                    ));
                    Channel {
                        key: format!("arrakis-mirror-{}", i + 1),
                        name: format!("{ROLE_PREFIX}{}", g.name),
                        kind: g.kind,
                        topic: None,
                        visible_to: g.role_keys.clone(),
                    }
                })
                .collect();
            if copies.is_empty() {
                ChannelPlan::default()
            } else {
                let category = Category {
                    key: "arrakis".into(),
                    name: "Arrakis".into(),
                    visible_to: Vec::new(),
                    channels: copies,
                };
                ChannelPlan { strategy: ChannelStrategy::ParallelMirror, categories: vec![category] }
            }
        }
    };
    (m, creates)
}

/// The position of the incumbent bot's highest managed role: a managed role the Arrakis bot
/// does not hold, named for `incumbent` when it is known (another bot's integration role
/// otherwise).
pub fn incumbent_ceiling(
    roles: &[crate::plan::ActualRole],
    own_roles: &[u64],
    incumbent: Option<crate::workflows::incumbent::Incumbent>,
) -> Option<i64> {
    let others = roles.iter().filter(|r| r.managed && !own_roles.contains(&r.id));
    let named = |r: &&crate::plan::ActualRole| {
        incumbent.is_none_or(|i| {
            let name = r.name.to_lowercase();
            i.signature().role_fragments.iter().any(|f| name.contains(f))
                || i.signature().name.eq_ignore_ascii_case(&r.name)
        })
    };
    others.clone().filter(named).map(|r| r.position).max().or_else(|| others.map(|r| r.position).max())
}

/// Where parallel mode puts Arrakis's roles: below every other role (the ones the incumbent
/// assigns, the operator's own, any bot's), so they change no member's colour, hoisting or
/// order. The position of the lowest role that is neither one of `ours` nor @everyone
/// (`everyone`, the guild's id); `None` when there is none.
pub fn parallel_ceiling(roles: &[crate::plan::ActualRole], ours: &[u64], everyone: u64) -> Option<i64> {
    roles.iter().filter(|r| r.id != everyone && !ours.contains(&r.id)).map(|r| r.position).min()
}

/// Where Arrakis's roles go in parallel mode: right below `ceiling` ([`parallel_ceiling`]),
/// in manifest order (`ours` first = highest, with their current positions), and
/// below the Arrakis bot's own highest role (`bot_top`). Positions are Discord's (higher is
/// above); returns the moves of the roles not yet in place.
pub fn parallel_positions(ours: &[(u64, i64)], ceiling: i64, bot_top: i64) -> Vec<(u64, u64)> {
    let m = ours.len() as i64;
    // Taking our roles out of the order moves the ceiling down by those below it.
    let below = ours.iter().filter(|(_, p)| *p < ceiling).count() as i64;
    let top = (ceiling - below).min(bot_top - m);
    ours.iter()
        .enumerate()
        .map(|(i, (id, current))| (*id, *current, (top + m - 1 - i as i64).max(1)))
        .filter(|(_, current, wanted)| current != wanted)
        .map(|(id, _, wanted)| (id, wanted as u64))
        .collect()
}

impl Cohort {
    /// Everyone, at once.
    pub fn everyone(started_at_ms: u64) -> Self {
        Self { batches: 1, moved: 1, started_at_ms }
    }

    /// True when `user` is moved: a member who joined after the start, or one whose batch
    /// (a stable spread of user ids) has come.
    pub fn moved(&self, user: UserId, joined_at_ms: Option<u64>) -> bool {
        if joined_at_ms.is_some_and(|at| at >= self.started_at_ms) || self.moved >= self.batches {
            return true;
        }
        batch_of(user, self.batches) < self.moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GuildId;

    fn guild() -> GuildId {
        "1100000000000000001".parse().expect("id")
    }

    fn input(strategy: MigrationStrategy) -> MigrationInput {
        MigrationInput {
            guild_id: guild(),
            strategy,
            days: None,
            batches: None,
            channels: None,
            actor: "cli:alice".into(),
            force: None,
            seconds_per_day: None,
            watch_secs: None,
            thresholds: RollbackThresholds::default(),
            carried: None,
        }
    }

    #[test]
    fn readiness_needs_fourteen_days_and_95_percent() {
        assert!(readiness(Some(14), Some(0.95), 100).ready);
        let r = readiness(Some(13), Some(0.949), 100);
        assert!(!r.ready && r.reasons.len() == 2, "{r:?}");
        assert!(r.reasons[1].contains("94.9 %"), "{r:?}");
        assert!(!readiness(None, None, 0).ready);
    }

    #[test]
    fn a_gradual_migration_needs_days_and_the_rest_none() {
        let mut i = input(MigrationStrategy::Gradual);
        assert!(i.check().expect_err("no days").has("days"));
        i.days = Some(2);
        assert_eq!(i.check(), Ok(()));
        assert_eq!((i.batch_count(), i.batch_interval_ms()), (8, 2 * DAY_SECS * 1000 / 8));
        i.seconds_per_day = Some(5);
        assert!(i.check().expect_err("too short").has("seconds_per_day"));
        let mut j = input(MigrationStrategy::Instant);
        j.days = Some(3);
        assert!(j.check().expect_err("days").has("days"));
        j.days = None;
        j.force = Some(ReadinessOverride { reason: " ".into() });
        assert!(j.check().expect_err("reason").has("force.reason"));
    }

    #[test]
    fn batches_spread_members_evenly_and_move_new_members_at_once() {
        let cohort = Cohort { batches: 4, moved: 1, started_at_ms: 1_000 };
        let users: Vec<UserId> = (1..=4_000u64).map(|i| UserId::new(1_000_000_000 + i).expect("id")).collect();
        let moved = users.iter().filter(|u| cohort.moved(**u, Some(0))).count();
        assert!((800..1200).contains(&moved), "about a quarter: {moved}");
        let all = Cohort { moved: 4, ..cohort.clone() };
        assert!(users.iter().all(|u| all.moved(*u, Some(0))));
        assert!(users.iter().all(|u| cohort.moved(*u, Some(1_000))), "joined since the start: moved");
        // Later batches keep earlier ones.
        let two = Cohort { moved: 2, ..cohort.clone() };
        assert!(users.iter().filter(|u| cohort.moved(**u, Some(0))).all(|u| two.moved(*u, Some(0))));
    }

    #[test]
    fn the_rollback_triggers_on_access_loss_errors_or_the_breaker() {
        let t = RollbackThresholds::default();
        let at = |at_ms: u64, lost: u64, requests: u64, failed: u64| Reported {
            at_ms,
            report: AccessReport { lost, requests, failed, members: 1_000, ..AccessReport::default() },
        };
        let hour = 3_600_000;
        assert_eq!(rollback_trigger(&[at(0, 30, 0, 0), at(10, 20, 0, 0)], 20, &t), None, "50 of 1000 is 5 %");
        assert!(rollback_trigger(&[at(0, 30, 0, 0), at(10, 21, 0, 0)], 20, &t).expect("51").contains("51 of 1000"));
        assert_eq!(
            rollback_trigger(&[at(0, 30, 0, 0), at(hour + 10, 21, 0, 0)], hour + 20, &t),
            None,
            "outside the hour"
        );
        assert!(rollback_trigger(&[at(0, 0, 100, 11)], 10, &t).expect("errors").contains("11 of 100"));
        assert_eq!(rollback_trigger(&[at(0, 0, 10, 5)], 10, &t), None, "too few requests to judge");
        let tripped = Reported { at_ms: 0, report: AccessReport { breaker_tripped: true, ..Default::default() } };
        assert!(rollback_trigger(&[tripped], 0, &t).expect("breaker").contains("breaker"));
        let mut kept = vec![at(0, 1, 1, 0), at(2 * hour, 1, 1, 0)];
        prune(&mut kept, 2 * hour + 1, &t);
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn a_report_no_member_sync_could_send_is_dropped_and_sums_never_overflow() {
        let ok = AccessReport { lost: 3, requests: 10, failed: 2, members: 1_000, ..AccessReport::default() };
        assert_eq!(ok.clone().bounded(), Some(ok.clone()));
        assert_eq!(AccessReport { failed: 11, ..ok.clone() }.bounded(), None, "more failures than requests");
        assert_eq!(AccessReport { lost: u64::MAX, ..ok.clone() }.bounded(), None);
        assert_eq!(AccessReport { members: REPORT_COUNT_MAX + 1, ..ok.clone() }.bounded(), None);
        // Even unbounded reports (an older run's state) cannot panic the judgement.
        let huge = Reported {
            at_ms: u64::MAX,
            report: AccessReport { lost: u64::MAX, requests: u64::MAX, failed: u64::MAX, ..ok },
        };
        let reports = [huge.clone(), huge];
        assert_eq!(sum_reports(reports.iter(), |r| r.lost), u64::MAX);
        assert!(rollback_trigger(&reports, u64::MAX, &RollbackThresholds::default()).is_some());
    }

    fn shadow_manifest() -> CommunityManifest {
        serde_json::from_value(serde_json::json!({
            "guild_id": "1100000000000000001", "name": "Sietch", "mode": "shadow", "chains": [1],
            "assets": [{"key": "spice", "chain_id": 1, "kind": "erc20", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "decimals": 18}],
            "rules": {"holder": {"min_balance": {"asset": "spice", "amount": "100"}}},
            "roles": [{"key": "holder", "name": "Holder", "grant": {"rule": "holder"}, "permissions": "8"}]
        }))
        .expect("manifest")
    }

    #[test]
    fn the_parallel_manifest_namespaces_roles_strips_permissions_and_adds_by_strategy() {
        let base = shadow_manifest();
        let (m, creates) = parallel_manifest(&base, ChannelStrategy::AdditiveOnly, &[]);
        assert_eq!(m.mode, Mode::Parallel);
        assert_eq!(m.roles[0].name, "arrakis-holder");
        assert!(m.roles.iter().all(|r| r.permissions.is_none() && r.name.starts_with(ROLE_PREFIX)));
        let names: Vec<&str> = m.channels.categories[0].channels.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["conviction-lounge", "diamond-hands"]);
        assert_eq!(creates.len(), 3, "{creates:?}");
        m.validate().expect("valid in parallel mode");
        let gated =
            [GatedChannel { name: "holders-only".into(), kind: ChannelKind::Text, role_keys: vec!["holder".into()] }];
        let (mirror, _) = parallel_manifest(&base, ChannelStrategy::ParallelMirror, &gated);
        let copy = &mirror.channels.categories[0].channels[0];
        assert_eq!((copy.name.as_str(), copy.visible_to.clone()), ("arrakis-holders-only", vec!["holder".to_string()]));
        mirror.validate().expect("valid");
        assert!(parallel_manifest(&base, ChannelStrategy::None, &[]).0.channels.categories.is_empty());
        assert_eq!(parallel_role_name("arrakis-keep"), "arrakis-keep");
        assert_eq!(parallel_role_name("🌶 Spice  Holder!"), "arrakis-spice-holder");
    }

    #[test]
    fn parallel_roles_go_below_every_other_role() {
        let role = |id: u64, name: &str, position: i64, managed: bool| crate::plan::ActualRole {
            id,
            name: name.into(),
            position,
            managed,
            ..Default::default()
        };
        let roles = [
            role(100, "@everyone", 0, false),
            role(7, "arrakis-holder", 1, false),
            role(4, "Moderator", 2, false),
            role(3, "Holder", 3, false),
            role(2, "Collab.Land", 4, true),
            role(1, "Arrakis", 5, true),
        ];
        assert_eq!(parallel_ceiling(&roles, &[7], 100), Some(2), "below the operator's Moderator");
        assert_eq!(parallel_positions(&[(7, 1)], 2, 5), Vec::<(u64, u64)>::new(), "in place: nothing moves");
        assert_eq!(parallel_ceiling(&roles[..2], &[7], 100), None, "no other role");
        // A role above them comes down: below Moderator, the lowest of the others.
        let above = [roles[0].clone(), role(4, "Moderator", 1, false), role(7, "arrakis-holder", 2, false)];
        assert_eq!(parallel_ceiling(&above, &[7], 100), Some(1));
        assert_eq!(parallel_positions(&[(7, 2)], 1, 5), vec![(7, 1)]);
        // Parallel placement applies beside an incumbent: its bot's managed role (or, unnamed,
        // another bot's).
        let bots = [role(1, "Arrakis", 20, true), role(2, "Collab.Land", 10, true), role(3, "MEE6", 15, true)];
        let collabland = Some(crate::workflows::incumbent::Incumbent::Collabland);
        assert_eq!(incumbent_ceiling(&bots, &[1], collabland), Some(10));
        assert_eq!(incumbent_ceiling(&bots, &[1], None), Some(15), "another bot's role, the highest");
        assert_eq!(incumbent_ceiling(&bots[..1], &[1], collabland), None, "only our own");
        // Fresh roles at the bottom: they take 9 and 8, and the incumbent's stays at 10.
        assert_eq!(parallel_positions(&[(7, 2), (8, 1)], 10, 20), vec![(7, 9), (8, 8)]);
        // Roles above the ceiling come down right below it.
        assert_eq!(parallel_positions(&[(7, 12), (8, 11)], 10, 20), vec![(7, 11), (8, 10)]);
        // In place already: nothing moves.
        assert!(parallel_positions(&[(7, 9), (8, 8)], 10, 20).is_empty());
        // Never above the bot's own role.
        assert_eq!(parallel_positions(&[(7, 1)], 30, 5), vec![(7, 4)]);
    }

    #[test]
    fn each_rollback_record_is_audited_by_what_it_follows() {
        let mut record = RecordRollback {
            guild_id: "123456789012345678".parse().expect("snowflake"),
            migration_id: "m".into(),
            rollback: RollbackInfo::default(),
            step: None,
        };
        assert_eq!(record.audit_action(), "migration.rollback_started");
        record.step = Some(Compensation::StopMemberSync);
        assert_eq!(record.audit_action(), "migration.rollback.stop_member_sync");
        record.step = Some(Compensation::RestoreManifest { version: 3 });
        assert_eq!(record.audit_action(), "migration.rollback.restore_manifest");
        record.rollback.finished_at_ms = Some(1);
        assert_eq!(record.audit_action(), "migration.rolled_back");
        let wire = serde_json::to_value(Compensation::RestoreMode { mode: Mode::Parallel }).expect("json");
        assert_eq!(wire["undo"], Compensation::RestoreMode { mode: Mode::Parallel }.name());
    }

    #[test]
    fn rollback_needs_a_reason() {
        assert!(RollbackRequest { reason: "".into(), actor: "cli:x".into() }.check().expect_err("empty").has("reason"));
        assert_eq!(RollbackRequest { reason: "members complain".into(), actor: "discord:1".into() }.check(), Ok(()));
    }
}
