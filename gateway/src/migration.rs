//! Migration as the gateway sees it: `/arrakis migrate` (strategy and days from selects, the
//! readiness shown before anything starts), `/arrakis rollback`, the Rollback button under the
//! migration's messages (a modal asks why), `/arrakis incumbent` (the operator's word on which
//! bot runs here), the "Activate Arrakis as backup" button of a health alert, and the lines
//! `/arrakis status` shows.

use crate::{
    components::{self, answer_ephemeral, reply},
    temporal::{CallError, Workflows},
    wizard::strategies,
};
use arrakis_schemas::{
    ChannelPlan, ChannelStrategy, GuildId, Lenient,
    temporal::{IncumbentDetect, Migration, MigrationRollback, MigrationStatusQuery},
    workflows::{
        incumbent::{self, BACKUP_BUTTON, DetectInput, IncumbentOverride},
        migration::{
            self, MigrationInput, MigrationStage, MigrationStatus, MigrationStrategy, ROLLBACK_BUTTON,
            ReadinessOverride, RollbackRequest, RollbackThresholds,
        },
    },
};
use temporalio_client::{
    WorkflowGetResultOptions, WorkflowQueryOptions, WorkflowStartOptions, errors::WorkflowStartError,
};
use twilight_model::{
    application::interaction::Interaction,
    channel::message::component::{ButtonStyle, TextInputStyle},
    http::interaction::{InteractionResponse, InteractionResponseData, InteractionResponseType},
};

/// Days a gradual migration can be spread over, from the select.
pub const DAY_CHOICES: [u32; 6] = [1, 2, 3, 7, 14, 30];
/// The days preselected for a gradual migration.
pub const DEFAULT_DAYS: u32 = 7;
/// How long a start waits for a run that reached its end to close (one activity's time).
const ENDING_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A migration component or modal, parsed from its custom id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationAction {
    /// The strategy select (`mig:strategy`).
    Strategy,
    /// The days select (`mig:days:{strategy}`).
    Days(MigrationStrategy),
    /// Start (`mig:start:{strategy}:{days}`).
    Start(MigrationStrategy, u32),
    /// Start although not ready: opens the reason modal (`mig:force:{strategy}:{days}`).
    Force(MigrationStrategy, u32),
    /// The override's reason, submitted (`mig:forced:{strategy}:{days}`).
    Forced(MigrationStrategy, u32),
    /// The Rollback button, and its reason modal (`mig:rollback`).
    Rollback,
    /// Activate Arrakis as backup (`inc:backup`).
    Backup,
}

impl MigrationAction {
    /// Parses a custom id; `None` for anything else.
    pub fn parse(custom_id: &str) -> Option<Self> {
        if custom_id == ROLLBACK_BUTTON {
            return Some(Self::Rollback);
        }
        if custom_id == BACKUP_BUTTON {
            return Some(Self::Backup);
        }
        let mut parts = custom_id.strip_prefix("mig:")?.split(':');
        let verb = parts.next()?;
        let strategy = parts.next().and_then(MigrationStrategy::parse);
        let days = parts.next().and_then(|d| d.parse::<u32>().ok()).filter(|d| DAY_CHOICES.contains(d));
        match (verb, strategy, days) {
            ("strategy", None, None) => Some(Self::Strategy),
            ("days", Some(s), None) => Some(Self::Days(s)),
            ("start", Some(s), Some(d)) => Some(Self::Start(s, d)),
            ("force", Some(s), Some(d)) => Some(Self::Force(s, d)),
            ("forced", Some(s), Some(d)) => Some(Self::Forced(s, d)),
            _ => None,
        }
    }

    /// The custom id.
    pub fn custom_id(self) -> String {
        match self {
            Self::Strategy => "mig:strategy".into(),
            Self::Days(s) => format!("mig:days:{}", s.as_str()),
            Self::Start(s, d) => format!("mig:start:{}:{d}", s.as_str()),
            Self::Force(s, d) => format!("mig:force:{}:{d}", s.as_str()),
            Self::Forced(s, d) => format!("mig:forced:{}:{d}", s.as_str()),
            Self::Rollback => ROLLBACK_BUTTON.into(),
            Self::Backup => BACKUP_BUTTON.into(),
        }
    }
}

