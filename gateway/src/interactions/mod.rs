//! Interactions: every one gets its first response inside Discord's 3-second window — a
//! modal, a message, or an ephemeral error ("Arrakis is busy" when Temporal does not answer in
//! time). Admin commands need Manage Server. Replicas de-duplicate through Redis.

use crate::{
    commands::{ARRAKIS, MANAGE_GUILD},
    components::{self, answer, answer_ephemeral, modal_fields, reply},
    dedupe::Dedupe,
    metrics::Metrics,
    migration::{self, MigrationAction},
    temporal::{CallError, Workflows},
    wizard::{self, AssetAction, WizardAction, answer},
};
use arrakis_schemas::{
    GuildId, Snowflake,
    workflows::{
        incumbent::IncumbentOverride,
        migration::MigrationStrategy,
        reconcile::ReconcileMode,
        wizard::{self as schema, WizardStep},
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
    },
    channel::message::component::ButtonStyle,
    guild::Permissions,
    http::interaction::{InteractionResponse, InteractionResponseType},
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

fn kind_label(interaction: &Interaction) -> &'static str {
    match interaction.data {
        Some(InteractionData::ApplicationCommand(_)) => "command",
        Some(InteractionData::MessageComponent(_)) => "component",
        Some(InteractionData::ModalSubmit(_)) => "modal_submit",
        _ => "other",
    }
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
                    reply(InteractionResponseType::DeferredChannelMessageWithSource, components::ephemeral(""))
                };
                if !self.send(&interaction, kind, received, &deferred, "deferred").await {
                    return;
                }
                self.metrics.deferred(kind);
                let (late, outcome) = match tokio::time::timeout(FOLLOW_UP_DEADLINE, call).await {
                    Ok(result) => outcome(&interaction, result),
                    Err(_) => {
                        tracing::warn!(interaction = %interaction.id, "no answer from Temporal within the follow-up deadline");
                        (answer_ephemeral(BUSY), "busy")
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
            data = components::ephemeral("Press the button again to open the form.");
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
            return Ok(answer_ephemeral("Arrakis commands work inside a server."));
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
            return Ok(answer_ephemeral(
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
                    return migration::component(&self.workflows, interaction, guild_id, action, &data.values).await;
                }
                let shown = interaction.message.as_ref().map(|m| m.content.as_str());
                match WizardAction::parse(&data.custom_id) {
                    Some(action) => {
                        if matches!(action, WizardAction::Deploy(_) | WizardAction::Refresh) {
                            self.keep_deploy_screen(guild_id, &interaction.token).await;
                        }
                        answer::component(&self.workflows, guild_id, action, &data.values, shown, &request_id).await
                    }
                    None => Ok(answer_ephemeral("This button is no longer in use.")),
                }
            }
            Some(InteractionData::ModalSubmit(data)) => {
                if let Some(action) = MigrationAction::parse(&data.custom_id) {
                    let reason = modal_fields(data).remove("reason").unwrap_or_default();
                    return migration::modal(&self.workflows, interaction, guild_id, action, reason, &request_id).await;
                }
                match WizardAction::parse(&data.custom_id) {
                    Some(WizardAction::SubmitForm(step)) => {
                        answer::form(&self.workflows, guild_id, step, data, &request_id).await
                    }
                    Some(WizardAction::Asset(AssetAction::LookUp)) => {
                        answer::asset_lookup(&self.workflows, guild_id, modal_fields(data), &request_id).await
                    }
                    Some(WizardAction::SubmitPick(form)) => {
                        answer::picked(&self.workflows, guild_id, form, modal_fields(data), &request_id).await
                    }
                    Some(WizardAction::Pasted) => {
                        answer::pasted(&self.workflows, guild_id, modal_fields(data), &request_id).await
                    }
                    _ => Ok(answer_ephemeral("This form is no longer in use.")),
                }
            }
            _ => Ok(answer_ephemeral("Unknown command.")),
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
                let Some(operator) = operator else {
                    return Ok(answer_ephemeral("Who are you? Discord sent no user."));
                };
                let channel = interaction.channel.as_ref().and_then(|c| Snowflake::new(c.id.get()).ok());
                let incumbent = self.workflows.incumbent_detected(guild_id).await;
                let status = self.workflows.open_wizard(guild_id, operator, channel, incumbent, request_id).await?;
                Ok(answer(wizard::prompt(&status)))
            }
            "resume" => {
                let status = self.workflows.wizard_status(guild_id).await?;
                if !status.is_open() {
                    return Ok(answer_ephemeral(answer::closed_session(&status)));
                }
                Ok(answer(wizard::prompt(&status)))
            }
            "status" => {
                let (text, scheduled) = self.status_text(guild_id).await?;
                let components = if scheduled {
                    vec![components::row(vec![wizard::ids::button(
                        WizardAction::SyncShadow,
                        "Sync now",
                        ButtonStyle::Primary,
                    )])]
                } else {
                    Vec::new()
                };
                Ok(answer(components::message(text, components)))
            }
            "reconcile" => {
                let mode = match options.iter().find(|(n, _)| *n == "mode").map(|(_, v)| *v) {
                    None | Some("dry_run") => ReconcileMode::DryRun,
                    Some("apply") => ReconcileMode::Apply,
                    Some(other) => return Ok(answer_ephemeral(format!("mode: '{other}' is not dry_run or apply"))),
                };
                let id = self.workflows.start_reconcile(guild_id, mode, request_id).await?;
                let what = if mode == ReconcileMode::Apply { "fixing drift" } else { "a dry run: reporting only" };
                Ok(answer_ephemeral(format!(
                    "Reconciliation started ({what}): `{id}`. Drift is reported in your operator channel."
                )))
            }
            "sync" => {
                let dry_run = match options.iter().find(|(n, _)| *n == "mode").map(|(_, v)| *v) {
                    None | Some("apply") => false,
                    Some("dry_run") => true,
                    Some(other) => return Ok(answer_ephemeral(format!("mode: '{other}' is not apply or dry_run"))),
                };
                let actor = format!("discord:{}", interaction.author_id().map_or(0, |u| u.get()));
                match self.workflows.sync_now(guild_id, actor, dry_run, request_id).await {
                    Ok(status) => Ok(answer_ephemeral(crate::member_sync::sync_answer(&status, dry_run))),
                    Err(CallError::NotFound) => {
                        let shadow = self.workflows.shadow_view(guild_id).await?;
                        let mode = shadow.detection.as_ref().and_then(|d| d.mode).map(arrakis_schemas::Mode::as_str);
                        Ok(answer_ephemeral(if mode == Some("shadow") {
                            "Member roles are not synced in shadow mode: Arrakis only compares its verdicts \
                             with the incumbent's roles (`/arrakis status`). `/arrakis migrate` moves the \
                             community over."
                        } else {
                            "Member roles are not synced here yet: deploy with `/arrakis setup` first."
                        }))
                    }
                    Err(CallError::Rejected(why)) => Ok(answer_ephemeral(why)),
                    Err(e) => Err(e),
                }
            }
            "migrate" => {
                let current = self.workflows.migration_status(guild_id).await?;
                if let Some(text) = migration::running(current.as_ref(), crate::now_ms()) {
                    return Ok(answer_ephemeral(text));
                }
                let readiness = migration::readiness_preview(&self.workflows, guild_id).await?;
                Ok(answer(migration::panel(&readiness, MigrationStrategy::Gradual, migration::DEFAULT_DAYS)))
            }
            "rollback" => {
                let reason = options.iter().find(|(n, _)| *n == "reason").map_or("", |(_, v)| *v).to_string();
                migration::roll_back(&self.workflows, interaction, guild_id, reason, request_id).await
            }
            "incumbent" => {
                let bot = options.iter().find(|(n, _)| *n == "bot").map_or("", |(_, v)| *v);
                let choice = match serde_json::from_value::<IncumbentOverride>(serde_json::json!(bot)) {
                    Ok(choice) => choice,
                    Err(_) => {
                        return Ok(answer_ephemeral(format!(
                            "bot: '{bot}' is not collabland, matrica, guildxyz or none"
                        )));
                    }
                };
                self.workflows.override_incumbent(guild_id, choice).await?;
                Ok(answer_ephemeral(match choice.incumbent() {
                    Some(i) => format!(
                        "Recorded: {} gates this server. Arrakis compares with it in shadow mode and watches its health.",
                        i.signature().name
                    ),
                    None => "Recorded: no incumbent bot runs here; shadow syncs and health checks stop.".to_string(),
                }))
            }
            other => Ok(answer_ephemeral(format!(
                "`/arrakis {other}` is not a command (setup, resume, status, reconcile, sync, migrate, rollback, incumbent)."
            ))),
        }
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
            Some(shown) => reply(InteractionResponseType::UpdateMessage, components::decided(shown, &outcome)),
            None => answer_ephemeral(outcome),
        };
        match self.workflows.decide_held(guild_id, confirm, batch, actor, request_id).await {
            Ok(_) if confirm => {
                Ok(answer(format!("**Confirmed** by <@{user}>: the held role removals are being applied.")))
            }
            Ok(_) => Ok(answer(format!("**Discarded** by <@{user}>: nobody loses a role from this batch."))),
            Err(CallError::Rejected(why)) if why.contains("is no longer held") => {
                Ok(answer(format!("**This batch is gone**: {why}")))
            }
            Err(CallError::Rejected(why)) => Ok(answer_ephemeral(why)),
            Err(CallError::NotFound) => Ok(answer_ephemeral("Member roles are not synced here any more.")),
            Err(e) => Err(e),
        }
    }

    /// Leaves the token of the screen Deploy or Refresh was pressed on in Redis, for the worker
    /// to edit that screen as the deploy moves (the token stays out of workflow history). Redis
    /// being slow or down costs only the live edits: Refresh still works.
    async fn keep_deploy_screen(&self, guild_id: GuildId, token: &str) {
        let mut command = redis::cmd("SET");
        command.arg(schema::deploy_screen_key(guild_id)).arg(token).arg("EX").arg(schema::DEPLOY_SCREEN_TTL_SECS);
        match tokio::time::timeout(Duration::from_millis(250), self.redis.query::<()>(&command)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "Redis unavailable: the Deploy screen will not move by itself"),
            Err(_) => tracing::warn!("Redis too slow: the Deploy screen will not move by itself"),
        }
    }

    /// The status text, and whether the guild has a shadow-sync schedule to trigger.
    async fn status_text(&self, guild_id: GuildId) -> Result<(String, bool), CallError> {
        let mut text = String::from("**Arrakis for this server**\n");
        let wizard = self.workflows.wizard_status(guild_id).await;
        let shadow = self.workflows.shadow_view(guild_id).await?;
        let members = self.workflows.member_sync_status(guild_id).await?;
        let migration = self.workflows.migration_status(guild_id).await?;
        let mode = crate::member_sync::community_mode(members.as_ref(), migration.as_ref());
        match wizard {
            Ok(status) => {
                if status.is_open() {
                    text.push_str(&format!(
                        "Setup: open at step {} ({})\n",
                        status.step.index() + 1,
                        status.step.title()
                    ));
                } else {
                    text.push_str(&format!("Setup: {}\n", answer::setup_line(&status, mode)));
                }
                if !status.reached.is_empty() && status.step != WizardStep::Deploy {
                    text.push_str(&format!("Setup funnel: {}\n", status.funnel_line()));
                }
            }
            Err(CallError::NotFound) => text.push_str("Setup: never run (`/arrakis setup`)\n"),
            Err(e) => return Err(e),
        }
        text.push_str(&crate::shadow::status_lines(&shadow, mode, std::time::SystemTime::now()));
        let now_ms = crate::now_ms();
        text.push_str(&crate::member_sync::status_lines(members.as_ref(), now_ms));
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
}

/// The response for a finished call.
fn outcome(
    interaction: &Interaction,
    result: Result<InteractionResponse, CallError>,
) -> (InteractionResponse, &'static str) {
    match result {
        Ok(response) => (response, "answered"),
        Err(CallError::Rejected(why)) => (answer_ephemeral(why), "answered"),
        Err(CallError::NotFound) => {
            (answer_ephemeral("No setup is open for this server: run `/arrakis setup` to start one."), "answered")
        }
        Err(CallError::Unavailable(why)) => {
            tracing::warn!(interaction = %interaction.id, %why, "Temporal unavailable");
            (answer_ephemeral(BUSY), "busy")
        }
    }
}

#[cfg(test)]
mod properties;
