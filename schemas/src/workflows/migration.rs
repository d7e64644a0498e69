//! Migration (`migration-{guild_id}`): move a community from its incumbent bot to Arrakis — a
//! saga whose every step registers its compensation before it runs — with one-click and
//! automatic rollback.
//!
//! The path: shadow (proven accurate) → parallel (Arrakis's own `arrakis-*` roles, without
//! permissions, beside the incumbent's) → members moved over (`instant`, or `gradual` in
//! batches on durable timers) → primary. Rollback removes only what Arrakis added (deleting an
//! `arrakis-*` role takes it from every member in one request) and restores the manifest and
//! the mode the community had. The rules (readiness, who is moved, when to roll back by
//! itself) are pure functions here, with their tests.

use crate::{
    Category, Channel, ChannelKind, ChannelPlan, ChannelStrategy, CommunityId, CommunityManifest, Condition, GuildId,
    Mode, RoleGrant, RoleSpec, UserId, ValidationErrors,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Workflow type name.
pub const WORKFLOW_TYPE: &str = "Migration";
/// `ArrakisKind` value.
pub const KIND: &str = "migration";
/// Update name: roll back, with a reason.
pub const ROLLBACK_UPDATE: &str = "rollback";
/// Update name: hold the next batch until resumed (gradual).
pub const PAUSE_UPDATE: &str = "pause";
/// Update name: carry on after a pause.
pub const RESUME_UPDATE: &str = "resume";
/// Signal name: what member sync saw (lenient payload [`AccessReport`]).
pub const ACCESS_SIGNAL: &str = "access_report";
/// Query name for [`MigrationStatus`].
pub const STATUS_QUERY: &str = "status";
/// Every role Arrakis makes in parallel mode starts with this.
pub const ROLE_PREFIX: &str = "arrakis-";
/// Readiness: at least this many days in shadow mode.
pub const MIN_SHADOW_DAYS: u64 = 14;
/// Readiness: at least this accuracy of validated predictions.
pub const MIN_ACCURACY: f64 = 0.95;
/// The custom id of the Rollback button in the migration's operator messages.
pub const ROLLBACK_BUTTON: &str = "mig:rollback";

/// The readable workflow ID.
pub fn workflow_id(guild_id: GuildId) -> String {
    format!("migration-{guild_id}")
}

/// How members move over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MigrationStrategy {
    /// Everyone at once, then primary.
    Instant,
    /// New members at once, existing ones in batches over `days`, then primary.
    Gradual,
    /// Both bots for good: parallel, everyone, and no step to primary.
    ParallelForever,
    /// Arrakis leads at once; the incumbent's roles stay as a fallback.
    ArrakisPrimary,
}

impl MigrationStrategy {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instant => "instant",
            Self::Gradual => "gradual",
            Self::ParallelForever => "parallel_forever",
            Self::ArrakisPrimary => "arrakis_primary",
        }
    }

    /// Parses the stable name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Instant, Self::Gradual, Self::ParallelForever, Self::ArrakisPrimary]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    /// The mode the community ends in.
    pub fn final_mode(self) -> Mode {
        match self {
            Self::ParallelForever => Mode::Parallel,
            _ => Mode::Primary,
        }
    }
}

/// An explicit, audited override of the readiness checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadinessOverride {
    /// Why the checks are overridden (1–500 characters).
    pub reason: String,
}

/// When the migration rolls back by itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RollbackThresholds {
    /// Members losing access within `access_window_secs`, as a share of members (default 0.05).
    pub access_loss_fraction: f64,
    /// The access-loss window, seconds (default 3,600).
    pub access_window_secs: u64,
    /// Failed Discord requests as a share of requests within `error_window_secs` (default 0.10).
    pub error_fraction: f64,
    /// The error window, seconds (default 900).
    pub error_window_secs: u64,
    /// Requests the error window needs before its share means anything (default 20).
    pub min_requests: u64,
}

impl Default for RollbackThresholds {
    fn default() -> Self {
        Self {
            access_loss_fraction: 0.05,
            access_window_secs: 3_600,
            error_fraction: 0.10,
            error_window_secs: 900,
            min_requests: 20,
        }
    }
}