const STRATEGIES: [MigrationStrategy; 4] = [
    MigrationStrategy::Gradual,
    MigrationStrategy::Instant,
    MigrationStrategy::ArrakisPrimary,
    MigrationStrategy::ParallelForever,
];

/// The `/arrakis migrate` panel: readiness as the shadow tables show it, the strategy and days
/// selects, and Start (or Start with an override, when not ready).
pub fn panel(readiness: &migration::Readiness, strategy: MigrationStrategy, days: u32) -> InteractionResponseData {
    let mut text = String::from("**Migrate from your incumbent bot to Arrakis**\n");
    if readiness.ready {
        text.push_str(&format!(
            "Ready: {} days in shadow mode, {:.1} % accurate over {} checked predictions.\n",
            readiness.shadow_days.unwrap_or(0),
            readiness.accuracy.unwrap_or(0.0) * 100.0,
            readiness.validated
        ));
    } else {
        text.push_str("**Not ready yet**:\n");
        for reason in &readiness.reasons {
            text.push_str(&format!("- {reason}\n"));
        }
        text.push_str("You can still start, with a reason: the override is audited and shown in the status.\n");
    }
    text.push_str(&format!(
        "Strategy: **{}** — {}.\nArrakis makes `arrakis-*` copies of your roles, with no permissions or colour, below \
         every other role (members see no change). Channels — {}. It never touches the incumbent's roles; Rollback \
         removes everything it added, in seconds.",
        strategy.as_str(),
        strategies::migration_strategy(strategy, days),
        strategies::channel_strategy(ChannelStrategy::AdditiveOnly, &ChannelPlan::default())
    ));
    let options: Vec<(&str, &str, bool)> = STRATEGIES
        .iter()
        .map(|s| {
            let label = strategies::migration_strategy_label(*s);
            (s.as_str(), label, *s == strategy)
        })
        .collect();
    let mut rows = vec![components::row(vec![*components::choice(&MigrationAction::Strategy.custom_id(), &options)])];
    if strategy == MigrationStrategy::Gradual {
        let labels: Vec<String> = DAY_CHOICES.iter().map(|d| format!("over {d} day(s)")).collect();
        let values: Vec<String> = DAY_CHOICES.iter().map(u32::to_string).collect();
        let days_options: Vec<(&str, &str, bool)> = values
            .iter()
            .zip(&labels)
            .zip(DAY_CHOICES)
            .map(|((v, l), d)| (v.as_str(), l.as_str(), d == days))
            .collect();
        rows.push(components::row(vec![*components::choice(
            &MigrationAction::Days(strategy).custom_id(),
            &days_options,
        )]));
    }
    let start = if readiness.ready {
        components::button_with_id(
            MigrationAction::Start(strategy, days).custom_id(),
            "Start migration",
            ButtonStyle::Primary,
        )
    } else {
        components::button_with_id(
            MigrationAction::Force(strategy, days).custom_id(),
            "Start anyway (override)",
            ButtonStyle::Danger,
        )
    };
    rows.push(components::row(vec![start]));
    components::message(text, rows)
}

/// A modal asking why (`custom_id` is where the answer goes).
pub fn reason_modal(custom_id: String, title: &str, placeholder: &str) -> InteractionResponseData {
    let input = components::text_input("reason", TextInputStyle::Paragraph, String::new(), true, placeholder);
    InteractionResponseData {
        custom_id: Some(custom_id),
        title: Some(title.to_string()),
        components: Some(vec![components::label("Reason (kept in the audit log)", input)]),
        ..InteractionResponseData::default()
    }
}

