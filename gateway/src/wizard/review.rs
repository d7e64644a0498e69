//! REVIEW: the plan the operator confirms before anything changes in Discord: what will be
//! created and changed, what the version drops, what is already in place, and where reports go.

use super::{
    ids::{WizardAction, button},
    strategies,
};
use crate::components::{message, row};
use arrakis_schemas::{
    Mode,
    workflows::{
        migration,
        synthesis::RemovalChoice,
        wizard::{DeployPlan, WizardDraft, WizardStatus, WizardStep},
    },
};
use twilight_model::{channel::message::component::ButtonStyle, http::interaction::InteractionResponseData};

/// REVIEW's screen: the community's name, what deploying creates, changes and drops, the
/// channel strategy, where reports go, and Deploy (with keep or delete when the version drops
/// objects Arrakis made).
pub(crate) fn screen(status: &WizardStatus) -> InteractionResponseData {
    let step = WizardStep::Review;
    let draft = &status.draft;
    let back = button(WizardAction::Back, "Back", ButtonStyle::Secondary);
    let plan = status.plan.as_ref().map_or_else(|| "The plan is not computed yet.".to_string(), plan_lines);
    let (mut strategy, plan) = match draft.mode {
        Mode::Shadow => (String::new(), shadow_lines(status)),
        _ => (format!("Channels — {}\n", strategies::channel_strategy(draft.channels.strategy, &draft.channels)), plan),
    };
    if draft.mode == Mode::Parallel {
        strategy.push_str(
            "Parallel mode: every role is named arrakis-…, carries no permissions or colour and sits below \
             every other role, so members see no change; the incumbent's roles are never touched.\n",
        );
    }
    message(
        format!(
            "{}\n**{}** — exactly what deploying does:\n{strategy}{plan}{}",
            step.heading(),
            draft.name.as_deref().unwrap_or(""),
            reports_line(draft)
        ),
        vec![row(match status.plan.as_ref().is_some_and(|p| !p.remove.is_empty()) {
            false => vec![button(WizardAction::Deploy(None), "Deploy", ButtonStyle::Success), back],
            true => vec![
                button(WizardAction::Deploy(Some(RemovalChoice::Detach)), "Deploy, keep them", ButtonStyle::Success),
                button(WizardAction::Deploy(Some(RemovalChoice::Remove)), "Deploy, delete them", ButtonStyle::Danger),
                back,
            ],
        })],
    )
}

/// What deploying in shadow mode does, instead of a plan (it creates nothing): saves the
/// manifest and starts comparing with the incumbent; and what a later parallel step would
/// create, under `arrakis-*` names, never the incumbent's.
pub(crate) fn shadow_lines(status: &WizardStatus) -> String {
    let bot = status.incumbent.map_or("your current bot", |i| i.signature().name);
    let later: Vec<String> =
        status.draft.roles.iter().map(|r| format!("@{}", migration::parallel_role_name(&r.name))).collect();
    format!(
        "Shadow mode: deploying saves this manifest and starts comparing {bot}'s roles with what Arrakis would \
         grant. **Nothing changes in Discord**: no role, channel or member is touched.\nLater, a parallel step \
         (`/arrakis migrate`) would create {}, under arrakis-* names, never {bot}'s.\n",
        if later.is_empty() { "Arrakis's own roles".to_string() } else { later.join(", ") }
    )
}

/// The plan's lines: what will be created and changed, what the version drops, and what is
/// already in place.
pub(crate) fn plan_lines(plan: &DeployPlan) -> String {
    let list = |items: &[arrakis_schemas::workflows::wizard::PlannedItem]| {
        items
            .iter()
            .map(|i| match &i.detail {
                Some(detail) => format!("- {} **{}** — {detail}", i.kind.as_str(), i.name),
                None => format!("- {} **{}**", i.kind.as_str(), i.name),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut out = String::new();
    if plan.create.is_empty() && plan.update.is_empty() && plan.remove.is_empty() {
        out.push_str("Nothing to change: the guild already matches.\n");
    }
    if !plan.create.is_empty() {
        out.push_str(&format!("Will create {}:\n{}\n", plan.create.len(), list(&plan.create)));
    }
    if !plan.update.is_empty() {
        out.push_str(&format!("Will change {}:\n{}\n", plan.update.len(), list(&plan.update)));
    }
    if !plan.remove.is_empty() {
        out.push_str(&format!(
            "This version drops {} that Arrakis made — choose below whether to delete them (a channel's \
             messages go with it) or keep them as they are, no longer managed:\n{}\n",
            plan.remove.len(),
            list(&plan.remove)
        ));
    }
    if plan.unchanged > 0 {
        out.push_str(&format!("Already in place: {}\n", plan.unchanged));
    }
    out
}

/// Where reports go, in words.
pub(crate) fn reports_line(draft: &WizardDraft) -> String {
    match draft.operator_channel_id {
        Some(id) => format!("Deploy progress and drift reports go to <#{id}>.\n"),
        None => "Deploy progress and drift reports go to the channel you ran `/arrakis setup` in.\n".into(),
    }
}