/// Input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrationInput {
    /// The guild.
    pub guild_id: GuildId,
    /// How members move over.
    pub strategy: MigrationStrategy,
    /// For `gradual`: over how many days (1–90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// For `gradual`: in how many batches (2–360; default 4 a day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batches: Option<u32>,
    /// Which channels Arrakis adds: `none`, `additive_only` (the default), `parallel_mirror`
    /// or `custom` (the manifest's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<ChannelStrategy>,
    /// Who asked (`discord:…`, `cli:…`), for the audit log.
    #[serde(default = "default_actor")]
    pub actor: String,
    /// Go ahead although the readiness checks fail (audited, shown in the status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<ReadinessOverride>,
    /// The length of a "day" in seconds (10–86,400; default 86,400): drills and tests run a
    /// gradual migration in minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_per_day: Option<u64>,
    /// How long, in seconds, rollback stays one click away (and automatic) after the last step
    /// (60–2,592,000; default 7 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_secs: Option<u64>,
    /// When to roll back by itself.
    #[serde(default)]
    pub thresholds: RollbackThresholds,
    /// Where an earlier run of this migration got to (set by the workflow itself when it
    /// continues as new; leave it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried: Option<MigrationCarried>,
}

/// What a migration carries across continue-as-new: its stage and everything the steps after
/// it need, so a long gradual migration keeps a short history.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MigrationCarried {
    /// This migration's id (its first run's id), the key of its `migrations` row.
    pub migration_id: String,
    /// The status so far (stage, batches, compensations, rollback).
    pub status: MigrationStatus,
    /// What member sync reported within the rollback windows.
    pub reports: Vec<Reported>,
    /// The prepared parallel manifest, once made.
    pub prepared: Option<Prepared>,
    /// Workflow time (Unix ms) the migration started.
    pub started_at_ms: u64,
    /// Steps of the preparation done (the parallel manifest, its roles and channels, member
    /// sync, the lead for `arrakis_primary`), so a new run picks up after the last.
    pub steps_done: u32,
    /// Runs so far.
    pub runs: u32,
}

fn default_actor() -> String {
    "cli".into()
}

/// A day, in seconds.
pub const DAY_SECS: u64 = 86_400;
/// How long rollback stays open after the last step, by default.
pub const DEFAULT_WATCH_SECS: u64 = 7 * DAY_SECS;

impl MigrationInput {
    /// Checks every rule beyond the types, naming the field.
    pub fn check(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        match (self.strategy, self.days) {
            (MigrationStrategy::Gradual, None) => errors.push("days", "required for gradual: 1 to 90"),
            (MigrationStrategy::Gradual, Some(d)) if !(1..=90).contains(&d) => {
                errors.push("days", format!("between 1 and 90, got {d}"))
            }
            (MigrationStrategy::Gradual, _) => {}
            (_, Some(_)) => errors.push("days", "only the gradual strategy takes days"),
            (_, None) => {}
        }
        if let Some(b) = self.batches.filter(|b| !(2..=360).contains(b)) {
            errors.push("batches", format!("between 2 and 360, got {b}"));
        }
        if self.batches.is_some() && self.strategy != MigrationStrategy::Gradual {
            errors.push("batches", "only the gradual strategy takes batches");
        }
        if let Some(s) = self.seconds_per_day.filter(|s| !(10..=DAY_SECS).contains(s)) {
            errors.push("seconds_per_day", format!("between 10 and 86400, got {s}"));
        }
        if let Some(w) = self.watch_secs.filter(|w| !(60..=30 * DAY_SECS).contains(w)) {
            errors.push("watch_secs", format!("between 60 and 2592000, got {w}"));
        }
        if let Err(e) = crate::check_decision(&self.actor, "") {
            errors.0.extend(e.0);
        }
        if let Some(force) = &self.force {
            let before = errors.0.len();
            crate::check_text(&mut errors, "force.reason", &force.reason, true, crate::REASON_MAX);
            if errors.0.len() > before {
                errors.0.truncate(before);
                errors.push("force.reason", "1 to 500 characters: why the readiness checks are overridden");
            }
        }
        let t = &self.thresholds;
        for (field, share) in [("access_loss_fraction", t.access_loss_fraction), ("error_fraction", t.error_fraction)] {
            if !(0.0..=1.0).contains(&share) {
                errors.push(format!("thresholds.{field}"), format!("between 0 and 1, got {share}"));
            }
        }
        for (field, secs) in [("access_window_secs", t.access_window_secs), ("error_window_secs", t.error_window_secs)]
        {
            if !(10..=7 * DAY_SECS).contains(&secs) {
                errors.push(format!("thresholds.{field}"), format!("between 10 and 604800, got {secs}"));
            }
        }
        errors.into_result()
    }

