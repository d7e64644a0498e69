//! Interactions: every one gets its first response inside Discord's 3-second window — a
//! modal, a message, or an ephemeral error ("Arrakis is busy" when Temporal does not answer in
//! time). Admin commands need Manage Server. Replicas de-duplicate through Redis.

use crate::{
    commands::{ARRAKIS, MANAGE_GUILD},
    dedupe::Dedupe,
    metrics::Metrics,
    migration::{self, MigrationAction},
    temporal::{CallError, Workflows},
    ui::{self, AssetAction, PickForm, WizardAction},
};
use arrakis_schemas::{
    ChannelPlan, GuildId, Snowflake,
    workflows::{
        incumbent::IncumbentOverride,
        migration::{MigrationInput, MigrationStrategy, ROLLBACK_BUTTON},
        reconcile::ReconcileMode,
        wizard::{
            self, StepAnswer, WizardStatus, WizardStep,
            assets::AssetEdit,
            form,
            picks::{ChannelEdit, RoleEdit, RuleEdit},
        },
    },
};
use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};
use twilight_http::Client;
use twilight_model::{
    application::interaction::{
        Interaction, InteractionData,
        application_command::{CommandData, CommandOptionValue},
        modal::{ModalInteractionComponent, ModalInteractionData},
    },
    channel::message::component::ButtonStyle,
    guild::Permissions,
    http::interaction::{InteractionResponse, InteractionResponseData, InteractionResponseType},
    id::{Id, marker::ApplicationMarker},
};

/// What an operator sees when Temporal does not answer in time.
pub const BUSY: &str = "Arrakis is busy, try again in a moment.";
/// How long a deferred interaction waits on Temporal before it is told "Arrakis is busy".
const FOLLOW_UP_DEADLINE: Duration = Duration::from_secs(20);

/// Answers interactions.
pub struct Interactions {
    /// REST, for the callbacks.
    pub http: Arc<Client>,
    /// The application the callbacks belong to.
    pub application_id: Id<ApplicationMarker>,
    /// Temporal.
    pub workflows: Workflows,
    /// Cross-replica de-duplication.
    pub dedupe: Dedupe,
    /// Redis, for what the worker needs from an interaction: a Deploy screen's token.
    pub redis: Arc<crate::redis_link::RedisLink>,
    /// Metrics.
    pub metrics: Metrics,
    /// How long a button, select or form may wait on Temporal before it is deferred.
    pub ack_deadline: Duration,
    /// How long a slash command may take before it is deferred.
    pub command_ack_budget: Duration,
    /// How long a button, select or form whose answer cannot be a modal may take before the
    /// message it sits on is deferred.
    pub component_ack_budget: Duration,
}

fn reply(kind: InteractionResponseType, data: InteractionResponseData) -> InteractionResponse {
    InteractionResponse { kind, data: Some(data) }
}

fn message(data: InteractionResponseData) -> InteractionResponse {
    reply(InteractionResponseType::ChannelMessageWithSource, data)
}

fn ephemeral(text: impl Into<String>) -> InteractionResponse {
    message(ui::ephemeral(text))
}

fn kind_label(interaction: &Interaction) -> &'static str {
    match interaction.data {
        Some(InteractionData::ApplicationCommand(_)) => "command",
        Some(InteractionData::MessageComponent(_)) => "component",
        Some(InteractionData::ModalSubmit(_)) => "modal_submit",
        _ => "other",
    }
}

