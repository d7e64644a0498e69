//! Shadow mode as the gateway sees it: the detection it starts when the bot joins a guild,
//! the lines `/arrakis status` shows (mode, incumbent, accuracy, days in shadow, last and
//! next sync), and the *Sync now* button, which triggers the guild's schedule.

use crate::temporal::{CallError, Workflows};
use arrakis_schemas::{
    GuildId, Lenient, Mode,
    temporal::{IncumbentDetect, IncumbentDetectStatusQuery, ShadowSync, ShadowSyncStatusQuery},
    workflows::{
        incumbent::{self, DetectInput, FindingSource, Incumbent},
        search_attributes,
        shadow_sync::{self, ShadowSyncStatus, SyncPhase},
    },
};
use futures::StreamExt;
use std::time::SystemTime;
use temporalio_client::{
    WorkflowGetResultOptions, WorkflowIdConflictPolicy, WorkflowListOptions, WorkflowQueryOptions,
    WorkflowStartOptions,
    errors::WorkflowQueryError,
    schedules::{ScheduleError, ScheduleOverlapPolicy, TriggerScheduleOptions},
    tonic::Code,
};

/// What `/arrakis status` shows of shadow mode.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShadowView {
    /// The newest sync, if any ran.
    pub last: Option<ShadowSyncStatus>,
    /// The detection's finding, when no sync has summarised it yet.
    pub detection: Option<incumbent::DetectOutcome>,
    /// The schedule's next run, if the guild has a schedule.
    pub next_sync: Option<SystemTime>,
    /// True when the guild has a sync schedule (the button can trigger it).
    pub scheduled: bool,
}

impl Workflows {
    /// Starts the incumbent detection of a guild the bot just joined (a guild already judged
    /// keeps its finding); a detection already running is left to finish.
    pub async fn detect_incumbent(&self, guild_id: GuildId) -> Result<(), CallError> {
        self.timed("detect_incumbent", async {
            let input = Lenient::new(&DetectInput { guild_id, operator_override: None, digest: None, on_join: true });
            let options = WorkflowStartOptions::new(self.task_queue().to_string(), incumbent::workflow_id(guild_id))
                .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
                .build();
            self.client()
                .await?
                .start_workflow(IncumbentDetect, input, options)
                .await
                .map(drop)
                .map_err(|e| CallError::Unavailable(e.to_string()))
        })
        .await
    }

    /// The guild's shadow standing: its newest sync, its detection, its schedule.
    pub async fn shadow_view(&self, guild_id: GuildId) -> Result<ShadowView, CallError> {
        self.timed("shadow_view", async {
            let client = self.client().await?;
            let mut view = ShadowView::default();
            let query = format!(
                "{} = '{guild_id}' AND {} = '{}'",
                search_attributes::GUILD_ID,
                search_attributes::KIND,
                shadow_sync::KIND
            );
            let mut runs = client.list_workflows(query, WorkflowListOptions::builder().limit(1).build());
            if let Some(run) = runs.next().await {
                let run = run.map_err(|e| CallError::Unavailable(e.to_string()))?;
                let handle = client.get_workflow_handle::<ShadowSync>(run.id().to_string());
                match handle.query(ShadowSyncStatusQuery, (), WorkflowQueryOptions::default()).await {
                    Ok(status) => view.last = Some(status),
                    Err(WorkflowQueryError::NotFound(_)) => {}
                    Err(e) => return Err(CallError::Unavailable(e.to_string())),
                }
            }
            let detection = client.get_workflow_handle::<IncumbentDetect>(incumbent::workflow_id(guild_id));
            match detection.query(IncumbentDetectStatusQuery, (), WorkflowQueryOptions::default()).await {
                Ok(outcome) if outcome.done => view.detection = Some(outcome),
                Ok(_) | Err(WorkflowQueryError::NotFound(_)) => {}
                Err(e) => return Err(CallError::Unavailable(e.to_string())),
            }
            match client.get_schedule_handle(shadow_sync::schedule_id(guild_id)).describe(Default::default()).await {
                Ok(schedule) => {
                    view.scheduled = true;
                    view.next_sync = schedule.future_action_times().first().copied();
                }
                Err(ScheduleError::Rpc(status)) if status.code() == Code::NotFound => {}
                Err(e) => return Err(CallError::Unavailable(e.to_string())),
            }
            Ok(view)
        })
        .await
    }

    /// The incumbent detection found (or the operator named) in the guild, for the wizard to
    /// start beside it. `None` when none is on record, or when Temporal does not say in time:
    /// `/arrakis setup` opens either way.
    pub async fn incumbent_detected(&self, guild_id: GuildId) -> Option<Incumbent> {
        let client = self.client().await.ok()?;
        let detection = client.get_workflow_handle::<IncumbentDetect>(incumbent::workflow_id(guild_id));
        // The finished detection's result, read from its history: no worker is asked, and a
        // detection still running is not waited for.
        let result = detection.get_result(WorkflowGetResultOptions::default());
        match tokio::time::timeout(std::time::Duration::from_millis(800), result).await {
            Ok(Ok(outcome)) if outcome.done => outcome.finding.incumbent,
            _ => None,
        }
    }

    /// *Sync now*: triggers the guild's schedule (a sync already running is not doubled);
    /// `false` when the guild has no schedule (not in shadow mode).
    pub async fn trigger_shadow_sync(&self, guild_id: GuildId) -> Result<bool, CallError> {
        self.timed("trigger_shadow_sync", async {
            let handle = self.client().await?.get_schedule_handle(shadow_sync::schedule_id(guild_id));
            match handle.trigger(ScheduleOverlapPolicy::Skip, TriggerScheduleOptions::default()).await {
                Ok(()) => Ok(true),
                Err(ScheduleError::Rpc(status)) if status.code() == Code::NotFound => Ok(false),
                Err(e) => Err(CallError::Unavailable(e.to_string())),
            }
        })
        .await
    }
}