    /// The number of batches of a gradual migration.
    pub fn batch_count(&self) -> u32 {
        match self.strategy {
            MigrationStrategy::Gradual => {
                self.batches.unwrap_or(self.days.unwrap_or(1).saturating_mul(4)).clamp(2, 360)
            }
            _ => 1,
        }
    }

    /// Milliseconds between batches.
    pub fn batch_interval_ms(&self) -> u64 {
        let day = self.seconds_per_day.unwrap_or(DAY_SECS) * 1000;
        u64::from(self.days.unwrap_or(1)) * day / u64::from(self.batch_count())
    }
}

/// The rollback update's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// Why, for the audit log (1–500 characters).
    pub reason: String,
    /// Who (`discord:…`, `cli:…`).
    #[serde(default = "default_actor")]
    pub actor: String,
}

impl RollbackRequest {
    /// Checks the fields, naming them.
    pub fn check(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        crate::check_text(&mut errors, "reason", &self.reason, true, crate::REASON_MAX);
        crate::check_actor(&mut errors, "actor", &self.actor);
        errors.into_result()
    }
}

/// The readiness checks' verdict.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Readiness {
    /// Days in shadow mode beside an incumbent.
    pub shadow_days: Option<u64>,
    /// Accuracy of the predictions validated in the last 30 days.
    pub accuracy: Option<f64>,
    /// How many predictions were validated.
    pub validated: u64,
    /// True when every check passes.
    pub ready: bool,
    /// What fails, in an operator's words.
    pub reasons: Vec<String>,
}

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

/// Who of a guild's members is moved over: a gradual migration's batches, fixed at its start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Cohort {
    /// Batches in all.
    pub batches: u32,
    /// Batches moved so far.
    pub moved: u32,
    /// When the migration started (Unix ms): members who joined since are moved at once.
    pub started_at_ms: u64,
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

/// The batch (0-based) of `user` among `batches`: a stable spread (SplitMix64 of the id).
pub fn batch_of(user: UserId, batches: u32) -> u32 {
    let mut z = user.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % u64::from(batches.max(1))) as u32
}

/// What member sync saw since its last report (the `access_report` signal).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccessReport {
    /// Members who lost a role (revoked), or whose revocation the breaker holds.
    #[serde(default)]
    pub lost: u64,
    /// Member-role requests sent.
    #[serde(default)]
    pub requests: u64,
    /// Of those, refused or failed.
    #[serde(default)]
    pub failed: u64,
    /// The mass-removal breaker held a batch.
    #[serde(default)]
    pub breaker_tripped: bool,
    /// Members of the guild (the last sweep's count).
    #[serde(default)]
    pub members: u64,
}

/// The largest count a report may carry: more members or requests than any guild has in a
/// window is a forged or corrupt payload.
pub const REPORT_COUNT_MAX: u64 = 1_000_000_000;

impl AccessReport {
    /// The report if it is one member sync could have sent (counts within bounds, no more
    /// failures than requests); `None` drops it, so no payload can overflow the sums the
    /// thresholds are judged on.
    pub fn bounded(self) -> Option<Self> {
        let counts = [self.lost, self.requests, self.failed, self.members];
        (counts.iter().all(|c| *c <= REPORT_COUNT_MAX) && self.failed <= self.requests).then_some(self)
    }
}

