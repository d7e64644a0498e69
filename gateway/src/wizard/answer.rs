//! What a wizard button, select or form does: the workflow update it sends, and the screen the
//! operator sees next. The gateway's switchboard (`interactions`) routes `wiz:…` interactions here.

use super::{
    forms,
    ids::{AssetAction, PickForm, WizardAction},
    picks,
    steps::prompt,
};
use crate::{
    components::{answer, answer_ephemeral, modal_fields, reply},
    temporal::{CallError, Workflows},
};
use arrakis_schemas::{
    ChannelPlan, GuildId, Mode,
    workflows::wizard::{
        self as schema, StepAnswer, WizardStatus, WizardStep,
        assets::AssetEdit,
        form,
        picks::{ChannelEdit, RoleEdit, RuleEdit},
    },
};
use std::collections::BTreeMap;
use twilight_model::{
    application::interaction::modal::ModalInteractionData,
    http::interaction::{InteractionResponse, InteractionResponseType},
};

/// A wizard button or select: the update it sends, and the screen after it.
pub(crate) async fn component(
    workflows: &Workflows,
    guild_id: GuildId,
    action: WizardAction,
    values: &[String],
    shown: Option<&str>,
    request_id: &str,
) -> Result<InteractionResponse, CallError> {
    let update = |status: WizardStatus| reply(InteractionResponseType::UpdateMessage, prompt(&status));
    match action {
        WizardAction::OpenForm(step) => {
            // "Try again" on a refusal: the form again, with what was typed.
            let typed = shown.map(forms::typed_in_rejection).unwrap_or_default();
            // The modal at once, prefilled with what the message shows: no Temporal call.
            if typed.is_empty()
                && let Some(modal) = shown.and_then(|content| forms::modal_from_prompt(step, content))
            {
                return Ok(reply(InteractionResponseType::Modal, modal));
            }
            let status = workflows.wizard_status(guild_id).await?;
            if !status.is_open() {
                return Ok(answer_ephemeral(closed_session(&status)));
            }
            match forms::modal(step, &status) {
                Some(mut modal) => {
                    forms::prefill(&mut modal, &typed);
                    Ok(reply(InteractionResponseType::Modal, modal))
                }
                None => Ok(update(status)),
            }
        }
        WizardAction::Asset(action) => asset_component(workflows, guild_id, action, values, shown, request_id).await,
        WizardAction::OpenPick(form) => {
            let status = workflows.wizard_status(guild_id).await?;
            if !status.is_open() {
                return Ok(answer_ephemeral(closed_session(&status)));
            }
            match picks::pick_modal(form, &status) {
                Ok(mut modal) => {
                    forms::prefill(&mut modal, &shown.map(forms::typed_in_rejection).unwrap_or_default());
                    Ok(reply(InteractionResponseType::Modal, modal))
                }
                Err(why) => Ok(answer_ephemeral(why)),
            }
        }
        WizardAction::Remove(step) => {
            let Some(key) = values.first().cloned() else { return Ok(answer_ephemeral("Choose what to remove.")) };
            let status = match step {
                WizardStep::RoleMapping => workflows.role(guild_id, &RoleEdit::Remove { key }, request_id).await?,
                WizardStep::ChannelStructure => {
                    workflows.channel(guild_id, &ChannelEdit::Remove { key }, request_id).await?
                }
                _ => workflows.rule(guild_id, &RuleEdit::Remove { key }, request_id).await?,
            };
            Ok(update(status))
        }
        WizardAction::Next(step) => {
            let status = workflows.wizard_status(guild_id).await?;
            let answer = match step {
                WizardStep::RoleMapping => StepAnswer::RoleMapping { roles: status.draft.roles },
                WizardStep::ChannelStructure => StepAnswer::ChannelStructure { channels: status.draft.channels },
                _ => StepAnswer::EligibilityRules { rules: status.draft.rules },
            };
            Ok(update(workflows.submit(guild_id, &answer, request_id).await?))
        }
        WizardAction::ThemeTiers => Ok(update(workflows.role(guild_id, &RoleEdit::ThemeTiers, request_id).await?)),
        WizardAction::ChannelTemplate => {
            Ok(update(workflows.channel(guild_id, &ChannelEdit::Template, request_id).await?))
        }
        WizardAction::NoChannels => {
            let answer = StepAnswer::ChannelStructure { channels: ChannelPlan::default() };
            Ok(update(workflows.submit(guild_id, &answer, request_id).await?))
        }
        // The form at once: it needs nothing from Temporal.
        WizardAction::Paste => Ok(reply(
            InteractionResponseType::Modal,
            forms::paste_modal(&shown.map(forms::typed_in_rejection).unwrap_or_default()),
        )),
        WizardAction::SubmitPick(_) | WizardAction::Pasted => Ok(update(workflows.wizard_status(guild_id).await?)),
        WizardAction::Chains => match form::parse_chains(values) {
            Ok(chains) => {
                let answer = StepAnswer::ChainSelect { chains };
                Ok(update(workflows.submit(guild_id, &answer, request_id).await?))
            }
            Err(e) => Ok(answer_ephemeral(e.to_string())),
        },
        WizardAction::Back => {
            let status = workflows.wizard_status(guild_id).await?;
            let Some(to) = status.step.index().checked_sub(1).map(|i| WizardStep::ALL[i]) else {
                return Ok(update(status));
            };
            Ok(update(workflows.go_back(guild_id, to, request_id).await?))
        }
        WizardAction::Deploy(removals) => {
            let answer = StepAnswer::Review { confirm: true, removals };
            Ok(update(workflows.submit(guild_id, &answer, request_id).await?))
        }
        WizardAction::SyncShadow => Ok(answer_ephemeral(if workflows.trigger_shadow_sync(guild_id).await? {
            "Shadow sync started: it reads members and changes nothing. `/arrakis status` shows its progress."
        } else {
            "This server has no shadow sync: no incumbent bot is on record in shadow mode."
        })),
        WizardAction::Refresh | WizardAction::SubmitForm(_) => Ok(update(workflows.wizard_status(guild_id).await?)),
    }
}

