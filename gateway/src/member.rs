//! The member commands, open to everyone: `/verify` links a wallet by signing a challenge
//! (the `WalletLink` workflow), `/check-eligibility` says what the member's wallets qualify
//! for (the `EligibilityCheck` workflow). No chain call or signature check happens here.

use crate::{
    commands::{CHECK_ELIGIBILITY, SIGN_BUTTON, SIGNATURE_FIELD, SIGNATURE_MODAL, VERIFY},
    components::{self, answer_ephemeral, block, label, message, reply, row, text_input},
    interactions::Interactions,
    temporal::CallError,
};
use arrakis_schemas::{
    GuildId, Snowflake, UserId,
    eligibility::Verdict,
    workflows::{eligibility_check::EligibilityReport, members::RolesSeen, wallet_link::WalletLinkStatus},
};
use std::collections::BTreeMap;
use twilight_model::{
    application::interaction::{Interaction, InteractionData, application_command::CommandOptionValue},
    channel::message::component::{Button, ButtonStyle, Component, TextInputStyle},
    http::interaction::{InteractionResponse, InteractionResponseData, InteractionResponseType},
};

/// The challenge as the member sees it: what to sign, and the button to submit.
pub fn challenge_prompt(status: &WalletLinkStatus) -> InteractionResponseData {
    let Some(challenge) = &status.challenge else { return components::ephemeral("No challenge yet: run /verify.") };
    let text = format!(
        "Sign this message with **{}** (your wallet's *personal_sign*: free, no transaction), then press \
         **Submit signature** and paste the signature. It expires at {}.\n{}",
        challenge.address,
        challenge.expires_at,
        block(&challenge.message)
    );
    let submit = Component::Button(Button {
        custom_id: Some(SIGN_BUTTON.to_string()),
        disabled: false,
        emoji: None,
        id: None,
        label: Some("Submit signature".into()),
        sku_id: None,
        style: ButtonStyle::Primary,
        url: None,
    });
    message(text, vec![row(vec![submit])])
}

/// The form for the signature.
pub fn signature_modal() -> InteractionResponseData {
    InteractionResponseData {
        custom_id: Some(SIGNATURE_MODAL.to_string()),
        title: Some("Link your wallet".into()),
        components: Some(vec![label(
            "Signature (0x followed by 130 hex digits)",
            text_input(SIGNATURE_FIELD, TextInputStyle::Paragraph, String::new(), true, "0x…"),
        )]),
        ..InteractionResponseData::default()
    }
}

/// The report as the member reads it.
pub fn report_text(report: &EligibilityReport) -> String {
    if let Some(error) = &report.error {
        return format!("Could not check your eligibility right now ({error}). Nothing about your roles changed.");
    }
    if report.wallets.is_empty() {
        return "You have no linked wallet in this server: link one with `/verify address:0x…`.".into();
    }
    let mut text = format!(
        "**Your eligibility** (manifest v{}, {} linked wallet(s){})\n",
        report.manifest_version.unwrap_or_default(),
        report.wallets.len(),
        if report.cached { ", from the last 5 minutes" } else { "" }
    );
    for role in &report.roles {
        let e = &role.evaluation;
        let line = match &e.verdict {
            Verdict::Eligible => format!("✅ `{}`: eligible", role.role),
            Verdict::NotEligible => format!("❌ `{}`: not eligible", role.role),
            Verdict::Unknown { reason } => {
                format!("❔ `{}`: unknown ({reason}); your roles stay as they are", role.role)
            }
        };
        text.push_str(&line);
        if !e.sources.is_empty() {
            let sources: Vec<_> = e.sources.iter().map(|s| s.as_str()).collect();
            text.push_str(&format!(" — ranks from {}", sources.join(", ")));
        }
        text.push('\n');
        for note in &e.degraded {
            text.push_str(&format!("  ↳ {note}\n"));
        }
    }
    text
}