/// Sums `count` over `reports` without overflowing.
pub fn sum_reports<'a>(reports: impl Iterator<Item = &'a Reported>, count: impl Fn(&AccessReport) -> u64) -> u64 {
    reports.fold(0u64, |sum, r| sum.saturating_add(count(&r.report)))
}

/// One report as the migration keeps it: when it came.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reported {
    /// Workflow time (Unix ms).
    pub at_ms: u64,
    /// What was reported.
    pub report: AccessReport,
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

/// Where a migration is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MigrationStage {
    /// Readiness checks (shadow days, accuracy).
    #[default]
    CheckingReadiness,
    /// The checks failed and nothing was overridden: nothing was changed.
    NotReady,
    /// Making Arrakis's parallel roles and channels.
    Preparing,
    /// Moving members.
    Migrating,
    /// Finished: rollback stays one click away (and automatic) for the watch period.
    Completed,
    /// Putting everything back.
    RollingBack,
    /// Put back.
    RolledBack,
}

/// What a compensation undoes, registered before its step runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "undo", rename_all = "snake_case")]
pub enum Compensation {
    /// Save the manifest the community had again (and with it its mode).
    RestoreManifest {
        /// The version to restore.
        version: i32,
    },
    /// Delete every role and channel Arrakis made for the migration.
    RemoveArrakisObjects,
    /// Stop member sync.
    StopMemberSync,
    /// Put the mode back (before the manifest is restored).
    RestoreMode {
        /// The mode.
        mode: Mode,
    },
}

impl Compensation {
    /// In an operator's words.
    pub fn describe(&self) -> String {
        match self {
            Self::RestoreManifest { version } => format!("restore manifest v{version} and its mode"),
            Self::RemoveArrakisObjects => "delete the arrakis-* roles and the channels Arrakis added".into(),
            Self::StopMemberSync => "stop member sync".into(),
            Self::RestoreMode { mode } => format!("put the mode back to {}", mode.as_str()),
        }
    }
}

/// A rollback, as the status shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RollbackInfo {
    /// Why.
    pub reason: String,
    /// Who (`automatic` when a threshold was crossed).
    pub by: String,
    /// True when a threshold started it.
    pub automatic: bool,
    /// Workflow time (Unix ms) it started.
    pub started_at_ms: u64,
    /// Workflow time (Unix ms) it finished.
    pub finished_at_ms: Option<u64>,
    /// Compensations run, in order, with their outcome.
    pub steps: Vec<String>,
}

/// The `status` query's answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MigrationStatus {
    /// The stage.
    pub stage: MigrationStage,
    /// The strategy.
    pub strategy: Option<MigrationStrategy>,
    /// The readiness checks' verdict.
    pub readiness: Option<Readiness>,
    /// The override, when the checks were overridden.
    pub forced: Option<ReadinessOverride>,
    /// The mode the community had before.
    pub from_mode: Option<Mode>,
    /// The mode it is in now, as far as the migration took it.
    pub mode: Option<Mode>,
    /// Batches in all (1 unless gradual).
    pub batches: u32,
    /// Batches moved.
    pub moved_batches: u32,
    /// Members moved, estimated from the last sweep's count and the batches moved.
    pub members_moved: u64,
    /// Members still to move (the same estimate).
    pub members_remaining: u64,
    /// Workflow time (Unix ms) of the next batch.
    pub next_batch_at_ms: Option<u64>,
    /// Held by a `pause`.
    pub paused: bool,
    /// Compensations registered so far, in order.
    pub compensations: Vec<Compensation>,
    /// The rollback, once one started.
    pub rollback: Option<RollbackInfo>,
    /// Workflow time (Unix ms) rollback stops being one click away.
    pub watch_until_ms: Option<u64>,
    /// Members who lost access, and requests failed, in the current windows.
    pub lost_in_window: u64,
    /// Requests failed in the error window.
    pub failed_in_window: u64,
}

/// A channel the incumbent gates (hidden from everyone, shown to the holders of roles the
/// manifest maps), as `parallel_mirror` copies it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GatedChannel {
    /// Its name.
    pub name: String,
    /// Text, voice or announcement.
    pub kind: ChannelKind,
    /// The manifest role keys whose incumbent roles see it.
    pub role_keys: Vec<String>,
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

