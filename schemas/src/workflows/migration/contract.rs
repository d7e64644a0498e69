//! Migration's contract: the workflow's input and status, the rollback request, the cohorts and
//! access reports it is signalled, and what its activities carry. Data only; the rules that
//! read it are in `decide.rs`.

use crate::{ChannelKind, ChannelStrategy, CommunityId, GuildId, Mode, ValidationErrors};
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
    /// The last batch member sync reported written in full ([`AccessReport::settled_batch`]).
    #[serde(default)]
    pub settled_batch: u32,
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
    /// The last migration batch this sync has written in full: a sweep begun after the
    /// migration's nudge for it has ended, and nothing it decided waits to be written. The
    /// migration is complete once this reaches its last batch.
    #[serde(default)]
    pub settled_batch: u32,
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

/// One report as the migration keeps it: when it came.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reported {
    /// Workflow time (Unix ms).
    pub at_ms: u64,
    /// What was reported.
    pub report: AccessReport,
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
    /// Hold the reconcile schedule while the rollback runs (paused here, resumed once the
    /// rollback has ended), so no scheduled run recreates what the rollback removes before
    /// the manifest is restored.
    HoldReconcile,
}

impl Compensation {
    /// Its wire name (`restore_manifest`), which names its audit row.
    pub fn name(&self) -> &'static str {
        match self {
            Self::RestoreManifest { .. } => "restore_manifest",
            Self::RemoveArrakisObjects => "remove_arrakis_objects",
            Self::StopMemberSync => "stop_member_sync",
            Self::RestoreMode { .. } => "restore_mode",
            Self::HoldReconcile => "hold_reconcile",
        }
    }

    /// In an operator's words.
    pub fn describe(&self) -> String {
        match self {
            Self::RestoreManifest { version } => format!("restore manifest v{version} and its mode"),
            Self::RemoveArrakisObjects => "delete the arrakis-* roles and the channels Arrakis added".into(),
            Self::StopMemberSync => "stop member sync".into(),
            Self::RestoreMode { mode } => format!("put the mode back to {}", mode.as_str()),
            Self::HoldReconcile => "pause the reconcile schedule until the rollback ends".into(),
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
    /// Every member is moved, and the migration waits for member sync to say their roles are
    /// all written before it calls itself complete.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_writes: bool,
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
    /// The step this record follows, when it follows one: the audit row is named after it
    /// (`migration.rollback.stop_member_sync`). `None` for the start and the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Compensation>,
}

impl RecordRollback {
    /// The audit action of this record: the rollback's start, one of its steps by name, or
    /// its end.
    pub fn audit_action(&self) -> String {
        match (&self.step, self.rollback.finished_at_ms) {
            (_, Some(_)) => "migration.rolled_back".into(),
            (Some(step), None) => format!("migration.rollback.{}", step.name()),
            (None, None) => "migration.rollback_started".into(),
        }
    }
}

/// `migration.resume_reconcile`'s input: the rollback that held the schedule has ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResumeReconcile {
    /// The guild.
    pub guild_id: GuildId,
    /// The migration whose rollback held it.
    pub migration_id: String,
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

    /// True while the migration's run is busy with it (a completed one still watches, which
    /// its `watch_until_ms` tells): a second start is refused.
    pub fn under_way(self) -> bool {
        matches!(self, Self::CheckingReadiness | Self::Preparing | Self::Migrating | Self::RollingBack)
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