/// What `/arrakis migrate` answers at once, instead of the start panel, while a migration is
/// under way or in its watch period: which, and how to see or undo it.
pub fn running(status: Option<&MigrationStatus>, now_ms: u64) -> Option<String> {
    let s = status?;
    let watching = s.stage == MigrationStage::Completed && s.watch_until_ms.is_some_and(|until| until > now_ms);
    if !s.stage.under_way() && !watching {
        return None;
    }
    let undo = if s.stage == MigrationStage::RollingBack { "" } else { " `/arrakis rollback` undoes it." };
    Some(format!(
        "A migration of this server is under way already, so there is nothing to start:\n{}`/arrakis status` shows \
         where it is.{undo}",
        status_lines(Some(s), now_ms)
    ))
}

/// The migration lines of `/arrakis status`.
pub fn status_lines(status: Option<&MigrationStatus>, now_ms: u64) -> String {
    let Some(s) = status else { return String::new() };
    let strategy = s.strategy.map_or("", |x| x.as_str());
    let mut text = format!("Migration: {} ({strategy})", s.stage.as_str().replace('_', " "));
    match s.stage {
        MigrationStage::Migrating if s.awaiting_writes => {
            text.push_str(", every member moved; complete once member sync has written their roles");
        }
        MigrationStage::Migrating if s.batches > 1 => {
            text.push_str(&format!(
                ", batch {} of {}, about {} members moved, {} to go",
                s.moved_batches, s.batches, s.members_moved, s.members_remaining
            ));
            if s.paused {
                text.push_str(", **paused**");
            } else if let Some(at) = s.next_batch_at_ms {
                text.push_str(&format!(", next batch in {} min", at.saturating_sub(now_ms) / 60_000));
            }
        }
        MigrationStage::Completed => {
            if let Some(until) = s.watch_until_ms {
                text.push_str(&format!(", rollback one click away until <t:{}:f>", until / 1000));
            }
        }
        _ => {}
    }
    text.push('\n');
    if let Some(forced) = &s.forced {
        text.push_str(&format!("Readiness overridden: {}\n", forced.reason));
    }
    if s.stage == MigrationStage::NotReady
        && let Some(r) = &s.readiness
    {
        text.push_str(&format!("Not ready: {}\n", r.reasons.join("; ")));
    }
    if let Some(r) = &s.rollback {
        text.push_str(&format!(
            "Rollback{} by {}: {} ({} step(s) done)\n",
            if r.finished_at_ms.is_some() { "" } else { " under way" },
            r.by,
            r.reason,
            r.steps.len()
        ));
    }
    text
}

impl Workflows {
    /// Starts `migration-{guild_id}`; a migration already under way is refused with a word.
    /// A run that has reached its end (not ready, rolled back) but is still recording it is
    /// waited for briefly, so an override pressed right after "not ready" starts.
    pub async fn start(&self, input: MigrationInput) -> Result<String, CallError> {
        self.timed("start_migration", async {
            let id = migration::workflow_id(input.guild_id);
            let client = self.client().await?;
            for attempt in 0..2 {
                let options = WorkflowStartOptions::new(self.task_queue().to_string(), id.clone()).build();
                match client.start_workflow(Migration, Lenient::new(&input), options).await {
                    Ok(_) => return Ok(id),
                    Err(WorkflowStartError::AlreadyStarted { .. }) if attempt == 0 => {
                        let handle = client.get_workflow_handle::<Migration>(id.clone());
                        let ending = handle
                            .query(MigrationStatusQuery, (), WorkflowQueryOptions::default())
                            .await
                            .is_ok_and(|s| matches!(s.stage, MigrationStage::NotReady | MigrationStage::RolledBack));
                        if !ending {
                            break;
                        }
                        let ended = handle.get_result(WorkflowGetResultOptions::default());
                        let _ = tokio::time::timeout(ENDING_WAIT, ended).await;
                    }
                    Err(WorkflowStartError::AlreadyStarted { .. }) => break,
                    Err(e) => return Err(CallError::Unavailable(e.to_string())),
                }
            }
            Err(CallError::Rejected(
                "A migration of this server is under way already: `/arrakis status` shows where it is.".into(),
            ))
        })
        .await
    }