impl Interactions {
    /// Answers a member interaction; `None` when the interaction is not one.
    pub(crate) async fn member(
        &self,
        interaction: &Interaction,
        guild_id: GuildId,
        fields: impl FnOnce() -> BTreeMap<String, String>,
    ) -> Option<Result<InteractionResponse, CallError>> {
        let user = interaction.author_id().and_then(|u| UserId::new(u.get()).ok());
        let request_id = interaction.id.to_string();
        let answer = match &interaction.data {
            Some(InteractionData::ApplicationCommand(command)) if command.name == VERIFY => {
                let address = command.options.iter().find(|o| o.name == "address").and_then(|o| match &o.value {
                    CommandOptionValue::String(v) => Some(v.clone()),
                    _ => None,
                });
                let Some(user) = user else { return Some(Ok(answer_ephemeral("Discord sent no user."))) };
                let Some(address) = address else { return Some(Ok(answer_ephemeral("address: required (0x…)"))) };
                self.workflows
                    .request_challenge(guild_id, user, &address, &request_id)
                    .await
                    .map(|status| reply(InteractionResponseType::ChannelMessageWithSource, challenge_prompt(&status)))
            }
            Some(InteractionData::ApplicationCommand(command)) if command.name == CHECK_ELIGIBILITY => {
                let Some(user) = user else { return Some(Ok(answer_ephemeral("Discord sent no user."))) };
                self.workflows
                    .check_eligibility(guild_id, user)
                    .await
                    .map(|report| answer_ephemeral(report_text(&report)))
            }
            Some(InteractionData::MessageComponent(data)) if data.custom_id == SIGN_BUTTON => {
                Ok(reply(InteractionResponseType::Modal, signature_modal()))
            }
            Some(InteractionData::ModalSubmit(data)) if data.custom_id == SIGNATURE_MODAL => {
                let Some(user) = user else { return Some(Ok(answer_ephemeral("Discord sent no user."))) };
                let signature = fields().remove(SIGNATURE_FIELD).unwrap_or_default();
                // The member's roles came with the interaction: member sync decides from them
                // without reading the member again.
                let roles_seen = interaction.member.as_ref().map(|m| RolesSeen {
                    roles: m.roles.iter().filter_map(|r| Snowflake::new(r.get()).ok()).collect(),
                    seen_at_ms: crate::now_ms(),
                });
                match self.workflows.submit_signature(guild_id, user, signature.trim(), roles_seen, &request_id).await {
                    Ok(status) => Ok(answer_ephemeral(format!(
                        "Linked **{}** to your account in this server. `/check-eligibility` shows what it qualifies you for.",
                        status.linked.unwrap_or_default()
                    ))),
                    Err(CallError::NotFound) => {
                        Ok(answer_ephemeral("That challenge is gone (expired or used): run /verify again."))
                    }
                    Err(e) => Err(e),
                }
            }
            _ => return None,
        };
        Some(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrakis_schemas::eligibility::{Evaluation, RoleVerdict, ScoreSource};

    #[test]
    fn a_report_names_every_verdict_and_its_sources() {
        let role = |role: &str, verdict: Verdict, sources: &[ScoreSource]| RoleVerdict {
            role: role.into(),
            evaluation: Evaluation { verdict, sources: sources.iter().copied().collect(), degraded: vec![] },
        };
        let report = EligibilityReport {
            manifest_version: Some(3),
            wallets: vec!["0xabc".into()],
            roles: vec![
                role("holder", Verdict::Eligible, &[]),
                role("whale", Verdict::NotEligible, &[]),
                role("top", Verdict::Unknown { reason: "rpc down".into() }, &[ScoreSource::Cache]),
            ],
            done: true,
            ..Default::default()
        };
        let text = report_text(&report);
        for part in
            ["manifest v3", "`holder`: eligible", "`whale`: not eligible", "unknown (rpc down)", "ranks from cache"]
        {
            assert!(text.contains(part), "{part} missing from {text}");
        }
        let none = EligibilityReport { done: true, manifest_version: Some(1), ..Default::default() };
        assert!(report_text(&none).contains("/verify"));
    }
}
