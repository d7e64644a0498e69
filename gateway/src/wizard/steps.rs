//! Each wizard step as an ephemeral message: its heading, what the draft holds so far, and the
//! buttons and selects that edit it.

use super::{
    ids::{AssetAction, PickForm, WizardAction, button},
    review::{self, reports_line},
};
use crate::components::{ephemeral, list_select, message, row, text_select};
use arrakis_schemas::{
    ChannelKind, ChannelPlan,
    workflows::wizard::{
        WizardStatus, WizardStep,
        assets::{ChainOption, FoundAsset},
        form, picks,
    },
};
use twilight_model::{
    channel::message::component::{ButtonStyle, Component, SelectMenu, SelectMenuOption, SelectMenuType},
    http::interaction::InteractionResponseData,
};

/// The message for the session's current step (or its end).
pub fn prompt(status: &WizardStatus) -> InteractionResponseData {
    if status.expired {
        return ephemeral("This setup session expired after a long pause. Run `/arrakis setup` to start again.");
    }
    let step = status.step;
    let draft = &status.draft;
    let back = button(WizardAction::Back, "Back", ButtonStyle::Secondary);
    let fill = |label: &str| button(WizardAction::OpenForm(step), label, ButtonStyle::Primary);
    match step {
        WizardStep::Init => message(
            format!(
                "{}\n{}{}Name your community and choose its theme (tiers), mode and operator channel.\n{}{CURRENTLY}{}{SHOWN_SEP}theme {}{SHOWN_SEP}mode {}",
                step.heading(),
                status.incumbent.map_or_else(String::new, |bot| {
                    let name = bot.signature().name;
                    format!(
                        "**{name} runs in this server.** Shadow mode watches beside it and changes nothing in \
                         Discord until you migrate; parallel adds Arrakis's own arrakis-* roles beside {name}'s.\n"
                    )
                }),
                status.editing_version.map_or_else(String::new, |v| format!(
                    "Starting from the deployed version {v}: every step holds what is live; change what you need \
                     and deploy again.\n"
                )),
                reports_line(draft),
                draft.name.as_deref().unwrap_or(NOT_NAMED),
                draft.theme.as_str(),
                draft.mode.as_str(),
            ),
            vec![row(vec![
                fill("Name and theme"),
                button(WizardAction::Paste, "Paste a manifest", ButtonStyle::Secondary),
            ])],
        ),
        WizardStep::ChainSelect => {
            let options = chain_options(status)
                .into_iter()
                .map(|chain| SelectMenuOption {
                    default: draft.chains.contains(&chain.id),
                    description: Some(format!("chain id {}", chain.id)),
                    emoji: None,
                    label: chain.name,
                    value: chain.id.to_string(),
                })
                .collect::<Vec<_>>();
            let select = Component::SelectMenu(SelectMenu {
                channel_types: None,
                custom_id: WizardAction::Chains.custom_id(),
                default_values: None,
                disabled: false,
                id: None,
                kind: SelectMenuType::Text,
                max_values: Some(options.len() as u8),
                min_values: Some(1),
                options: Some(options),
                placeholder: Some("Chains your tokens live on".into()),
                required: None,
            });
            message(
                format!("{}\nWhich chains do your tokens and collections live on?", step.heading()),
                vec![row(vec![select]), row(vec![back])],
            )
        }
        WizardStep::AssetConfig => asset_prompt(status),
        WizardStep::EligibilityRules => rules_prompt(status),
        WizardStep::RoleMapping => roles_prompt(status),
        WizardStep::ChannelStructure => channels_prompt(status),
        WizardStep::Review => review::screen(status),
        WizardStep::Deploy => {
            let refresh = vec![row(vec![button(WizardAction::Refresh, "Refresh", ButtonStyle::Secondary)])];
            message(status.deploy_screen(), if status.deploy_finished() { Vec::new() } else { refresh })
        }
    }
}

/// What the chain select offers: the chains the worker reads, or (in a session begun before
/// the wizard asked, or on a worker that reads none) the well-known ones.
pub fn chain_options(status: &WizardStatus) -> Vec<ChainOption> {
    match &status.chains_offered {
        Some(offered) if !offered.is_empty() => offered.clone(),
        _ => form::CHAINS.iter().map(|(id, name)| ChainOption { id: *id, name: name.to_string() }).collect(),
    }
}

/// A chain's name as the chain select shows it.
pub(crate) fn chain_name(status: &WizardStatus, id: u64) -> String {
    chain_options(status).into_iter().find(|c| c.id == id).map_or_else(|| format!("chain {id}"), |c| c.name)
}

/// One asset in words: its key, kind, chain and address.
pub(crate) fn asset_line(status: &WizardStatus, asset: &arrakis_schemas::Asset) -> String {
    let found = FoundAsset {
        chain_id: asset.chain_id,
        address: asset.address.clone(),
        kind: asset.kind,
        name: None,
        symbol: Some(asset.key.clone()),
        decimals: asset.decimals,
        token_id: asset.token_id.clone(),
        decimals_assumed: false,
    };
    format!("- `{}`: {} on {}, `{}`", asset.key, found.describe(), chain_name(status, asset.chain_id), asset.address)
}