    /// The guild's migration (the running one, or the last), if any.
    pub async fn migration_status(&self, guild_id: GuildId) -> Result<Option<MigrationStatus>, CallError> {
        self.query("migration_status", migration::workflow_id(guild_id), MigrationStatusQuery).await
    }

    /// Rolls the guild's migration back.
    pub async fn rollback(
        &self,
        guild_id: GuildId,
        reason: String,
        actor: String,
        request_id: &str,
    ) -> Result<MigrationStatus, CallError> {
        let request = Lenient::new(&RollbackRequest { reason, actor });
        let id = migration::workflow_id(guild_id);
        self.update("migration_rollback", id, MigrationRollback, request, format!("rollback-{request_id}")).await
    }

    /// The operator's word on the incumbent (`/arrakis incumbent`): a detection run with the
    /// override, which beats what the guild shows.
    pub async fn override_incumbent(&self, guild_id: GuildId, choice: IncumbentOverride) -> Result<(), CallError> {
        self.timed("override_incumbent", async {
            let input = DetectInput { guild_id, operator_override: Some(choice), digest: None, on_join: false };
            let options =
                WorkflowStartOptions::new(self.task_queue().to_string(), incumbent::workflow_id(guild_id)).build();
            match self.client().await?.start_workflow(IncumbentDetect, Lenient::new(&input), options).await {
                Ok(_) => Ok(()),
                Err(WorkflowStartError::AlreadyStarted { .. }) => {
                    Err(CallError::Rejected("A detection is running right now: try again in a moment.".into()))
                }
                Err(e) => Err(CallError::Unavailable(e.to_string())),
            }
        })
        .await
    }
}

/// A migration input from the gateway (defaults for the rest).
pub fn input(
    guild_id: GuildId,
    strategy: MigrationStrategy,
    days: u32,
    actor: String,
    force: Option<String>,
) -> MigrationInput {
    MigrationInput {
        guild_id,
        strategy,
        days: (strategy == MigrationStrategy::Gradual).then_some(days),
        batches: None,
        channels: None,
        actor,
        force: force.map(|reason| ReadinessOverride { reason }),
        seconds_per_day: None,
        watch_secs: None,
        thresholds: RollbackThresholds::default(),
        carried: None,
    }
}

/// Readiness as the shadow tables show it through the last sync: what `/arrakis migrate`
/// shows before anything starts (the migration checks again for itself).
pub(crate) async fn readiness_preview(
    workflows: &Workflows,
    guild_id: GuildId,
) -> Result<arrakis_schemas::workflows::migration::Readiness, CallError> {
    let view = workflows.shadow_view(guild_id).await?;
    let summary = view.last.as_ref().and_then(|s| s.summary.as_ref());
    let mut readiness = arrakis_schemas::workflows::migration::readiness(
        summary.and_then(|s| s.days_in_shadow),
        summary.and_then(|s| s.accuracy),
        summary.map_or(0, |s| s.validated),
    );
    let incumbent = summary.and_then(|s| s.incumbent.clone()).is_some()
        || view.detection.as_ref().is_some_and(|d| d.finding.incumbent.is_some());
    if !incumbent {
        readiness.reasons.insert(0, "no incumbent bot is on record (`/arrakis incumbent` names one)".into());
        readiness.ready = false;
    }
    Ok(readiness)
}

/// A rollback from the command or the button's modal.
pub(crate) async fn roll_back(
    workflows: &Workflows,
    interaction: &Interaction,
    guild_id: GuildId,
    reason: String,
    request_id: &str,
) -> Result<InteractionResponse, CallError> {
    let actor = format!("discord:{}", interaction.author_id().map_or(0, |u| u.get()));
    match workflows.rollback(guild_id, reason, actor, request_id).await {
        Ok(_) => Ok(answer_ephemeral(
            "Rolling back: Arrakis removes the roles and channels it added and puts the mode back. The incumbent's \
             roles are not touched. `/arrakis status` shows each step.",
        )),
        Err(CallError::NotFound) => {
            Ok(answer_ephemeral("No migration of this server is running: nothing to roll back."))
        }
        Err(CallError::Rejected(why)) => Ok(answer_ephemeral(why)),
        Err(e) => Err(e),
    }
}