/// What a channel strategy creates, in an operator's words (REVIEW and `/arrakis migrate`
/// show it); `plan` is the manifest's own plan, which `custom` keeps.
pub fn strategy_creates(strategy: ChannelStrategy, plan: &ChannelPlan) -> String {
    match strategy {
        ChannelStrategy::None => "none: Arrakis makes no channels".into(),
        ChannelStrategy::AdditiveOnly => {
            let [(lounge, _, at), (diamond, _, top)] = conviction_thresholds(crate::Theme::Basic);
            format!(
                "additive_only: only what the incumbent cannot offer, #{lounge} (score ≥ {at}) and #{diamond} (≥ {top})"
            )
        }
        ChannelStrategy::ParallelMirror => {
            "parallel_mirror: an arrakis-… copy of each of the incumbent's gated channels, for the arrakis-* roles"
                .into()
        }
        ChannelStrategy::Custom => {
            let channels: usize = plan.categories.iter().map(|c| c.channels.len()).sum();
            format!("custom: your {} categories and {channels} channels", plan.categories.len())
        }
    }
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
    for role in &mut m.roles {
        role.name = parallel_role_name(&role.name);
        role.permissions = None;
    }
    let mut creates: Vec<String> =
        m.roles.iter().map(|r| format!("role @{} (beside the incumbent's, no permissions)", r.name)).collect();
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

/// Where Arrakis's roles go in parallel mode: right below the incumbent's highest managed role
/// (`ceiling`), in manifest order (`ours` first = highest, with their current positions), and
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

// ---- activity contracts ------------------------------------------------------------------------

/// `migration.readiness`'s answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReadinessReport {
    /// The verdict.
    pub readiness: Readiness,
    /// The community's mode.
    pub mode: Option<Mode>,
    /// The newest manifest version.
    pub version: Option<i32>,
}

/// `migration.readiness`'s input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReadinessRequest {
    /// The guild.
    pub guild_id: GuildId,
}

/// `migration.prepare`'s input: derive and save the parallel manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Prepare {
    /// The guild.
    pub guild_id: GuildId,
    /// This migration (its workflow run).
    pub migration_id: String,
    /// Who is moved at first (nobody for gradual, everyone otherwise).
    pub cohort: Cohort,
    /// The strategy.
    pub strategy: MigrationStrategy,
    /// Which channels Arrakis adds.
    pub channels: ChannelStrategy,
    /// Who asked.
    pub actor: String,
    /// The override of the readiness checks, if any.
    pub forced: Option<ReadinessOverride>,
}

/// `migration.prepare`'s answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Prepared {
    /// The community (tenant) id.
    pub community_id: CommunityId,
    /// The manifest version before the migration (what rollback restores).
    pub previous_version: i32,
    /// The mode before the migration.
    pub previous_mode: Mode,
    /// The parallel manifest's version.
    pub version: i32,
    /// What it creates, in an operator's words (roles and channels, by strategy).
    pub creates: Vec<String>,
}

/// `migration.cohort`'s input: who is moved so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SetCohort {
    /// The guild.
    pub guild_id: GuildId,
    /// This migration.
    pub migration_id: String,
    /// Who is moved (`None`: the migration is over, everyone is).
    pub cohort: Option<Cohort>,
    /// The stage to record.
    pub stage: MigrationStage,
}

/// `migration.set_mode`'s input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SetMode {
    /// The guild.
    pub guild_id: GuildId,
    /// The mode.
    pub mode: Mode,
    /// Who asked, for the audit row with from/to.
    pub actor: String,
    /// Why.
    pub reason: String,
}

/// `migration.compensate`'s input: undo one step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Compensate {
    /// The guild.
    pub guild_id: GuildId,
    /// This migration.
    pub migration_id: String,
    /// The step to undo.
    pub compensation: Compensation,
    /// Who rolled back, and why.
    pub actor: String,
    /// Why.
    pub reason: String,
}