/// Text inputs and selects of a submitted modal, by custom id (inside Labels or action rows).
fn modal_fields(data: &ModalInteractionData) -> BTreeMap<String, String> {
    fn walk(c: &ModalInteractionComponent, out: &mut BTreeMap<String, String>) {
        match c {
            ModalInteractionComponent::Label(label) => walk(&label.component, out),
            ModalInteractionComponent::ActionRow(row) => row.components.iter().for_each(|c| walk(c, out)),
            ModalInteractionComponent::TextInput(input) => {
                out.insert(input.custom_id.clone(), input.value.clone());
            }
            ModalInteractionComponent::StringSelect(select) => {
                out.insert(select.custom_id.clone(), select.values.join(","));
            }
            ModalInteractionComponent::ChannelSelect(select) => {
                let ids: Vec<String> = select.values.iter().map(ToString::to_string).collect();
                out.insert(select.custom_id.clone(), ids.join(","));
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    data.components.iter().for_each(|c| walk(c, &mut out));
    out
}

/// Whether the answer to `interaction` may be a modal, which Discord allows only as the first
/// response: such an interaction is never deferred. Wizard form buttons and the migration's
/// reason buttons open one, as does a member's Sign button; a modal submit never may answer
/// with another.
fn may_open_modal(interaction: &Interaction) -> bool {
    let Some(InteractionData::MessageComponent(data)) = &interaction.data else { return false };
    data.custom_id == crate::commands::SIGN_BUTTON
        || match WizardAction::parse(&data.custom_id) {
            Some(WizardAction::OpenForm(_)) => true,
            Some(WizardAction::Asset(action)) => action.opens_modal(),
            Some(WizardAction::OpenPick(_) | WizardAction::Paste) => true,
            _ => false,
        }
        || matches!(
            MigrationAction::parse(&data.custom_id),
            Some(MigrationAction::Force(..) | MigrationAction::Rollback)
        )
}

fn subcommand(command: &CommandData) -> (&str, Vec<(&str, &str)>) {
    match command.options.first() {
        Some(option) => match &option.value {
            CommandOptionValue::SubCommand(options) => (
                option.name.as_str(),
                options
                    .iter()
                    .filter_map(|o| match &o.value {
                        CommandOptionValue::String(v) => Some((o.name.as_str(), v.as_str())),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => ("", Vec::new()),
        },
        None => ("", Vec::new()),
    }
}

impl Interactions {
    /// Handles one interaction end to end: de-duplicate, answer within the deadline, send.
    pub async fn handle(&self, interaction: Interaction, received: Instant) {
        let kind = kind_label(&interaction);
        if !self.dedupe.first_delivery(interaction.id.get()).await {
            self.metrics.interaction("duplicate");
            return;
        }
        // Acknowledge first, then think: an answer that is not ready within a short budget
        // comes as an edit. Only an answer that may be a modal keeps the longer deadline, as a
        // modal cannot follow a deferral.
        let budget = match kind {
            "command" => self.command_ack_budget,
            _ if may_open_modal(&interaction) => self.ack_deadline,
            _ => self.component_ack_budget,
        };
        let remaining = budget.min(self.ack_deadline).saturating_sub(received.elapsed());
        let call = self.respond(&interaction);
        tokio::pin!(call);
        let (response, outcome) = match tokio::time::timeout(remaining, &mut call).await {
            Ok(result) => outcome(&interaction, result),
            Err(_) => {
                // Temporal is reachable but slow: take the 15 minutes an interaction token
                // allows, and show the answer when it comes. A button or form acknowledges the
                // message it sits on (type 6), which the answer then edits; a slash command
                // acknowledges with a "thinking" reply (type 5), which the answer replaces.
                let on_message = interaction.message.is_some();
                let deferred = if on_message {
                    InteractionResponse { kind: InteractionResponseType::DeferredUpdateMessage, data: None }
                } else {
                    reply(InteractionResponseType::DeferredChannelMessageWithSource, ui::ephemeral(""))
                };
                if !self.send(&interaction, kind, received, &deferred, "deferred").await {
                    return;
                }
                self.metrics.deferred(kind);
                let (late, outcome) = match tokio::time::timeout(FOLLOW_UP_DEADLINE, call).await {
                    Ok(result) => outcome(&interaction, result),
                    Err(_) => {
                        tracing::warn!(interaction = %interaction.id, "no answer from Temporal within the follow-up deadline");
                        (ephemeral(BUSY), "busy")
                    }
                };
                self.deliver_late(&interaction, on_message, late).await;
                self.metrics.interaction(outcome);
                return;
            }
        };
        self.send(&interaction, kind, received, &response, outcome).await;
    }

    /// The answer to a deferred interaction: an edit of the message it acknowledged, or (for a
    /// new message after a button's deferral) a follow-up, ephemeral as the answer was.
    async fn deliver_late(&self, interaction: &Interaction, on_message: bool, late: InteractionResponse) {
        let edits_original = !on_message || late.kind == InteractionResponseType::UpdateMessage;
        let mut data = late.data.unwrap_or_default();
        if late.kind == InteractionResponseType::Modal {
            // Not reached: an answer that may be a modal is never deferred (`may_open_modal`).
            data = ui::ephemeral("Press the button again to open the form.");
        }
        let client = self.http.interaction(self.application_id);
        let sent = if edits_original {
            client
                .update_response(&interaction.token)
                .content(data.content.as_deref())
                .components(Some(data.components.as_deref().unwrap_or_default()))
                .await
                .map(drop)
        } else {
            let mut followup = client.create_followup(&interaction.token);
            if let Some(flags) = data.flags {
                followup = followup.flags(flags);
            }
            followup
                .content(data.content.as_deref().unwrap_or_default())
                .components(data.components.as_deref().unwrap_or_default())
                .await
                .map(drop)
        };
        if let Err(e) = sent {
            tracing::error!(interaction = %interaction.id, error = %e, "sending the deferred answer failed");
        }
    }

    /// Sends the first response; false when Discord refused it.
    async fn send(
        &self,
        interaction: &Interaction,
        kind: &str,
        received: Instant,
        response: &InteractionResponse,
        outcome: &str,
    ) -> bool {
        let sent = self
            .http
            .interaction(self.application_id)
            .create_response(interaction.id, &interaction.token, response)
            .await;
        match sent {
            Ok(_) => {
                self.metrics.ack(kind, received.elapsed());
                self.metrics.interaction(outcome);
                true
            }
            Err(e) => {
                tracing::error!(interaction = %interaction.id, error = %e, "the interaction response was refused");
                self.metrics.interaction("failed");
                false
            }
        }
    }

    async fn respond(&self, interaction: &Interaction) -> Result<InteractionResponse, CallError> {
        let Some(guild_id) = interaction.guild_id.and_then(|g| GuildId::new(g.get()).ok()) else {
            return Ok(ephemeral("Arrakis commands work inside a server."));
        };
        // Member commands are open to everyone.
        let fields = || match &interaction.data {
            Some(InteractionData::ModalSubmit(data)) => modal_fields(data),
            _ => BTreeMap::new(),
        };
        if let Some(answer) = self.member(interaction, guild_id, fields).await {
            return answer;
        }
        let permissions = interaction.member.as_ref().and_then(|m| m.permissions).unwrap_or(Permissions::empty());
        let admin = permissions.contains(Permissions::ADMINISTRATOR)
            || permissions.contains(Permissions::from_bits_truncate(MANAGE_GUILD));
        if !admin {
            self.metrics.interaction("refused");
            return Ok(ephemeral(
                "Only members with the **Manage Server** permission can set up or run Arrakis. Ask a server admin.",
            ));
        }
        let request_id = interaction.id.to_string();
        match &interaction.data {
            Some(InteractionData::ApplicationCommand(command)) if command.name == ARRAKIS => {
                self.command(interaction, guild_id, command, &request_id).await
            }
            Some(InteractionData::MessageComponent(data)) => {
                if let Some((confirm, batch)) = crate::member_sync::parse_button(&data.custom_id) {
                    return self.held_button(interaction, guild_id, confirm, batch, &request_id).await;
                }
                if let Some(action) = MigrationAction::parse(&data.custom_id) {
                    return self.migration_component(interaction, guild_id, action, &data.values).await;
                }
                let shown = interaction.message.as_ref().map(|m| m.content.as_str());
                match WizardAction::parse(&data.custom_id) {
                    Some(action) => {
                        if matches!(action, WizardAction::Deploy(_) | WizardAction::Refresh) {
                            self.keep_deploy_screen(guild_id, &interaction.token).await;
                        }
                        self.component(guild_id, action, &data.values, shown, &request_id).await
                    }
                    None => Ok(ephemeral("This button is no longer in use.")),
                }
            }
            Some(InteractionData::ModalSubmit(data)) => {
                if let Some(action) = MigrationAction::parse(&data.custom_id) {
                    let reason = modal_fields(data).remove("reason").unwrap_or_default();
                    return self.migration_modal(interaction, guild_id, action, reason, &request_id).await;
                }
                match WizardAction::parse(&data.custom_id) {
                    Some(WizardAction::SubmitForm(step)) => self.form(guild_id, step, data, &request_id).await,
                    Some(WizardAction::Asset(AssetAction::LookUp)) => {
                        self.asset_lookup(guild_id, modal_fields(data), &request_id).await
                    }
                    Some(WizardAction::SubmitPick(form)) => {
                        self.picked(guild_id, form, modal_fields(data), &request_id).await
                    }
                    Some(WizardAction::Pasted) => self.pasted(guild_id, modal_fields(data), &request_id).await,
                    _ => Ok(ephemeral("This form is no longer in use.")),
                }
            }
            _ => Ok(ephemeral("Unknown command.")),
        }
    }

    async fn command(
        &self,
        interaction: &Interaction,
        guild_id: GuildId,
        command: &CommandData,
        request_id: &str,
    ) -> Result<InteractionResponse, CallError> {
        let (name, options) = subcommand(command);
        match name {
            "setup" => {
                let operator = interaction.author_id().and_then(|u| Snowflake::new(u.get()).ok());
                let Some(operator) = operator else { return Ok(ephemeral("Who are you? Discord sent no user.")) };
                let channel = interaction.channel.as_ref().and_then(|c| Snowflake::new(c.id.get()).ok());
                let status = self.workflows.open_wizard(guild_id, operator, channel, request_id).await?;
                Ok(message(ui::prompt(&status)))
            }
            "resume" => {
                let status = self.workflows.wizard_status(guild_id).await?;
                if !status.is_open() {
                    return Ok(ephemeral(closed_session(&status)));
                }
                Ok(message(ui::prompt(&status)))
            }
            "status" => {
                let (text, scheduled) = self.status_text(guild_id).await?;
                let components = if scheduled {
                    vec![ui::row(vec![ui::button(WizardAction::SyncShadow, "Sync now", ButtonStyle::Primary)])]
                } else {
                    Vec::new()
                };
                Ok(message(ui::message(text, components)))
            }
            "reconcile" => {
                let mode = match options.iter().find(|(n, _)| *n == "mode").map(|(_, v)| *v) {
                    None | Some("dry_run") => ReconcileMode::DryRun,
                    Some("apply") => ReconcileMode::Apply,
                    Some(other) => return Ok(ephemeral(format!("mode: '{other}' is not dry_run or apply"))),
                };
                let id = self.workflows.start_reconcile(guild_id, mode, request_id).await?;
                let what = if mode == ReconcileMode::Apply { "fixing drift" } else { "a dry run: reporting only" };
                Ok(ephemeral(format!(
                    "Reconciliation started ({what}): `{id}`. Drift is reported in your operator channel."
                )))
            }
            "sync" => {
                let dry_run = match options.iter().find(|(n, _)| *n == "mode").map(|(_, v)| *v) {
                    None | Some("apply") => false,
                    Some("dry_run") => true,
                    Some(other) => return Ok(ephemeral(format!("mode: '{other}' is not apply or dry_run"))),
                };
                let actor = format!("discord:{}", interaction.author_id().map_or(0, |u| u.get()));
                match self.workflows.sync_now(guild_id, actor, dry_run, request_id).await {
                    Ok(status) => Ok(ephemeral(crate::member_sync::sync_answer(&status, dry_run))),
                    Err(CallError::NotFound) => {
                        let shadow = self.workflows.shadow_view(guild_id).await?;
                        let mode = shadow.detection.as_ref().and_then(|d| d.mode).map(arrakis_schemas::Mode::as_str);
                        Ok(ephemeral(if mode == Some("shadow") {
                            "Member roles are not synced in shadow mode: Arrakis only compares its verdicts \
                             with the incumbent's roles (`/arrakis status`). `/arrakis migrate` moves the \
                             community over."
                        } else {
                            "Member roles are not synced here yet: deploy with `/arrakis setup` first."
                        }))
                    }
                    Err(CallError::Rejected(why)) => Ok(ephemeral(why)),
                    Err(e) => Err(e),
                }
            }
            "migrate" => {
                let readiness = self.readiness_preview(guild_id).await?;
                Ok(message(migration::panel(&readiness, MigrationStrategy::Gradual, migration::DEFAULT_DAYS)))
            }
            "rollback" => {
                let reason = options.iter().find(|(n, _)| *n == "reason").map_or("", |(_, v)| *v).to_string();
                self.roll_back(interaction, guild_id, reason, request_id).await
            }
            "incumbent" => {
                let bot = options.iter().find(|(n, _)| *n == "bot").map_or("", |(_, v)| *v);
                let choice = match serde_json::from_value::<IncumbentOverride>(serde_json::json!(bot)) {
                    Ok(choice) => choice,
                    Err(_) => {
                        return Ok(ephemeral(format!("bot: '{bot}' is not collabland, matrica, guildxyz or none")));
                    }
                };
                self.workflows.override_incumbent(guild_id, choice).await?;
                Ok(ephemeral(match choice.incumbent() {
                    Some(i) => format!(
                        "Recorded: {} gates this server. Arrakis compares with it in shadow mode and watches its health.",
                        i.signature().name
                    ),
                    None => "Recorded: no incumbent bot runs here; shadow syncs and health checks stop.".to_string(),
                }))
            }
            other => Ok(ephemeral(format!(
                "`/arrakis {other}` is not a command (setup, resume, status, reconcile, sync, migrate, rollback, incumbent)."
            ))),
        }
    }

    /// Readiness as the shadow tables show it through the last sync: what `/arrakis migrate`
    /// shows before anything starts (the migration checks again for itself).
    async fn readiness_preview(
        &self,
        guild_id: GuildId,
    ) -> Result<arrakis_schemas::workflows::migration::Readiness, CallError> {
        let view = self.workflows.shadow_view(guild_id).await?;
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
    async fn roll_back(
        &self,
        interaction: &Interaction,
        guild_id: GuildId,
        reason: String,
        request_id: &str,
    ) -> Result<InteractionResponse, CallError> {
        let actor = format!("discord:{}", interaction.author_id().map_or(0, |u| u.get()));
        match self.workflows.rollback(guild_id, reason, actor, request_id).await {
            Ok(_) => Ok(ephemeral(
                "Rolling back: Arrakis removes the roles and channels it added and puts the mode back.                  The incumbent's roles are not touched. `/arrakis status` shows each step.",
            )),
            Err(CallError::NotFound) => Ok(ephemeral("No migration of this server is running: nothing to roll back.")),
            Err(CallError::Rejected(why)) => Ok(ephemeral(why)),
            Err(e) => Err(e),
        }
    }

    /// The `/arrakis migrate` panel's selects and buttons, the Rollback button, and the health
    /// alert's "Activate Arrakis as backup".
    async fn migration_component(
        &self,
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
                    return Ok(ephemeral("strategy: choose one of the list"));
                };
                let readiness = self.readiness_preview(guild_id).await?;
                Ok(update(migration::panel(&readiness, strategy, migration::DEFAULT_DAYS)))
            }
            MigrationAction::Days(strategy) => {
                let days =
                    values.first().and_then(|v| v.parse::<u32>().ok()).filter(|d| migration::DAY_CHOICES.contains(d));
                let Some(days) = days else { return Ok(ephemeral("days: choose one of the list")) };
                let readiness = self.readiness_preview(guild_id).await?;
                Ok(update(migration::panel(&readiness, strategy, days)))
            }
            MigrationAction::Start(strategy, days) => {
                self.start_migration(migration::input(guild_id, strategy, days, actor, None)).await
            }
            MigrationAction::Force(strategy, days) => Ok(reply(
                InteractionResponseType::Modal,
                migration::reason_modal(
                    MigrationAction::Forced(strategy, days).custom_id(),
                    "Start the migration anyway",
                    "Why the readiness checks do not apply here",
                ),
            )),
            MigrationAction::Rollback => Ok(reply(
                InteractionResponseType::Modal,
                migration::reason_modal(ROLLBACK_BUTTON.into(), "Roll the migration back", "What went wrong"),
            )),
            MigrationAction::Backup => {
                let why = "activated as backup: the incumbent bot looks unwell".to_string();
                let input = migration::input(guild_id, MigrationStrategy::ArrakisPrimary, 0, actor, Some(why));
                self.start_migration(input).await
            }
            MigrationAction::Forced(..) => Ok(ephemeral("This form is no longer in use.")),
        }
    }

    /// The reason modals: an override's start, a rollback.
    async fn migration_modal(
        &self,
        interaction: &Interaction,
        guild_id: GuildId,
        action: MigrationAction,
        reason: String,
        request_id: &str,
    ) -> Result<InteractionResponse, CallError> {
        let actor = format!("discord:{}", interaction.author_id().map_or(0, |u| u.get()));
        match action {
            MigrationAction::Forced(strategy, days) => {
                self.start_migration(migration::input(guild_id, strategy, days, actor, Some(reason))).await
            }
            MigrationAction::Rollback => self.roll_back(interaction, guild_id, reason, request_id).await,
            _ => Ok(ephemeral("This form is no longer in use.")),
        }
    }

    async fn start_migration(&self, input: MigrationInput) -> Result<InteractionResponse, CallError> {
        if let Err(e) = input.check() {
            return Ok(ephemeral(e.to_string()));
        }
        let what = migration::describe(input.strategy, input.days.unwrap_or(0));
        let id = self.workflows.start_migration(input).await?;
        Ok(ephemeral(format!(
            "Migration started (`{id}`): {what}. Progress goes to your operator channel with a Rollback button;              `/arrakis status` shows the stage."
        )))
    }

    /// The breaker's Confirm and Discard buttons, for operators with Manage Server: a decision
    /// about the batch the message was posted for, refused when that batch is no longer held.
    async fn held_button(
        &self,
        interaction: &Interaction,
        guild_id: GuildId,
        confirm: bool,
        batch: &str,
        request_id: &str,
    ) -> Result<InteractionResponse, CallError> {
        let user = interaction.author_id().map_or(0, |u| u.get());
        let actor = format!("discord:{user}");
        // The alert the buttons sit on is edited to say how its batch ended; without it (a
        // client that sent none), the answer is a private message.
        let shown = interaction.message.as_ref().map(|m| m.content.as_str());
        let answer = |outcome: String| match shown {
            Some(shown) => reply(InteractionResponseType::UpdateMessage, ui::decided(shown, &outcome)),
            None => ephemeral(outcome),
        };
        match self.workflows.decide_held(guild_id, confirm, batch, actor, request_id).await {
            Ok(_) if confirm => {
                Ok(answer(format!("**Confirmed** by <@{user}>: the held role removals are being applied.")))
            }
            Ok(_) => Ok(answer(format!("**Discarded** by <@{user}>: nobody loses a role from this batch."))),
            Err(CallError::Rejected(why)) if why.contains("is no longer held") => {
                Ok(answer(format!("**This batch is gone**: {why}")))
            }
            Err(CallError::Rejected(why)) => Ok(ephemeral(why)),
            Err(CallError::NotFound) => Ok(ephemeral("Member roles are not synced here any more.")),
            Err(e) => Err(e),
        }
    }

    /// Leaves the token of the screen Deploy or Refresh was pressed on in Redis, for the worker
    /// to edit that screen as the deploy moves (the token stays out of workflow history). Redis
    /// being slow or down costs only the live edits: Refresh still works.
    async fn keep_deploy_screen(&self, guild_id: GuildId, token: &str) {
        let mut command = redis::cmd("SET");
        command.arg(wizard::deploy_screen_key(guild_id)).arg(token).arg("EX").arg(wizard::DEPLOY_SCREEN_TTL_SECS);
        match tokio::time::timeout(Duration::from_millis(250), self.redis.query::<()>(&command)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "Redis unavailable: the Deploy screen will not move by itself"),
            Err(_) => tracing::warn!("Redis too slow: the Deploy screen will not move by itself"),
        }
    }

    /// The status text, and whether the guild has a shadow-sync schedule to trigger.
    async fn status_text(&self, guild_id: GuildId) -> Result<(String, bool), CallError> {
        let mut text = String::from("**Arrakis for this server**\n");
        match self.workflows.wizard_status(guild_id).await {
            Ok(status) => {
                if status.is_open() {
                    text.push_str(&format!(
                        "Setup: open at step {} ({})\n",
                        status.step.index() + 1,
                        status.step.title()
                    ));
                } else {
                    text.push_str(&format!("Setup: {}\n", closed_session(&status)));
                }
                if !status.reached.is_empty() && status.step != WizardStep::Deploy {
                    text.push_str(&format!("Setup funnel: {}\n", status.funnel_line()));
                }
            }
            Err(CallError::NotFound) => text.push_str("Setup: never run (`/arrakis setup`)\n"),
            Err(e) => return Err(e),
        }
        let shadow = self.workflows.shadow_view(guild_id).await?;
        let members = self.workflows.member_sync_status(guild_id).await?;
        // The mode member sync read last is the community's; shadow mode's views are older.
        let mode = members.as_ref().and_then(|m| m.mode);
        text.push_str(&crate::shadow::status_lines(&shadow, mode, std::time::SystemTime::now()));
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
        text.push_str(&crate::member_sync::status_lines(members.as_ref(), now_ms));
        let migration = self.workflows.migration_status(guild_id).await?;
        text.push_str(&migration::status_lines(migration.as_ref(), now_ms));
        let runs = self.workflows.recent_runs(guild_id, 8).await?;
        if !runs.is_empty() {
            text.push_str("Recent runs:\n");
            for run in runs {
                text.push_str(&format!("- `{}` {} — {}\n", run.workflow_id, run.workflow_type, run.status));
            }
        }
        Ok((text, shadow.scheduled))
    }

    async fn component(
        &self,
        guild_id: GuildId,
        action: WizardAction,
        values: &[String],
        shown: Option<&str>,
        request_id: &str,
    ) -> Result<InteractionResponse, CallError> {
        let update = |status: WizardStatus| reply(InteractionResponseType::UpdateMessage, ui::prompt(&status));
        match action {
            WizardAction::OpenForm(step) => {
                // "Try again" on a refusal: the form again, with what was typed.
                let typed = shown.map(ui::typed_in_rejection).unwrap_or_default();
                // The modal at once, prefilled with what the message shows: no Temporal call.
                if typed.is_empty()
                    && let Some(modal) = shown.and_then(|content| ui::modal_from_prompt(step, content))
                {
                    return Ok(reply(InteractionResponseType::Modal, modal));
                }
                let status = self.workflows.wizard_status(guild_id).await?;
                if !status.is_open() {
                    return Ok(ephemeral(closed_session(&status)));
                }
                match ui::modal(step, &status) {
                    Some(mut modal) => {
                        ui::prefill(&mut modal, &typed);
                        Ok(reply(InteractionResponseType::Modal, modal))
                    }
                    None => Ok(update(status)),
                }
            }
            WizardAction::Asset(action) => self.asset_component(guild_id, action, values, shown, request_id).await,
            WizardAction::OpenPick(form) => {
                let status = self.workflows.wizard_status(guild_id).await?;
                if !status.is_open() {
                    return Ok(ephemeral(closed_session(&status)));
                }
                match ui::pick_modal(form, &status) {
                    Ok(mut modal) => {
                        ui::prefill(&mut modal, &shown.map(ui::typed_in_rejection).unwrap_or_default());
                        Ok(reply(InteractionResponseType::Modal, modal))
                    }
                    Err(why) => Ok(ephemeral(why)),
                }
            }
            WizardAction::Remove(step) => {
                let Some(key) = values.first().cloned() else { return Ok(ephemeral("Choose what to remove.")) };
                let status = match step {
                    WizardStep::RoleMapping => {
                        self.workflows.role(guild_id, &RoleEdit::Remove { key }, request_id).await?
                    }
                    WizardStep::ChannelStructure => {
                        self.workflows.channel(guild_id, &ChannelEdit::Remove { key }, request_id).await?
                    }
                    _ => self.workflows.rule(guild_id, &RuleEdit::Remove { key }, request_id).await?,
                };
                Ok(update(status))
            }
            WizardAction::Next(step) => {
                let status = self.workflows.wizard_status(guild_id).await?;
                let answer = match step {
                    WizardStep::RoleMapping => StepAnswer::RoleMapping { roles: status.draft.roles },
                    WizardStep::ChannelStructure => StepAnswer::ChannelStructure { channels: status.draft.channels },
                    _ => StepAnswer::EligibilityRules { rules: status.draft.rules },
                };
                Ok(update(self.workflows.submit(guild_id, &answer, request_id).await?))
            }
            WizardAction::ThemeTiers => {
                Ok(update(self.workflows.role(guild_id, &RoleEdit::ThemeTiers, request_id).await?))
            }
            WizardAction::ChannelTemplate => {
                Ok(update(self.workflows.channel(guild_id, &ChannelEdit::Template, request_id).await?))
            }
            WizardAction::NoChannels => {
                let answer = StepAnswer::ChannelStructure { channels: ChannelPlan::default() };
                Ok(update(self.workflows.submit(guild_id, &answer, request_id).await?))
            }
            // The form at once: it needs nothing from Temporal.
            WizardAction::Paste => Ok(reply(
                InteractionResponseType::Modal,
                ui::paste_modal(&shown.map(ui::typed_in_rejection).unwrap_or_default()),
            )),
            WizardAction::SubmitPick(_) | WizardAction::Pasted => {
                Ok(update(self.workflows.wizard_status(guild_id).await?))
            }
            WizardAction::Chains => match form::parse_chains(values) {
                Ok(chains) => {
                    let answer = StepAnswer::ChainSelect { chains };
                    Ok(update(self.workflows.submit(guild_id, &answer, request_id).await?))
                }
                Err(e) => Ok(ephemeral(e.to_string())),
            },
            WizardAction::Back => {
                let status = self.workflows.wizard_status(guild_id).await?;
                let Some(to) = status.step.index().checked_sub(1).map(|i| WizardStep::ALL[i]) else {
                    return Ok(update(status));
                };
                Ok(update(self.workflows.go_back(guild_id, to, request_id).await?))
            }
            WizardAction::Deploy(removals) => {
                let answer = StepAnswer::Review { confirm: true, removals };
                Ok(update(self.workflows.submit(guild_id, &answer, request_id).await?))
            }
            WizardAction::SyncShadow => Ok(ephemeral(if self.workflows.trigger_shadow_sync(guild_id).await? {
                "Shadow sync started: it reads members and changes nothing. `/arrakis status` shows its progress."
            } else {
                "This server has no shadow sync: no incumbent bot is on record in shadow mode."
            })),
            WizardAction::Refresh | WizardAction::SubmitForm(_) => {
                Ok(update(self.workflows.wizard_status(guild_id).await?))
            }
        }
    }

    /// ASSET_CONFIG's buttons and remove select.
    async fn asset_component(
        &self,
        guild_id: GuildId,
        action: AssetAction,
        values: &[String],
        shown: Option<&str>,
        request_id: &str,
    ) -> Result<InteractionResponse, CallError> {
        let update = |status: WizardStatus| reply(InteractionResponseType::UpdateMessage, ui::prompt(&status));
        let edit = match action {
            AssetAction::Add | AssetAction::Change => {
                let status = self.workflows.wizard_status(guild_id).await?;
                if !status.is_open() {
                    return Ok(ephemeral(closed_session(&status)));
                }
                let typed = match (&status.found_asset, action) {
                    (Some(found), AssetAction::Change) => ui::found_fields(found),
                    _ => shown.map(ui::typed_in_rejection).unwrap_or_default(),
                };
                return Ok(reply(InteractionResponseType::Modal, ui::asset_modal(&status, &typed)));
            }
            AssetAction::Confirm => AssetEdit::Confirm,
            AssetAction::Remove => match values.first() {
                Some(key) => AssetEdit::Remove { key: key.clone() },
                None => return Ok(ephemeral("Choose the asset to remove.")),
            },
            AssetAction::Next => {
                let status = self.workflows.wizard_status(guild_id).await?;
                let answer = StepAnswer::AssetConfig { assets: status.draft.assets };
                return Ok(update(self.workflows.submit(guild_id, &answer, request_id).await?));
            }
            // A form's action, not a button's.
            AssetAction::LookUp => return Ok(update(self.workflows.wizard_status(guild_id).await?)),
        };
        Ok(update(self.workflows.asset(guild_id, &edit, request_id).await?))
    }

    /// The submitted lookup form: the worker reads the chain (deferred if slow) and the
    /// finding comes back for a confirmation; a refusal keeps what was typed.
    async fn asset_lookup(
        &self,
        guild_id: GuildId,
        fields: BTreeMap<String, String>,
        request_id: &str,
    ) -> Result<InteractionResponse, CallError> {
        let retry = WizardAction::Asset(AssetAction::Add);
        let edit = match ui::parse_asset_form(&fields) {
            Ok(edit) => edit,
            Err(e) => return Ok(message(ui::rejected_with(retry, "token or collection", &e.to_string(), &fields))),
        };
        match self.workflows.asset(guild_id, &edit, request_id).await {
            Ok(status) => Ok(message(ui::prompt(&status))),
            Err(CallError::Rejected(why)) => {
                Ok(message(ui::rejected_with(retry, "token or collection", &why, &fields)))
            }
            Err(e) => Err(e),
        }
    }

    /// A submitted picker form: a rule or a role for the draft; a refusal keeps what was typed.
    async fn picked(
        &self,
        guild_id: GuildId,
        form: PickForm,
        fields: BTreeMap<String, String>,
        request_id: &str,
    ) -> Result<InteractionResponse, CallError> {
        let retry = WizardAction::OpenPick(form);
        let what = form.edits();
        let result = match ui::parse_pick(form, &fields) {
            Ok(ui::Picked::Rule(edit)) => self.workflows.rule(guild_id, &edit, request_id).await,
            Ok(ui::Picked::Role(edit)) => self.workflows.role(guild_id, &edit, request_id).await,
            Ok(ui::Picked::Channel(edit)) => self.workflows.channel(guild_id, &edit, request_id).await,
            Err(e) => return Ok(message(ui::rejected_with(retry, what, &e.to_string(), &fields))),
        };
        match result {
            Ok(status) => Ok(message(ui::prompt(&status))),
            Err(CallError::Rejected(why)) => Ok(message(ui::rejected_with(retry, what, &why, &fields))),
            Err(e) => Err(e),
        }
    }

    /// A pasted manifest: read here (YAML or JSON), checked again by the workflow, and the
    /// session moves to REVIEW; a refusal names the field and keeps what was pasted.
    async fn pasted(
        &self,
        guild_id: GuildId,
        fields: BTreeMap<String, String>,
        request_id: &str,
    ) -> Result<InteractionResponse, CallError> {
        let retry = WizardAction::Paste;
        let text = fields.get("manifest").cloned().unwrap_or_default();
        let manifest = match form::parse_manifest(&text, guild_id) {
            Ok(manifest) => manifest,
            Err(e) => return Ok(message(ui::rejected_with(retry, "manifest", &e.to_string(), &fields))),
        };
        match self.workflows.paste_manifest(guild_id, &wizard::PastedManifest { manifest }, request_id).await {
            Ok(status) => Ok(message(ui::prompt(&status))),
            Err(CallError::Rejected(why)) => Ok(message(ui::rejected_with(retry, "manifest", &why, &fields))),
            Err(e) => Err(e),
        }
    }

    async fn form(
        &self,
        guild_id: GuildId,
        step: WizardStep,
        data: &ModalInteractionData,
        request_id: &str,
    ) -> Result<InteractionResponse, CallError> {
        let fields = modal_fields(data);
        let answer = match ui::parse_form(step, &fields) {
            Ok(answer) => answer,
            Err(e) => return Ok(message(ui::rejected(step, &e.to_string(), &fields))),
        };
        match self.workflows.submit(guild_id, &answer, request_id).await {
            // A modal cannot answer a modal submit: the next step comes as a message.
            Ok(status) => Ok(message(ui::prompt(&status))),
            Err(CallError::Rejected(why)) => Ok(message(ui::rejected(step, &why, &fields))),
            Err(e) => Err(e),
        }
    }
}

/// The response for a finished call.
fn outcome(
    interaction: &Interaction,
    result: Result<InteractionResponse, CallError>,
) -> (InteractionResponse, &'static str) {
    match result {
        Ok(response) => (response, "answered"),
        Err(CallError::Rejected(why)) => (ephemeral(why), "answered"),
        Err(CallError::NotFound) => {
            (ephemeral("No setup is open for this server: run `/arrakis setup` to start one."), "answered")
        }
        Err(CallError::Unavailable(why)) => {
            tracing::warn!(interaction = %interaction.id, %why, "Temporal unavailable");
            (ephemeral(BUSY), "busy")
        }
    }
}

fn closed_session(status: &WizardStatus) -> String {
    if status.expired {
        "the last setup expired: run `/arrakis setup` to start again.".into()
    } else if let Some(summary) = &status.summary {
        summary.clone()
    } else {
        "deploying (use the Refresh button or `/arrakis status`).".into()
    }
}

#[cfg(test)]
mod properties {
    //! Whatever Discord (or someone pretending to be it) sends, the gateway's parsing never
    //! panics, and a form it refuses names the field.
    use super::*;
    use crate::ui::{WizardAction, parse_form};
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256)
    }

    /// Interactions as Discord sends them: a slash command, a button, a select, a modal.
    fn templates() -> Vec<Value> {
        let base = |kind: u8, data: Value| {
            json!({
                "id": "1200000000000000001", "application_id": "1100000000000000001", "type": kind, "data": data,
                "guild_id": "1100000000000000009", "channel_id": "1200000000000000002",
                "member": {"user": {"id": "1200000000000000003", "username": "op", "discriminator": "0", "avatar": null},
                    "roles": [], "permissions": "32", "joined_at": "2026-01-01T00:00:00+00:00", "deaf": false, "mute": false,
                    "flags": 0, "pending": false},
                "token": "dG9rZW4", "version": 1, "locale": "en-US", "entitlements": [], "context": 0,
                "authorizing_integration_owners": {"0": "1100000000000000009"}, "attachment_size_limit": 10485760
            })
        };
        vec![
            base(
                2,
                json!({"id": "1", "name": "arrakis", "type": 1, "options": [{"name": "migrate", "type": 1,
                "options": [{"name": "strategy", "type": 3, "value": "gradual"}]}]}),
            ),
            base(3, json!({"custom_id": "wiz:open:ASSET_CONFIG", "component_type": 2})),
            base(3, json!({"custom_id": "wiz:chains", "component_type": 3, "values": ["1", "31337"]})),
            base(
                5,
                json!({"custom_id": "wiz:submit:ROLE_MAPPING", "components": [
                {"type": 18, "id": 1, "component": {"type": 4, "id": 2, "custom_id": "roles", "value": "holder | Holder | rule:holder"}},
                {"type": 1, "id": 3, "components": [{"type": 4, "id": 4, "custom_id": "x", "value": "y"}]}]}),
            ),
        ]
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "\\PC{0,30}".prop_map(Value::String),
            Just(json!("wiz:submit:INIT")),
            Just(json!("mig:rollback:1")),
            Just(json!([])),
            Just(json!({})),
        ]
    }

    fn mutate(value: &mut Value, picks: &[usize], with: Value) {
        let Some((pick, rest)) = picks.split_first() else {
            *value = with;
            return;
        };
        match value {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(pick % map.len()).cloned().unwrap_or_default();
                if let Some(next) = map.get_mut(&key) {
                    mutate(next, rest, with);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                let i = pick % items.len();
                mutate(&mut items[i], rest, with);
            }
            other => *other = with,
        }
    }

    #[test]
    fn the_templates_are_interactions_discord_would_send() {
        for template in templates() {
            let interaction: Interaction =
                serde_json::from_value(template.clone()).unwrap_or_else(|e| panic!("{e}: {template}"));
            assert!(interaction.data.is_some(), "{template}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_interaction_payload_parses_or_is_refused_without_a_panic(
            template in 0usize..4,
            mutations in prop::collection::vec((prop::collection::vec(any::<usize>(), 1..6), leaf()), 0..4),
        ) {
            let mut payload = templates()[template].clone();
            for (path, with) in mutations {
                mutate(&mut payload, &path, with);
            }
            if let Ok(interaction) = serde_json::from_value::<Interaction>(payload) {
                let _ = kind_label(&interaction);
                match &interaction.data {
                    Some(InteractionData::ModalSubmit(data)) => {
                        let fields = modal_fields(data);
                        if let Some(WizardAction::SubmitForm(step)) = WizardAction::parse(&data.custom_id)
                            && let Err(errors) = parse_form(step, &fields)
                        {
                            prop_assert!(errors.0.iter().all(|e| !e.field.is_empty() && !e.rule.is_empty()));
                        }
                    }
                    Some(InteractionData::ApplicationCommand(command)) => {
                        let _ = subcommand(command);
                    }
                    Some(InteractionData::MessageComponent(component)) => {
                        let _ = WizardAction::parse(&component.custom_id);
                        let _ = crate::member_sync::parse_button(&component.custom_id);
                        let _ = crate::migration::MigrationAction::parse(&component.custom_id);
                    }
                    _ => {}
                }
            }
        }

        #[test]
        fn custom_ids_parse_or_are_ignored_and_round_trip(id in prop_oneof![
            "\\PC{0,40}",
            "(wiz|mig|ms):[a-z_-]{0,12}(:[A-Za-z0-9_-]{0,20}){0,3}",
        ]) {
            if let Some(action) = WizardAction::parse(&id) {
                prop_assert_eq!(WizardAction::parse(&action.custom_id()), Some(action));
            }
            let _ = crate::member_sync::parse_button(&id);
            let _ = crate::migration::MigrationAction::parse(&id);
        }

        #[test]
        fn a_form_is_refused_by_field_or_becomes_its_step_answer(
            step in prop::sample::select(vec![WizardStep::Init, WizardStep::AssetConfig, WizardStep::EligibilityRules,
                WizardStep::RoleMapping, WizardStep::ChannelStructure, WizardStep::Review]),
            fields in prop::collection::btree_map(
                prop_oneof![Just("name".to_string()), Just("theme".to_string()), Just("mode".to_string()),
                    Just("assets".to_string()), Just("rules".to_string()), Just("roles".to_string()),
                    Just("channels".to_string()), "[a-z]{0,6}"],
                "\\PC{0,80}",
                0..6,
            ),
        ) {
            match parse_form(step, &fields) {
                Ok(answer) => prop_assert_eq!(answer.step(), step),
                Err(errors) => prop_assert!(errors.0.iter().all(|e| !e.field.is_empty() && !e.rule.is_empty()), "{errors}"),
            }
        }
    }
}