/// ASSET_CONFIG's buttons and remove select.
pub(crate) async fn asset_component(
    workflows: &Workflows,
    guild_id: GuildId,
    action: AssetAction,
    values: &[String],
    shown: Option<&str>,
    request_id: &str,
) -> Result<InteractionResponse, CallError> {
    let update = |status: WizardStatus| reply(InteractionResponseType::UpdateMessage, prompt(&status));
    let edit = match action {
        AssetAction::Add | AssetAction::Change => {
            let status = workflows.wizard_status(guild_id).await?;
            if !status.is_open() {
                return Ok(answer_ephemeral(closed_session(&status)));
            }
            let typed = match (&status.found_asset, action) {
                (Some(found), AssetAction::Change) => forms::found_fields(found),
                _ => shown.map(forms::typed_in_rejection).unwrap_or_default(),
            };
            return Ok(reply(InteractionResponseType::Modal, forms::asset_modal(&status, &typed)));
        }
        AssetAction::Confirm => AssetEdit::Confirm,
        AssetAction::Remove => match values.first() {
            Some(key) => AssetEdit::Remove { key: key.clone() },
            None => return Ok(answer_ephemeral("Choose the asset to remove.")),
        },
        AssetAction::Next => {
            let status = workflows.wizard_status(guild_id).await?;
            let answer = StepAnswer::AssetConfig { assets: status.draft.assets };
            return Ok(update(workflows.submit(guild_id, &answer, request_id).await?));
        }
        // A form's action, not a button's.
        AssetAction::LookUp => return Ok(update(workflows.wizard_status(guild_id).await?)),
    };
    Ok(update(workflows.asset(guild_id, &edit, request_id).await?))
}

/// The submitted lookup form: the worker reads the chain (deferred if slow) and the
/// finding comes back for a confirmation; a refusal keeps what was typed.
pub(crate) async fn asset_lookup(
    workflows: &Workflows,
    guild_id: GuildId,
    fields: BTreeMap<String, String>,
    request_id: &str,
) -> Result<InteractionResponse, CallError> {
    let retry = WizardAction::Asset(AssetAction::Add);
    let edit = match forms::parse_asset_form(&fields) {
        Ok(edit) => edit,
        Err(e) => return Ok(answer(forms::rejected_with(retry, "token or collection", &e.to_string(), &fields))),
    };
    match workflows.asset(guild_id, &edit, request_id).await {
        Ok(status) => Ok(answer(prompt(&status))),
        Err(CallError::Rejected(why)) => Ok(answer(forms::rejected_with(retry, "token or collection", &why, &fields))),
        Err(e) => Err(e),
    }
}