/// ASSET_CONFIG: the assets so far, and either the contract just looked up (Confirm /
/// Change) or the ways on (Add, Next, Edit as text, Back, and a select to remove one).
pub(crate) fn asset_prompt(status: &WizardStatus) -> InteractionResponseData {
    let step = WizardStep::AssetConfig;
    let draft = &status.draft;
    let asset = |action| WizardAction::Asset(action);
    let mut content = format!(
        "{}\nThe tokens and collections that gate your roles. Add each by its contract address: Arrakis reads \
         the chain and fills in the rest. An **ERC-20** is a token members hold an amount of (\"at least 100 SPICE\"); \
         an **ERC-721** or **ERC-1155** is an NFT collection (\"owns one\").\n",
        step.heading()
    );
    if draft.assets.is_empty() {
        content.push_str("_(nothing yet)_\n");
    }
    for a in &draft.assets {
        content.push_str(&asset_line(status, a));
        content.push('\n');
    }
    let back = button(WizardAction::Back, "Back", ButtonStyle::Secondary);
    if let Some(found) = &status.found_asset {
        content.push_str(&format!(
            "\nFound on {}: **{}** at `{}` — right?",
            chain_name(status, found.chain_id),
            found.describe(),
            found.address
        ));
        return message(
            content,
            vec![row(vec![
                button(asset(AssetAction::Confirm), "Confirm", ButtonStyle::Success),
                button(asset(AssetAction::Change), "Change", ButtonStyle::Secondary),
            ])],
        );
    }
    let mut rows = vec![row(vec![
        button(asset(AssetAction::Add), "Add a token or collection", ButtonStyle::Primary),
        button(asset(AssetAction::Next), "Next", ButtonStyle::Success),
        button(WizardAction::OpenForm(step), "Edit as text", ButtonStyle::Secondary),
        back,
    ])];
    if !draft.assets.is_empty() {
        let options = draft
            .assets
            .iter()
            .take(25)
            .map(|a| SelectMenuOption {
                default: false,
                description: Some(chain_name(status, a.chain_id)),
                emoji: None,
                label: a.key.clone(),
                value: a.key.clone(),
            })
            .collect();
        rows.push(row(vec![text_select(
            asset(AssetAction::Remove).custom_id(),
            Some("Remove an asset…".into()),
            options,
            1,
        )]));
    }
    message(content, rows)
}

/// ELIGIBILITY_RULES: the rules in words, and the pickers.
pub(crate) fn rules_prompt(status: &WizardStatus) -> InteractionResponseData {
    let step = WizardStep::EligibilityRules;
    let draft = &status.draft;
    let mut content = format!(
        "{}\nWho qualifies. Balances and NFTs are read from the chain; \"top holders\" is the Score Service's \
         ranking. Combine rules for \"this and that\".\n",
        step.heading()
    );
    if draft.rules.is_empty() {
        content.push_str("_(nothing yet)_\n");
    }
    for (key, condition) in &draft.rules {
        content.push_str(&format!("- `{key}`: {}\n", picks::describe(condition)));
    }
    let pick = |form, label: &str| button(WizardAction::OpenPick(form), label, ButtonStyle::Primary);
    let mut rows = vec![
        row(vec![
            pick(PickForm::Holds, "Holds at least…"),
            pick(PickForm::Owns, "Owns an NFT…"),
            pick(PickForm::Top, "Top holders…"),
            pick(PickForm::Combine, "Combine…"),
            button(WizardAction::OpenPick(PickForm::ChangeRule), "Edit…", ButtonStyle::Secondary),
        ]),
        row(vec![
            button(WizardAction::Next(step), "Next", ButtonStyle::Success),
            button(WizardAction::OpenForm(step), "Edit as text", ButtonStyle::Secondary),
            button(WizardAction::Back, "Back", ButtonStyle::Secondary),
        ]),
    ];
    if !draft.rules.is_empty() {
        let options = draft.rules.keys().map(|k| (k.clone(), k.clone())).collect();
        rows.push(row(vec![list_select(WizardAction::Remove(step).custom_id(), "Remove a rule…", options, 1)]));
    }
    message(content, rows)
}