/// The `/arrakis migrate` panel's selects and buttons, the Rollback button, and the health
/// alert's "Activate Arrakis as backup".
pub(crate) async fn component(
    workflows: &Workflows,
    interaction: &Interaction,
    guild_id: GuildId,
    action: MigrationAction,
    values: &[String],
) -> Result<InteractionResponse, CallError> {
    let actor = format!("discord:{}", interaction.author_id().map_or(0, |u| u.get()));
    let update = |data| reply(InteractionResponseType::UpdateMessage, data);
    match action {
        MigrationAction::Strategy => {
            let Some(strategy) = values.first().and_then(|v| MigrationStrategy::parse(v)) else {
                return Ok(answer_ephemeral("strategy: choose one of the list"));
            };
            let readiness = readiness_preview(workflows, guild_id).await?;
            Ok(update(panel(&readiness, strategy, DEFAULT_DAYS)))
        }
        MigrationAction::Days(strategy) => {
            let days = values.first().and_then(|v| v.parse::<u32>().ok()).filter(|d| DAY_CHOICES.contains(d));
            let Some(days) = days else { return Ok(answer_ephemeral("days: choose one of the list")) };
            let readiness = readiness_preview(workflows, guild_id).await?;
            Ok(update(panel(&readiness, strategy, days)))
        }
        MigrationAction::Start(strategy, days) => {
            answer_start(workflows, input(guild_id, strategy, days, actor, None)).await
        }
        MigrationAction::Force(strategy, days) => Ok(reply(
            InteractionResponseType::Modal,
            reason_modal(
                MigrationAction::Forced(strategy, days).custom_id(),
                "Start the migration anyway",
                "Why the readiness checks do not apply here",
            ),
        )),
        MigrationAction::Rollback => Ok(reply(
            InteractionResponseType::Modal,
            reason_modal(ROLLBACK_BUTTON.into(), "Roll the migration back", "What went wrong"),
        )),
        MigrationAction::Backup => {
            let why = "activated as backup: the incumbent bot looks unwell".to_string();
            let input = input(guild_id, MigrationStrategy::ArrakisPrimary, 0, actor, Some(why));
            answer_start(workflows, input).await
        }
        MigrationAction::Forced(..) => Ok(answer_ephemeral("This form is no longer in use.")),
    }
}

/// The reason modals: an override's start, a rollback.
pub(crate) async fn modal(
    workflows: &Workflows,
    interaction: &Interaction,
    guild_id: GuildId,
    action: MigrationAction,
    reason: String,
    request_id: &str,
) -> Result<InteractionResponse, CallError> {
    let actor = format!("discord:{}", interaction.author_id().map_or(0, |u| u.get()));
    match action {
        MigrationAction::Forced(strategy, days) => {
            answer_start(workflows, input(guild_id, strategy, days, actor, Some(reason))).await
        }
        MigrationAction::Rollback => roll_back(workflows, interaction, guild_id, reason, request_id).await,
        _ => Ok(answer_ephemeral("This form is no longer in use.")),
    }
}