/// `migration.record_rollback`'s input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordRollback {
    /// The guild.
    pub guild_id: GuildId,
    /// This migration.
    pub migration_id: String,
    /// What happened.
    pub rollback: RollbackInfo,
}

/// `migration.finish`'s input: the migration is over (completed, rolled back, not ready).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FinishMigration {
    /// The guild.
    pub guild_id: GuildId,
    /// This migration.
    pub migration_id: String,
    /// The stage it ended in.
    pub stage: MigrationStage,
}

/// The button under an operator message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeButton {
    /// Roll the migration back (asks for a reason).
    Rollback,
    /// Activate Arrakis as backup for an unhealthy incumbent (never automatic).
    ActivateBackup,
}

/// `migration.notify`'s input: tell the operator, with a button where one helps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MigrationNotice {
    /// The guild.
    pub guild_id: GuildId,
    /// The text.
    pub text: String,
    /// The button, if any.
    pub button: Option<NoticeButton>,
}

impl MigrationStage {
    /// The stable name (the `migrations.stage` column, the status line).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CheckingReadiness => "checking_readiness",
            Self::NotReady => "not_ready",
            Self::Preparing => "preparing",
            Self::Migrating => "migrating",
            Self::Completed => "completed",
            Self::RollingBack => "rolling_back",
            Self::RolledBack => "rolled_back",
        }
    }

    /// True while a rollback makes sense: something was changed and nothing was put back.
    pub fn can_roll_back(self) -> bool {
        matches!(self, Self::Preparing | Self::Migrating | Self::Completed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            report: AccessReport { lost, requests, failed, breaker_tripped: false, members: 1_000 },
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
        let ok = AccessReport { lost: 3, requests: 10, failed: 2, breaker_tripped: false, members: 1_000 };
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
    fn parallel_roles_go_right_below_the_incumbents_managed_role() {
        let role = |id: u64, name: &str, position: i64, managed: bool| crate::plan::ActualRole {
            id,
            name: name.into(),
            position,
            managed,
            ..Default::default()
        };
        let roles = [role(1, "Arrakis", 20, true), role(2, "Collab.Land", 10, true), role(3, "MEE6", 15, true)];
        let collabland = Some(crate::workflows::incumbent::Incumbent::Collabland);
        assert_eq!(incumbent_ceiling(&roles, &[1], collabland), Some(10));
        assert_eq!(incumbent_ceiling(&roles, &[1], None), Some(15), "another bot's role, the highest");
        assert_eq!(incumbent_ceiling(&roles[..1], &[1], collabland), None, "only our own");
        // Fresh roles at the bottom: they take 9 and 8, and the incumbent's stays at 10.
        assert_eq!(parallel_positions(&[(7, 2), (8, 1)], 10, 20), vec![(7, 9), (8, 8)]);
        // Roles above the incumbent's come down right below it.
        assert_eq!(parallel_positions(&[(7, 12), (8, 11)], 10, 20), vec![(7, 11), (8, 10)]);
        // In place already: nothing moves.
        assert!(parallel_positions(&[(7, 9), (8, 8)], 10, 20).is_empty());
        // Never above the bot's own role.
        assert_eq!(parallel_positions(&[(7, 1)], 30, 5), vec![(7, 4)]);
    }

    #[test]
    fn each_strategy_says_what_it_creates() {
        let plan = shadow_manifest().channels;
        assert!(strategy_creates(ChannelStrategy::AdditiveOnly, &plan).contains("#conviction-lounge (score ≥ 80)"));
        assert!(strategy_creates(ChannelStrategy::ParallelMirror, &plan).contains("copy"));
        assert_eq!(strategy_creates(ChannelStrategy::Custom, &plan), "custom: your 0 categories and 0 channels");
        assert!(strategy_creates(ChannelStrategy::None, &plan).starts_with("none"));
    }

    #[test]
    fn rollback_needs_a_reason() {
        assert!(RollbackRequest { reason: "".into(), actor: "cli:x".into() }.check().expect_err("empty").has("reason"));
        assert_eq!(RollbackRequest { reason: "members complain".into(), actor: "discord:1".into() }.check(), Ok(()));
    }
}