/// ROLE_MAPPING: the roles and who gets them, and the pickers.
pub(crate) fn roles_prompt(status: &WizardStatus) -> InteractionResponseData {
    let step = WizardStep::RoleMapping;
    let draft = &status.draft;
    let tiers: Vec<&str> = draft.theme.spec().tiers.iter().map(|t| t.name).collect();
    let mut content = format!(
        "{}\nThe roles Arrakis creates and who gets them: members who meet a rule, or a tier of the {} theme \
         ({}), which follows the holders' ranking.\n",
        step.heading(),
        draft.theme.as_str(),
        tiers.join(", ")
    );
    if draft.roles.is_empty() {
        content.push_str("_(nothing yet)_\n");
    }
    for role in &draft.roles {
        content.push_str(&format!("- **{}**: {}\n", role.name, picks::describe_grant(draft.theme, draft, &role.grant)));
    }
    let mut rows = vec![
        row(vec![
            button(WizardAction::OpenPick(PickForm::Role), "Add a role…", ButtonStyle::Primary),
            button(WizardAction::ThemeTiers, &format!("Add the tiers ({})", tiers.len()), ButtonStyle::Primary),
            button(WizardAction::OpenPick(PickForm::ChangeRole), "Rename or recolour…", ButtonStyle::Secondary),
        ]),
        row(vec![
            button(WizardAction::Next(step), "Next", ButtonStyle::Success),
            button(WizardAction::OpenForm(step), "Edit as text", ButtonStyle::Secondary),
            button(WizardAction::Back, "Back", ButtonStyle::Secondary),
        ]),
    ];
    if !draft.roles.is_empty() {
        let options = draft.roles.iter().map(|r| (r.key.clone(), r.name.clone())).collect();
        rows.push(row(vec![list_select(WizardAction::Remove(step).custom_id(), "Remove a role…", options, 1)]));
    }
    message(content, rows)
}

/// The draft's categories and channels as the pickers offer them: (key, label).
pub(crate) fn channel_items(plan: &ChannelPlan) -> Vec<(String, String)> {
    let mut items = Vec::new();
    for category in &plan.categories {
        items.push((category.key.clone(), format!("Category: {}", category.name)));
        for channel in &category.channels {
            items.push((channel.key.clone(), format!("{} (in {})", channel_words(channel), category.name)));
        }
    }
    items
}

/// A channel in words: its kind and who sees it.
pub(crate) fn channel_words(channel: &arrakis_schemas::Channel) -> String {
    match channel.kind {
        ChannelKind::Text => format!("#{}", channel.name),
        ChannelKind::Voice => format!("voice: {}", channel.name),
        ChannelKind::Announcement => format!("announcements: #{}", channel.name),
    }
}

/// CHANNEL_STRUCTURE: the categories in words (who sees each), the theme's template, and
/// pickers to add, rename and remove items; Next submits what is shown.
pub(crate) fn channels_prompt(status: &WizardStatus) -> InteractionResponseData {
    let step = WizardStep::ChannelStructure;
    let draft = &status.draft;
    let mut content = format!(
        "{}\nCategories and channels, and which roles see them. The theme's template gives each role its own \
         category with a text and a voice channel; change any item, add your own, or edit it all as text \
         (`key | Category | role keys or everyone | channel, voice:channel`).\n",
        step.heading()
    );
    if draft.channels.categories.is_empty() {
        content.push_str("_(no channels yet)_\n");
    }
    let role_name = |key: &String| draft.roles.iter().find(|r| &r.key == key).map_or(key.clone(), |r| r.name.clone());
    for category in &draft.channels.categories {
        let seen = match category.visible_to.as_slice() {
            [] => "everyone".to_string(),
            keys => keys.iter().map(role_name).collect::<Vec<_>>().join(", "),
        };
        let channels: Vec<String> = category.channels.iter().map(channel_words).collect();
        let channels = if channels.is_empty() { "no channels yet".to_string() } else { channels.join(", ") };
        content.push_str(&format!("- **{}**, seen by {seen}: {channels}\n", category.name));
    }
    let has_items = !draft.channels.categories.is_empty();
    let pick = |form, label: &str| button(WizardAction::OpenPick(form), label, ButtonStyle::Primary);
    let template_style = if has_items { ButtonStyle::Secondary } else { ButtonStyle::Success };
    let mut edits = vec![pick(PickForm::Category, "Add a category…")];
    if has_items {
        edits.push(pick(PickForm::Channel, "Add a channel…"));
        edits.push(pick(PickForm::Rename, "Rename…"));
    }
    let mut rows = vec![
        row(vec![
            button(WizardAction::ChannelTemplate, "Use the theme's channels", template_style),
            button(WizardAction::NoChannels, "No channels", ButtonStyle::Secondary),
        ]),
        row(edits),
        row(vec![
            button(WizardAction::Next(step), "Next", ButtonStyle::Success),
            button(WizardAction::OpenForm(step), "Edit as text", ButtonStyle::Secondary),
            button(WizardAction::Back, "Back", ButtonStyle::Secondary),
        ]),
    ];
    if has_items {
        let select = list_select(
            WizardAction::Remove(step).custom_id(),
            "Remove a category or channel…",
            channel_items(&draft.channels),
            1,
        );
        rows.push(row(vec![select]));
    }
    message(content, rows)
}

/// The words a step message shows its draft under, which a form reads back to prefill itself.
pub(crate) const CURRENTLY: &str = "Currently: ";
/// Between the draft's fields on that line.
pub(crate) const SHOWN_SEP: &str = " · ";
/// What the line shows for a community not named yet.
pub(crate) const NOT_NAMED: &str = "_(not named yet)_";