fn ago(at: SystemTime, now: SystemTime) -> String {
    match at.duration_since(now) {
        Ok(ahead) => format!("in {}", span(ahead.as_secs())),
        Err(behind) => format!("{} ago", span(behind.duration().as_secs())),
    }
}

fn span(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// Who made a finding, as the status line names it (empty when nothing is on record).
fn source_name(source: Option<FindingSource>) -> &'static str {
    source.map_or("", FindingSource::as_str)
}

/// The shadow lines of `/arrakis status`; `mode` is the community's mode when a fresher
/// source (member sync's last plan) knows it.
pub fn status_lines(view: &ShadowView, mode: Option<Mode>, now: SystemTime) -> String {
    let summary = view.last.as_ref().and_then(|s| s.summary.as_ref());
    let finding = view.detection.as_ref().map(|d| &d.finding);
    let mode = mode.or_else(|| summary.and_then(|s| s.mode)).or_else(|| view.detection.as_ref().and_then(|d| d.mode));
    let mut text = format!("Mode: {}\n", mode.map_or("not set up", Mode::as_str));
    let incumbent = match (summary.and_then(|s| s.incumbent.clone()), finding) {
        (Some(name), _) => {
            format!("{name} ({:.0} % confidence)", summary.and_then(|s| s.confidence).unwrap_or(0.0) * 100.0)
        }
        (None, Some(f)) => match f.incumbent {
            Some(i) => {
                format!("{} ({:.0} % confidence, {})", i.signature().name, f.confidence * 100.0, source_name(f.source))
            }
            None => format!("none found ({})", source_name(f.source)),
        },
        (None, None) => "not checked yet".into(),
    };
    text.push_str(&format!("Incumbent: {incumbent}\n"));
    // Shadow sync's lines describe shadow mode; once the community left it they say nothing
    // true ("Last sync: never", "not scheduled") and member sync's lines take over.
    if mode.is_some_and(|m| m != Mode::Shadow) {
        return text;
    }
    if let Some(summary) = summary {
        let accuracy = summary.accuracy.map_or_else(
            || "not measured yet".into(),
            |a| format!("{:.1} % over {} predictions", a * 100.0, summary.validated),
        );
        text.push_str(&format!("Accuracy: {accuracy}\n"));
        text.push_str(&format!("Days in shadow: {}\n", summary.days_in_shadow.unwrap_or(0)));
    }
    let last = match view.last.as_ref() {
        Some(s) if s.phase == SyncPhase::Done => {
            let at = summary
                .and_then(|s| s.last_sync_at.as_deref())
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            let when = at.map_or_else(|| "finished".into(), |t| ago(SystemTime::from(t), now));
            format!("{when}, {} members, {} divergences", s.tally.members, s.tally.divergences)
        }
        Some(s) if s.phase == SyncPhase::Skipped => format!("skipped: {}", s.skipped.as_deref().unwrap_or("")),
        Some(s) => format!("running ({} members so far)", s.tally.members),
        None => "never".into(),
    };
    text.push_str(&format!("Last sync: {last}\n"));
    let next = match (view.scheduled, view.next_sync) {
        (true, Some(at)) => ago(at, now),
        (true, None) => "scheduled".into(),
        (false, _) => "not scheduled (no incumbent in shadow mode)".into(),
    };
    text.push_str(&format!("Next sync: {next}\n"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrakis_schemas::workflows::shadow_sync::{ShadowSummary, SyncTally};
    use std::time::Duration;

    #[test]
    fn the_status_names_every_figure() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let last_at = chrono::DateTime::<chrono::Utc>::from(now - Duration::from_secs(600)).to_rfc3339();
        let view = ShadowView {
            last: Some(ShadowSyncStatus {
                phase: SyncPhase::Done,
                tally: SyncTally { members: 10_000, divergences: 42, ..Default::default() },
                summary: Some(ShadowSummary {
                    mode: Some(Mode::Shadow),
                    incumbent: Some("Collab.Land".into()),
                    confidence: Some(1.0),
                    accuracy: Some(0.975),
                    validated: 400,
                    days_in_shadow: Some(3),
                    last_sync_at: Some(last_at),
                    last_divergences: 42,
                }),
                ..Default::default()
            }),
            detection: None,
            next_sync: Some(now + Duration::from_secs(2 * 3600 + 120)),
            scheduled: true,
        };
        let text = status_lines(&view, None, now);
        for line in [
            "Mode: shadow",
            "Incumbent: Collab.Land (100 % confidence)",
            "Accuracy: 97.5 % over 400 predictions",
            "Days in shadow: 3",
            "Last sync: 10 min ago, 10000 members, 42 divergences",
            "Next sync: in 2 h 2 min",
        ] {
            assert!(text.contains(line), "{line:?} missing from\n{text}");
        }
    }

    #[test]
    fn a_community_out_of_shadow_mode_shows_no_shadow_lines() {
        let text = status_lines(&ShadowView::default(), Some(Mode::Exclusive), SystemTime::UNIX_EPOCH);
        assert!(text.contains("Mode: exclusive"), "{text}");
        assert!(!text.contains("Last sync") && !text.contains("Next sync"), "{text}");
    }

    #[test]
    fn a_guild_never_checked_says_so() {
        let text = status_lines(&ShadowView::default(), None, SystemTime::UNIX_EPOCH);
        assert!(text.contains("Incumbent: not checked yet"), "{text}");
        assert!(text.contains("Last sync: never"), "{text}");
        assert!(text.contains("Next sync: not scheduled"), "{text}");
    }
}