pub(crate) async fn answer_start(
    workflows: &Workflows,
    input: MigrationInput,
) -> Result<InteractionResponse, CallError> {
    if let Err(e) = input.check() {
        return Ok(answer_ephemeral(e.to_string()));
    }
    let what = strategies::migration_strategy(input.strategy, input.days.unwrap_or(0));
    let id = workflows.start(input).await?;
    Ok(answer_ephemeral(format!(
        "Migration started (`{id}`): {what}. Progress goes to your operator channel with a Rollback button; \
         `/arrakis status` shows the stage."
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use twilight_model::channel::message::component::Component;

    #[test]
    fn custom_ids_round_trip() {
        for action in [
            MigrationAction::Strategy,
            MigrationAction::Days(MigrationStrategy::Gradual),
            MigrationAction::Start(MigrationStrategy::Gradual, 7),
            MigrationAction::Force(MigrationStrategy::Instant, 1),
            MigrationAction::Forced(MigrationStrategy::ArrakisPrimary, 30),
            MigrationAction::Rollback,
            MigrationAction::Backup,
        ] {
            assert_eq!(MigrationAction::parse(&action.custom_id()), Some(action));
        }
        assert_eq!(MigrationAction::parse("mig:start:gradual:5"), None, "5 days is not a choice");
        assert_eq!(MigrationAction::parse("mig:start:sideways:7"), None);
        assert_eq!(MigrationAction::parse("wiz:deploy"), None);
    }

    #[test]
    fn the_panel_shows_why_it_is_not_ready_and_offers_the_override() {
        let not_ready = migration::readiness(Some(3), Some(0.9), 200);
        let panel = panel(&not_ready, MigrationStrategy::Gradual, 7);
        let text = panel.content.clone().unwrap_or_default();
        assert!(text.contains("3 day(s) in shadow mode") && text.contains("90.0 %"), "{text}");
        let ids: Vec<String> = panel
            .components
            .unwrap_or_default()
            .iter()
            .flat_map(|row| match row {
                Component::ActionRow(r) => r.components.clone(),
                _ => Vec::new(),
            })
            .filter_map(|c| match c {
                Component::Button(b) => b.custom_id,
                Component::SelectMenu(s) => Some(s.custom_id),
                _ => None,
            })
            .collect();
        assert_eq!(ids, ["mig:strategy", "mig:days:gradual", "mig:force:gradual:7"]);
        let ready = panel_text(&migration::readiness(Some(20), Some(0.99), 500), MigrationStrategy::Instant);
        assert!(ready.contains("Ready: 20 days") && ready.contains("everyone at once"), "{ready}");
    }

    fn panel_text(r: &migration::Readiness, s: MigrationStrategy) -> String {
        panel(r, s, DEFAULT_DAYS).content.unwrap_or_default()
    }

    #[test]
    fn a_second_migrate_says_what_is_running_instead_of_the_panel() {
        let migrating = MigrationStatus {
            stage: MigrationStage::Migrating,
            strategy: Some(MigrationStrategy::Instant),
            ..MigrationStatus::default()
        };
        let text = running(Some(&migrating), 0).expect("under way");
        assert!(text.contains("Migration: migrating (instant)") && text.contains("/arrakis rollback"), "{text}");
        let watching =
            MigrationStatus { stage: MigrationStage::Completed, watch_until_ms: Some(10_000), ..migrating.clone() };
        assert!(running(Some(&watching), 5_000).is_some(), "the watch period");
        assert!(running(Some(&watching), 20_000).is_none(), "after the watch, the panel (which refuses primary)");
        for stage in [MigrationStage::RolledBack, MigrationStage::NotReady] {
            assert!(running(Some(&MigrationStatus { stage, ..migrating.clone() }), 0).is_none(), "{stage:?}");
        }
        assert!(running(None, 0).is_none());
    }

    #[test]
    fn the_status_shows_progress_overrides_and_rollbacks() {
        let status = MigrationStatus {
            stage: MigrationStage::Migrating,
            strategy: Some(MigrationStrategy::Gradual),
            batches: 8,
            moved_batches: 3,
            members_moved: 375,
            members_remaining: 625,
            next_batch_at_ms: Some(10 * 60_000),
            forced: Some(ReadinessOverride { reason: "the incumbent is down".into() }),
            ..MigrationStatus::default()
        };
        let text = status_lines(Some(&status), 0);
        assert!(text.contains("batch 3 of 8, about 375 members moved, 625 to go, next batch in 10 min"), "{text}");
        assert!(text.contains("Readiness overridden: the incumbent is down"), "{text}");
        assert!(status_lines(None, 0).is_empty());
        let writing = MigrationStatus { awaiting_writes: true, ..status };
        let text = status_lines(Some(&writing), 0);
        assert!(text.contains("every member moved; complete once member sync has written their roles"), "{text}");
    }
}