/// A submitted picker form: a rule or a role for the draft; a refusal keeps what was typed.
pub(crate) async fn picked(
    workflows: &Workflows,
    guild_id: GuildId,
    form: PickForm,
    fields: BTreeMap<String, String>,
    request_id: &str,
) -> Result<InteractionResponse, CallError> {
    let retry = WizardAction::OpenPick(form);
    let what = form.edits();
    let result = match picks::parse_pick(form, &fields) {
        Ok(picks::Picked::Rule(edit)) => workflows.rule(guild_id, &edit, request_id).await,
        Ok(picks::Picked::Role(edit)) => workflows.role(guild_id, &edit, request_id).await,
        Ok(picks::Picked::Channel(edit)) => workflows.channel(guild_id, &edit, request_id).await,
        Err(e) => return Ok(answer(forms::rejected_with(retry, what, &e.to_string(), &fields))),
    };
    match result {
        Ok(status) => Ok(answer(prompt(&status))),
        Err(CallError::Rejected(why)) => Ok(answer(forms::rejected_with(retry, what, &why, &fields))),
        Err(e) => Err(e),
    }
}

/// A pasted manifest: read here (YAML or JSON), checked again by the workflow, and the
/// session moves to REVIEW; a refusal names the field and keeps what was pasted.
pub(crate) async fn pasted(
    workflows: &Workflows,
    guild_id: GuildId,
    fields: BTreeMap<String, String>,
    request_id: &str,
) -> Result<InteractionResponse, CallError> {
    let retry = WizardAction::Paste;
    let text = fields.get("manifest").cloned().unwrap_or_default();
    let manifest = match form::parse_manifest(&text, guild_id) {
        Ok(manifest) => manifest,
        Err(e) => return Ok(answer(forms::rejected_with(retry, "manifest", &e.to_string(), &fields))),
    };
    match workflows.paste_manifest(guild_id, &schema::PastedManifest { manifest }, request_id).await {
        Ok(status) => Ok(answer(prompt(&status))),
        Err(CallError::Rejected(why)) => Ok(answer(forms::rejected_with(retry, "manifest", &why, &fields))),
        Err(e) => Err(e),
    }
}

/// A step's submitted form: the answer to the workflow, and the next step (or the form again, with what was typed, when it is refused).
pub(crate) async fn form(
    workflows: &Workflows,
    guild_id: GuildId,
    step: WizardStep,
    data: &ModalInteractionData,
    request_id: &str,
) -> Result<InteractionResponse, CallError> {
    let fields = modal_fields(data);
    let step_answer = match forms::parse_form(step, &fields) {
        Ok(step_answer) => step_answer,
        Err(e) => return Ok(answer(forms::rejected(step, &e.to_string(), &fields))),
    };
    match workflows.submit(guild_id, &step_answer, request_id).await {
        // A modal cannot answer a modal submit: the next step comes as a message.
        Ok(status) => Ok(answer(prompt(&status))),
        Err(CallError::Rejected(why)) => Ok(answer(forms::rejected(step, &why, &fields))),
        Err(e) => Err(e),
    }
}

/// The "Setup:" line of `/arrakis status` for a closed session: what it ended with, unless
/// the community's `mode` has moved on since (a migration, a rollback), when the deploy's own
/// words ("in shadow mode: nothing changes…") would no longer be true.
pub(crate) fn setup_line(status: &WizardStatus, mode: Option<Mode>) -> String {
    match (status.deployed_version, mode) {
        (Some(version), Some(mode)) if status.summary.is_some() && !status.expired && status.draft.mode != mode => {
            format!(
                "manifest v{version} deployed in {} mode; the community has moved to {} mode since.",
                status.draft.mode.as_str(),
                mode.as_str()
            )
        }
        _ => closed_session(status),
    }
}

/// What the operator is told when the setup they act on is closed: expired, deployed, or deploying.
pub(crate) fn closed_session(status: &WizardStatus) -> String {
    if status.expired {
        "the last setup expired: run `/arrakis setup` to start again.".into()
    } else if let Some(summary) = &status.summary {
        summary.clone()
    } else {
        "deploying (use the Refresh button or `/arrakis status`).".into()
    }
}
