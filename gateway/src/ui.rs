//! How the wizard looks in Discord: each step as an ephemeral message with buttons or a
//! select, each form as a modal (text inputs and selects inside Labels, at most five), and the
//! parsing of what comes back. Presentation only: whether an answer is acceptable is decided by
//! the workflow's validator.

use arrakis_schemas::{
    ChannelKind, ChannelPlan, Mode, Snowflake, Theme, ValidationErrors,
    workflows::{
        migration,
        synthesis::RemovalChoice,
        wizard::{
            DeployPlan, StepAnswer, WizardDraft, WizardStatus, WizardStep,
            assets::{AssetEdit, ChainOption, FoundAsset},
            form,
            picks::{self, ChannelEdit, Combine, RoleEdit, RuleEdit, RulePick},
        },
    },
};
use std::collections::BTreeMap;
use twilight_model::{
    channel::message::{
        MessageFlags,
        component::{
            ActionRow, Button, ButtonStyle, Component, Label, SelectMenu, SelectMenuOption, SelectMenuType, TextInput,
            TextInputStyle,
        },
    },
    http::interaction::InteractionResponseData,
};

/// Custom-id prefix of every wizard component.
pub const PREFIX: &str = "wiz";
/// Discord's limit on a message's content.
const CONTENT_MAX: usize = 2_000;
/// Discord's limit on a text input's value.
const TEXT_INPUT_MAX: usize = 4_000;

/// What a wizard component or modal asks for, parsed from its custom id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WizardAction {
    /// Open the form of a step (a modal).
    OpenForm(WizardStep),
    /// A submitted form.
    SubmitForm(WizardStep),
    /// The chain select.
    Chains,
    /// Back to the previous step.
    Back,
    /// Confirm REVIEW: deploy, with the decision about what the version drops (if anything).
    Deploy(Option<RemovalChoice>),
    /// Show the current state again.
    Refresh,
    /// `/arrakis status`'s *Sync now*: trigger the guild's shadow sync.
    SyncShadow,
    /// ASSET_CONFIG by address.
    Asset(AssetAction),
    /// Open a picker form (a modal).
    OpenPick(PickForm),
    /// A submitted picker form.
    SubmitPick(PickForm),
    /// The remove select of a step's list (rules, roles).
    Remove(WizardStep),
    /// Done with a step edited in place: submit its list.
    Next(WizardStep),
    /// ROLE_MAPPING: a role per tier of the theme.
    ThemeTiers,
    /// CHANNEL_STRUCTURE: the theme's channel template, in place.
    ChannelTemplate,
    /// CHANNEL_STRUCTURE: no channels.
    NoChannels,
    /// INIT: open the "Paste a manifest" form (a modal).
    Paste,
    /// The submitted "Paste a manifest" form.
    Pasted,
}

/// The picker forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PickForm {
    /// "Holds at least [amount] [token]".
    Holds,
    /// "Owns [any / token id] of [collection]".
    Owns,
    /// "Is in the top [N] holders of [asset]".
    Top,
    /// All / any / at least N of rules.
    Combine,
    /// A "holds at least" rule's amount or token changed.
    ChangeRule,
    /// A role: name, granted by, colour.
    Role,
    /// A role renamed or recoloured.
    ChangeRole,
    /// A category: name, seen by which roles.
    Category,
    /// A channel: category, name, kind.
    Channel,
    /// A category or channel renamed.
    Rename,
}

impl PickForm {
    const ALL: [(PickForm, &'static str); 10] = [
        (Self::Holds, "holds"),
        (Self::Owns, "owns"),
        (Self::Top, "top"),
        (Self::Combine, "combine"),
        (Self::ChangeRule, "change-rule"),
        (Self::Role, "role"),
        (Self::ChangeRole, "change-role"),
        (Self::Category, "category"),
        (Self::Channel, "channel"),
        (Self::Rename, "rename"),
    ];

    /// What the form edits, for its refusals: "rule", "role" or "channels".
    pub fn edits(self) -> &'static str {
        match self {
            Self::Holds | Self::Owns | Self::Top | Self::Combine | Self::ChangeRule => "rule",
            Self::Role | Self::ChangeRole => "role",
            Self::Category | Self::Channel | Self::Rename => "channels",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, v)| *v == s).map(|(f, _)| *f)
    }

    fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(f, _)| *f == self).map_or("holds", |(_, v)| v)
    }
}

/// What an ASSET_CONFIG button, select or form asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetAction {
    /// Open the lookup form (chain, address).
    Add,
    /// The submitted lookup form.
    LookUp,
    /// The finding is right: add it.
    Confirm,
    /// The finding is wrong: the lookup form again, prefilled.
    Change,
    /// The remove select.
    Remove,
    /// Done with assets: on to the rules.
    Next,
}

impl AssetAction {
    const ALL: [(AssetAction, &'static str); 6] = [
        (Self::Add, "add"),
        (Self::LookUp, "lookup"),
        (Self::Confirm, "confirm"),
        (Self::Change, "change"),
        (Self::Remove, "remove"),
        (Self::Next, "next"),
    ];

    /// Whether its answer is a modal (so it is never deferred).
    pub fn opens_modal(self) -> bool {
        matches!(self, Self::Add | Self::Change)
    }
}

impl WizardAction {
    /// Parses `wiz:…` custom ids; `None` for anything else.
    pub fn parse(custom_id: &str) -> Option<Self> {
        let rest = custom_id.strip_prefix(PREFIX)?.strip_prefix(':')?;
        let (verb, arg) = rest.split_once(':').unwrap_or((rest, ""));
        Some(match verb {
            "open" => Self::OpenForm(WizardStep::parse(arg)?),
            "submit" => Self::SubmitForm(WizardStep::parse(arg)?),
            "chains" => Self::Chains,
            "back" => Self::Back,
            "deploy" => Self::Deploy(match arg {
                "" => None,
                "remove" => Some(RemovalChoice::Remove),
                "detach" => Some(RemovalChoice::Detach),
                _ => return None,
            }),
            "refresh" => Self::Refresh,
            "shadow-sync" => Self::SyncShadow,
            "asset" => Self::Asset(AssetAction::ALL.iter().find(|(_, v)| *v == arg)?.0),
            "pick" => Self::OpenPick(PickForm::parse(arg)?),
            "picked" => Self::SubmitPick(PickForm::parse(arg)?),
            "remove" => Self::Remove(WizardStep::parse(arg)?),
            "next" => Self::Next(WizardStep::parse(arg)?),
            "tiers" => Self::ThemeTiers,
            "template" => Self::ChannelTemplate,
            "nochannels" => Self::NoChannels,
            "paste" => Self::Paste,
            "pasted" => Self::Pasted,
            _ => return None,
        })
    }

    /// The custom id.
    pub fn custom_id(self) -> String {
        match self {
            Self::OpenForm(step) => format!("{PREFIX}:open:{}", step.as_str()),
            Self::SubmitForm(step) => format!("{PREFIX}:submit:{}", step.as_str()),
            Self::Chains => format!("{PREFIX}:chains"),
            Self::Back => format!("{PREFIX}:back"),
            Self::Deploy(None) => format!("{PREFIX}:deploy"),
            Self::Deploy(Some(RemovalChoice::Remove)) => format!("{PREFIX}:deploy:remove"),
            Self::Deploy(Some(_)) => format!("{PREFIX}:deploy:detach"),
            Self::Refresh => arrakis_schemas::workflows::wizard::REFRESH_BUTTON.to_string(),
            Self::SyncShadow => format!("{PREFIX}:shadow-sync"),
            Self::Asset(action) => {
                let verb = AssetAction::ALL.iter().find(|(a, _)| *a == action).map_or("add", |(_, v)| v);
                format!("{PREFIX}:asset:{verb}")
            }
            Self::OpenPick(form) => format!("{PREFIX}:pick:{}", form.as_str()),
            Self::SubmitPick(form) => format!("{PREFIX}:picked:{}", form.as_str()),
            Self::Remove(step) => format!("{PREFIX}:remove:{}", step.as_str()),
            Self::Next(step) => format!("{PREFIX}:next:{}", step.as_str()),
            Self::ThemeTiers => format!("{PREFIX}:tiers"),
            Self::ChannelTemplate => format!("{PREFIX}:template"),
            Self::NoChannels => format!("{PREFIX}:nochannels"),
            Self::Paste => format!("{PREFIX}:paste"),
            Self::Pasted => format!("{PREFIX}:pasted"),
        }
    }
}

pub(crate) fn button(action: WizardAction, label: &str, style: ButtonStyle) -> Component {
    button_with_id(action.custom_id(), label, style)
}

/// A button with its custom id.
pub(crate) fn button_with_id(custom_id: String, label: &str, style: ButtonStyle) -> Component {
    Component::Button(Button {
        custom_id: Some(custom_id),
        disabled: false,
        emoji: None,
        id: None,
        label: Some(label.to_string()),
        sku_id: None,
        style,
        url: None,
    })
}

pub(crate) fn row(components: Vec<Component>) -> Component {
    Component::ActionRow(ActionRow { components, id: None })
}

fn clip(text: String) -> String {
    if text.chars().count() <= CONTENT_MAX {
        return text;
    }
    let mut clipped: String = text.chars().take(CONTENT_MAX - 2).collect();
    clipped.push_str(" …");
    clipped
}

/// A message the bot posted, edited in place to say how the decision it asked for ended: its
/// text kept, the outcome added, its buttons gone (a decided message offers nothing to press).
pub(crate) fn decided(shown: &str, outcome: &str) -> InteractionResponseData {
    InteractionResponseData {
        content: Some(clip(format!("{shown}\n\n{outcome}"))),
        components: Some(Vec::new()),
        ..InteractionResponseData::default()
    }
}

/// An ephemeral message.
pub fn ephemeral(content: impl Into<String>) -> InteractionResponseData {
    InteractionResponseData {
        content: Some(clip(content.into())),
        flags: Some(MessageFlags::EPHEMERAL),
        ..InteractionResponseData::default()
    }
}

/// An ephemeral message with components.
pub(crate) fn message(content: String, components: Vec<Component>) -> InteractionResponseData {
    InteractionResponseData { components: Some(components), ..ephemeral(content) }
}

pub(crate) fn block(text: &str) -> String {
    if text.is_empty() { "_(nothing yet)_".into() } else { format!("```\n{text}\n```") }
}

fn plan_lines(plan: &DeployPlan) -> String {
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
                "{}\n{}Name your community and choose its theme (tiers), mode and operator channel.\n{}{CURRENTLY}{}{SHOWN_SEP}theme {}{SHOWN_SEP}mode {}",
                step.heading(),
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
        WizardStep::Review => {
            let plan = status.plan.as_ref().map_or_else(|| "The plan is not computed yet.".to_string(), plan_lines);
            let mut strategy =
                format!("Channels — {}\n", migration::strategy_creates(draft.channels.strategy, &draft.channels));
            if draft.mode == Mode::Parallel {
                strategy.push_str(
                    "Parallel mode: every role is named arrakis-…, carries no permissions and sits right below the \
                     incumbent's own role; the incumbent's roles are never touched.\n",
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
                        button(
                            WizardAction::Deploy(Some(RemovalChoice::Detach)),
                            "Deploy, keep them",
                            ButtonStyle::Success,
                        ),
                        button(
                            WizardAction::Deploy(Some(RemovalChoice::Remove)),
                            "Deploy, delete them",
                            ButtonStyle::Danger,
                        ),
                        back,
                    ],
                })],
            )
        }
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

fn chain_name(status: &WizardStatus, id: u64) -> String {
    chain_options(status).into_iter().find(|c| c.id == id).map_or_else(|| format!("chain {id}"), |c| c.name)
}

fn asset_line(status: &WizardStatus, asset: &arrakis_schemas::Asset) -> String {
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
fn asset_prompt(status: &WizardStatus) -> InteractionResponseData {
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
        rows.push(row(vec![Component::SelectMenu(SelectMenu {
            channel_types: None,
            custom_id: asset(AssetAction::Remove).custom_id(),
            default_values: None,
            disabled: false,
            id: None,
            kind: SelectMenuType::Text,
            max_values: Some(1),
            min_values: Some(1),
            options: Some(options),
            placeholder: Some("Remove an asset…".into()),
            required: None,
        })]));
    }
    message(content, rows)
}

/// A string select of (value, label) options, `custom_id`, up to `max` picked.
fn list_select(custom_id: String, placeholder: &str, options: Vec<(String, String)>, max: u8) -> Component {
    Component::SelectMenu(SelectMenu {
        channel_types: None,
        custom_id,
        default_values: None,
        disabled: false,
        id: None,
        kind: SelectMenuType::Text,
        max_values: Some(max.max(1)),
        min_values: Some(1),
        options: Some(
            options
                .into_iter()
                .take(25)
                .map(|(value, label)| SelectMenuOption {
                    default: false,
                    description: None,
                    emoji: None,
                    label: label.chars().take(100).collect(),
                    value,
                })
                .collect(),
        ),
        placeholder: Some(placeholder.into()),
        required: None,
    })
}

/// ELIGIBILITY_RULES: the rules in words, and the pickers.
fn rules_prompt(status: &WizardStatus) -> InteractionResponseData {
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
fn roles_prompt(status: &WizardStatus) -> InteractionResponseData {
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
fn channel_items(plan: &ChannelPlan) -> Vec<(String, String)> {
    let mut items = Vec::new();
    for category in &plan.categories {
        items.push((category.key.clone(), format!("Category: {}", category.name)));
        for channel in &category.channels {
            items.push((channel.key.clone(), format!("{} (in {})", channel_words(channel), category.name)));
        }
    }
    items
}

fn channel_words(channel: &arrakis_schemas::Channel) -> String {
    match channel.kind {
        ChannelKind::Text => format!("#{}", channel.name),
        ChannelKind::Voice => format!("voice: {}", channel.name),
        ChannelKind::Announcement => format!("announcements: #{}", channel.name),
    }
}

/// CHANNEL_STRUCTURE: the categories in words (who sees each), the theme's template, and
/// pickers to add, rename and remove items; Next submits what is shown.
fn channels_prompt(status: &WizardStatus) -> InteractionResponseData {
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

/// A select the form may leave empty.
fn optional(select: Component) -> Box<Component> {
    let Component::SelectMenu(mut menu) = select else { return Box::new(select) };
    menu.min_values = Some(0);
    menu.required = Some(false);
    Box::new(Component::SelectMenu(menu))
}

/// A picker's modal, or why it cannot open yet (no asset of the kind it needs, no rule).
pub fn pick_modal(form: PickForm, status: &WizardStatus) -> Result<InteractionResponseData, String> {
    let d = &status.draft;
    let assets = |kinds: &[arrakis_schemas::AssetKind]| -> Vec<(String, String)> {
        d.assets.iter().filter(|a| kinds.contains(&a.kind)).map(|a| (a.key.clone(), a.key.clone())).collect()
    };
    use arrakis_schemas::AssetKind::{Erc20, Erc721, Erc1155};
    let short =
        |id: &str, required: bool, hint: &str| text_input(id, TextInputStyle::Short, String::new(), required, hint);
    let select = |id: &str, options: Vec<(String, String)>, max: u8| {
        Box::new(list_select(id.to_string(), "Choose", options, max))
    };
    let name = || label("Rule name (optional)", short("key", false, "made from your choices"));
    let (title, components) = match form {
        PickForm::Holds => {
            let tokens = assets(&[Erc20, Erc1155]);
            if tokens.is_empty() {
                return Err("Add a token (ERC-20 or ERC-1155) at the assets step first.".into());
            }
            (
                "Holds at least",
                vec![
                    label("Token", select("asset", tokens, 1)),
                    label("Amount, as wallets show it", short("amount", true, "100 or 1.5")),
                    name(),
                ],
            )
        }
        PickForm::Owns => {
            let collections = assets(&[Erc721, Erc1155]);
            if collections.is_empty() {
                return Err("Add a collection (ERC-721 or ERC-1155) at the assets step first.".into());
            }
            (
                "Owns an NFT",
                vec![
                    label("Collection", select("asset", collections, 1)),
                    label("One token id only (optional)", short("token_id", false, "any token of it")),
                    name(),
                ],
            )
        }
        PickForm::Top => {
            let all = assets(&[Erc20, Erc721, Erc1155]);
            if all.is_empty() {
                return Err("Add a token or collection at the assets step first.".into());
            }
            (
                "Top holders",
                vec![
                    label("Of", select("asset", all, 1)),
                    label("How many top holders", short("n", true, "10")),
                    name(),
                ],
            )
        }
        PickForm::Combine => {
            if d.rules.is_empty() {
                return Err("Add a rule first: combining needs rules to combine.".into());
            }
            let rules: Vec<(String, String)> = d.rules.keys().map(|k| (k.clone(), k.clone())).collect();
            let most = rules.len().min(25) as u8;
            let how = vec![
                ("any".to_string(), "Any of them".to_string()),
                ("all".to_string(), "All of them".to_string()),
                ("at_least".to_string(), "At least N of them".to_string()),
            ];
            (
                "Combine rules",
                vec![
                    label("Rules", select("of", rules, most)),
                    label("Members must meet", select("how", how, 1)),
                    label("N (for at least N)", short("n", false, "2")),
                    name(),
                ],
            )
        }
        PickForm::ChangeRule => {
            let holding: Vec<(String, String)> = d
                .rules
                .iter()
                .filter(|(_, c)| matches!(c, arrakis_schemas::Condition::MinBalance { .. }))
                .map(|(k, c)| (k.clone(), format!("{k}: {}", picks::describe(c))))
                .collect();
            if holding.is_empty() {
                return Err("Add a \"Holds at least\" rule first: Edit… changes its amount or token.".into());
            }
            let tokens = assets(&[Erc20, Erc1155]);
            (
                "Edit a rule",
                vec![
                    label("Rule", select("key", holding, 1)),
                    label("Token", select("asset", tokens, 1)),
                    label("New amount, as wallets show it", short("amount", true, "150")),
                ],
            )
        }
        PickForm::Role => {
            let mut grants: Vec<(String, String)> =
                d.rules.iter().map(|(k, c)| (format!("rule:{k}"), format!("{k}: {}", picks::describe(c)))).collect();
            grants
                .extend(d.theme.spec().tiers.iter().map(|t| (format!("tier:{}", t.key), format!("Tier: {}", t.name))));
            let colours = picks::COLOURS.iter().map(|(n, c)| (c.to_string(), n.to_string())).collect();
            (
                "Add a role",
                vec![
                    label("Role name", short("name", true, "Spice Holder")),
                    label("Granted to", select("grant", grants, 1)),
                    label("Colour", select("color", colours, 1)),
                ],
            )
        }
        PickForm::ChangeRole => {
            if d.roles.is_empty() {
                return Err("Add a role first.".into());
            }
            let roles = d.roles.iter().map(|r| (r.key.clone(), r.name.clone())).collect();
            let colours = picks::COLOURS.iter().map(|(n, c)| (c.to_string(), n.to_string())).collect();
            (
                "Rename or recolour a role",
                vec![
                    label("Role", select("key", roles, 1)),
                    label("New name (optional)", short("name", false, "keeps its name")),
                    label("New colour (optional)", optional(list_select("color".into(), "Keep", colours, 1))),
                ],
            )
        }
        PickForm::Category => {
            let mut fields = vec![label("Category name", short("name", true, "Holders' Hall"))];
            if !d.roles.is_empty() {
                let roles: Vec<(String, String)> = d.roles.iter().map(|r| (r.key.clone(), r.name.clone())).collect();
                let most = roles.len().min(25) as u8;
                let seen = optional(list_select("visible_to".into(), "Everyone", roles, most));
                fields.push(label("Seen by (none picked: everyone)", seen));
            }
            ("Add a category", fields)
        }
        PickForm::Channel => {
            let categories: Vec<(String, String)> =
                d.channels.categories.iter().map(|c| (c.key.clone(), c.name.clone())).collect();
            if categories.is_empty() {
                return Err("Add a category first, or use the theme's channels.".into());
            }
            let kinds = [("text", "Text"), ("voice", "Voice"), ("announcement", "Announcements")]
                .map(|(v, l)| (v.to_string(), l.to_string()))
                .to_vec();
            (
                "Add a channel",
                vec![
                    label("In category", select("category", categories, 1)),
                    label("Channel name", short("name", true, "general")),
                    label("Kind", select("kind", kinds, 1)),
                ],
            )
        }
        PickForm::Rename => {
            let items = channel_items(&d.channels);
            if items.is_empty() {
                return Err("There is no category or channel to rename yet.".into());
            }
            (
                "Rename",
                vec![label("Category or channel", select("key", items, 1)), label("New name", short("name", true, ""))],
            )
        }
    };
    Ok(InteractionResponseData {
        custom_id: Some(WizardAction::SubmitPick(form).custom_id()),
        title: Some(title.into()),
        components: Some(components),
        ..InteractionResponseData::default()
    })
}

/// What a submitted picker form asks: a rule or a role edit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Picked {
    /// ELIGIBILITY_RULES.
    Rule(RuleEdit),
    /// ROLE_MAPPING.
    Role(RoleEdit),
    /// CHANNEL_STRUCTURE.
    Channel(ChannelEdit),
}

/// Turns a submitted picker form into its edit (the workflow checks the rest).
pub fn parse_pick(form: PickForm, fields: &BTreeMap<String, String>) -> Result<Picked, ValidationErrors> {
    let field = |k: &str| fields.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let key = Some(field("key")).filter(|k| !k.is_empty());
    let rule = |pick| Ok(Picked::Rule(RuleEdit::Put { key: key.clone(), pick }));
    match form {
        PickForm::Holds => rule(RulePick::HoldsAtLeast { asset: field("asset"), amount: field("amount") }),
        PickForm::Owns => {
            rule(RulePick::Owns { asset: field("asset"), token_id: Some(field("token_id")).filter(|t| !t.is_empty()) })
        }
        PickForm::Top => rule(RulePick::TopHolders { asset: field("asset"), n: field("n") }),
        PickForm::ChangeRule => Ok(Picked::Rule(RuleEdit::Change {
            key: field("key"),
            pick: RulePick::HoldsAtLeast { asset: field("asset"), amount: field("amount") },
        })),
        PickForm::Combine => {
            let how = match field("how").as_str() {
                "all" => Combine::All,
                "at_least" => Combine::AtLeast,
                "" | "any" => Combine::Any,
                other => {
                    let mut e = ValidationErrors::default();
                    e.push("how", format!("'{other}' is not any, all or at_least"));
                    return Err(e);
                }
            };
            let of = field("of").split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_string).collect();
            rule(RulePick::Combine { how, n: Some(field("n")).filter(|n| !n.is_empty()), of })
        }
        PickForm::Role => {
            let color = field("color");
            let Ok(color) = (if color.is_empty() { Ok(0) } else { color.parse::<u32>() }) else {
                let mut e = ValidationErrors::default();
                e.push("color", format!("'{color}' is not a colour of the list"));
                return Err(e);
            };
            Ok(Picked::Role(RoleEdit::Put { name: field("name"), grant: field("grant"), color }))
        }
        PickForm::ChangeRole => {
            let color = field("color");
            let color = match color.as_str() {
                "" => None,
                c => Some(c.parse::<u32>().map_err(|_| {
                    let mut e = ValidationErrors::default();
                    e.push("color", format!("'{c}' is not a colour of the list"));
                    e
                })?),
            };
            Ok(Picked::Role(RoleEdit::Change { key: field("key"), name: field("name"), color }))
        }
        PickForm::Category => {
            let visible_to =
                field("visible_to").split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_string).collect();
            Ok(Picked::Channel(ChannelEdit::AddCategory { name: field("name"), visible_to }))
        }
        PickForm::Channel => {
            let kind = match field("kind").as_str() {
                "" | "text" => ChannelKind::Text,
                "voice" => ChannelKind::Voice,
                "announcement" => ChannelKind::Announcement,
                other => {
                    let mut e = ValidationErrors::default();
                    e.push("kind", format!("'{other}' is not text, voice or announcement"));
                    return Err(e);
                }
            };
            Ok(Picked::Channel(ChannelEdit::AddChannel { category: field("category"), name: field("name"), kind }))
        }
        PickForm::Rename => Ok(Picked::Channel(ChannelEdit::Rename { key: field("key"), name: field("name") })),
    }
}

/// The lookup form: one of the draft's chains, the address, and (ERC-1155) a token id;
/// prefilled with `typed` (Change, Try again).
pub fn asset_modal(status: &WizardStatus, typed: &BTreeMap<String, String>) -> InteractionResponseData {
    let chains: Vec<ChainOption> =
        status.draft.chains.iter().map(|id| ChainOption { id: *id, name: chain_name(status, *id) }).collect();
    let chosen = typed.get("chain_id").cloned().unwrap_or_default();
    let options: Vec<(String, String, bool)> = chains
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.to_string(), c.name.clone(), c.id.to_string() == chosen || (chosen.is_empty() && i == 0)))
        .collect();
    let options: Vec<(&str, &str, bool)> = options.iter().map(|(v, t, d)| (v.as_str(), t.as_str(), *d)).collect();
    let typed_value = |k: &str| typed.get(k).cloned().unwrap_or_default();
    InteractionResponseData {
        custom_id: Some(WizardAction::Asset(AssetAction::LookUp).custom_id()),
        title: Some("Add a token or collection".into()),
        components: Some(vec![
            label("Chain", choice("chain_id", &options)),
            label(
                "Contract address",
                text_input(
                    "address",
                    TextInputStyle::Short,
                    typed_value("address"),
                    true,
                    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                ),
            ),
            label(
                "Token id (ERC-1155 only)",
                text_input("token_id", TextInputStyle::Short, typed_value("token_id"), false, "7"),
            ),
        ]),
        ..InteractionResponseData::default()
    }
}

/// "Paste a manifest": one field for a whole manifest, YAML or JSON, prefilled with what was
/// pasted before (a "Try again").
pub fn paste_modal(typed: &BTreeMap<String, String>) -> InteractionResponseData {
    let pasted = typed.get("manifest").cloned().unwrap_or_default();
    InteractionResponseData {
        custom_id: Some(WizardAction::Pasted.custom_id()),
        title: Some("Paste a manifest".into()),
        components: Some(vec![Component::Label(Label {
            component: text_input(
                "manifest",
                TextInputStyle::Paragraph,
                pasted,
                true,
                "name: Sietch Tabr\ntheme: basic\n…",
            ),
            description: Some("The fields of schemas/json/community-manifest.json; guild_id may be left out".into()),
            id: None,
            label: "Manifest (YAML or JSON)".into(),
        })]),
        ..InteractionResponseData::default()
    }
}

/// The lookup form's fields as the `asset` update's edit (the workflow checks the rest).
pub fn parse_asset_form(fields: &BTreeMap<String, String>) -> Result<AssetEdit, ValidationErrors> {
    let field = |k: &str| fields.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let chain = field("chain_id");
    let Ok(chain_id) = chain.parse() else {
        let mut e = ValidationErrors::default();
        e.push("chain_id", format!("'{chain}' is not a chain id: choose one of the list"));
        return Err(e);
    };
    let token_id = Some(field("token_id")).filter(|t| !t.is_empty());
    Ok(AssetEdit::LookUp { chain_id, address: field("address"), token_id })
}

/// The finding's fields, to reopen the lookup form prefilled (Change).
pub fn found_fields(found: &FoundAsset) -> BTreeMap<String, String> {
    let mut typed = BTreeMap::from([
        ("chain_id".to_string(), found.chain_id.to_string()),
        ("address".to_string(), found.address.clone()),
    ]);
    if let Some(t) = &found.token_id {
        typed.insert("token_id".into(), t.clone());
    }
    typed
}

// `TextInput::label` is deprecated (the Label carries it) but still a field of the struct.
#[allow(deprecated)]
pub(crate) fn text_input(
    custom_id: &str,
    style: TextInputStyle,
    value: String,
    required: bool,
    placeholder: &str,
) -> Box<Component> {
    let value: String = value.chars().take(TEXT_INPUT_MAX).collect();
    Box::new(Component::TextInput(TextInput {
        custom_id: custom_id.to_string(),
        id: None,
        label: None,
        max_length: Some(if style == TextInputStyle::Short { 100 } else { TEXT_INPUT_MAX as u16 }),
        min_length: None,
        placeholder: Some(placeholder.to_string()),
        required: Some(required),
        style,
        value: (!value.is_empty()).then_some(value),
    }))
}

pub(crate) fn label(text: &str, component: Box<Component>) -> Component {
    Component::Label(Label { component, description: None, id: None, label: text.to_string() })
}

/// A text-channel select for the operator channel, defaulting to the chosen one.
fn operator_channel_select(chosen: Option<Snowflake>) -> Box<Component> {
    use twilight_model::{
        channel::{ChannelType, message::component::SelectDefaultValue},
        id::Id,
    };
    Box::new(Component::SelectMenu(SelectMenu {
        channel_types: Some(vec![ChannelType::GuildText]),
        custom_id: "operator_channel".into(),
        default_values: chosen.and_then(|c| Id::new_checked(c.get())).map(|id| vec![SelectDefaultValue::Channel(id)]),
        disabled: false,
        id: None,
        kind: SelectMenuType::Channel,
        max_values: Some(1),
        min_values: Some(0),
        options: None,
        placeholder: Some("The channel you ran /arrakis setup in".into()),
        required: Some(false),
    }))
}

/// Where reports go, in words.
fn reports_line(draft: &WizardDraft) -> String {
    match draft.operator_channel_id {
        Some(id) => format!("Deploy progress and drift reports go to <#{id}>.\n"),
        None => "Deploy progress and drift reports go to the channel you ran `/arrakis setup` in.\n".into(),
    }
}

pub(crate) fn choice(custom_id: &str, options: &[(&str, &str, bool)]) -> Box<Component> {
    Box::new(Component::SelectMenu(SelectMenu {
        channel_types: None,
        custom_id: custom_id.to_string(),
        default_values: None,
        disabled: false,
        id: None,
        kind: SelectMenuType::Text,
        max_values: Some(1),
        min_values: Some(1),
        options: Some(
            options
                .iter()
                .map(|(value, text, default)| SelectMenuOption {
                    default: *default,
                    description: None,
                    emoji: None,
                    label: text.to_string(),
                    value: value.to_string(),
                })
                .collect(),
        ),
        placeholder: None,
        required: None,
    }))
}

/// The modal of a form step, prefilled with the saved answer; `None` for steps without one.
pub fn modal(step: WizardStep, status: &WizardStatus) -> Option<InteractionResponseData> {
    let d = &status.draft;
    let paragraph = |id: &str, value: String, required: bool, hint: &str| {
        text_input(id, TextInputStyle::Paragraph, value, required, hint)
    };
    let components = match step {
        WizardStep::Init => vec![
            label(
                "Community name",
                text_input("name", TextInputStyle::Short, d.name.clone().unwrap_or_default(), true, "Sietch Tabr"),
            ),
            label(
                "Theme (tier names)",
                choice(
                    "theme",
                    &[
                        ("basic", "Basic: Gold, Silver, Bronze", d.theme == Theme::Basic),
                        ("sietch", "Sietch: Naib … Hajra", d.theme == Theme::Sietch),
                    ],
                ),
            ),
            label(
                "Mode",
                choice(
                    "mode",
                    &[
                        ("exclusive", "Arrakis alone", !matches!(d.mode, Mode::Parallel | Mode::Shadow)),
                        ("parallel", "Beside another bot, with its own roles", d.mode == Mode::Parallel),
                        ("shadow", "Watch beside your bot, change nothing", d.mode == Mode::Shadow),
                    ],
                ),
            ),
            label("Progress and drift reports go to", operator_channel_select(d.operator_channel_id)),
        ],
        WizardStep::AssetConfig => vec![label(
            "Assets, one per line",
            paragraph("assets", form::render_assets(&d.assets), true, "spice erc20 1 0x5aAe…eAed decimals=18"),
        )],
        WizardStep::EligibilityRules => vec![label(
            "Rules, one per line",
            paragraph("rules", form::render_rules(&d.rules), true, "holder = balance(spice) >= 100"),
        )],
        WizardStep::RoleMapping => {
            let value = if d.roles.is_empty() { form::suggest_roles(&d.rules) } else { form::render_roles(&d.roles) };
            vec![label("Roles, one per line", paragraph("roles", value, true, "holder | Holder | rule:holder"))]
        }
        WizardStep::ChannelStructure => vec![label(
            "Categories, one per line",
            paragraph("channels", form::render_channels(&d.channels), false, "holders | Holders | holder | general"),
        )],
        _ => return None,
    };
    Some(InteractionResponseData {
        custom_id: Some(WizardAction::SubmitForm(step).custom_id()),
        title: Some(format!("{} ({}/8)", step.title(), step.index() + 1)),
        components: Some(components),
        ..InteractionResponseData::default()
    })
}

const CURRENTLY: &str = "Currently: ";
const SHOWN_SEP: &str = " · ";
const NOT_NAMED: &str = "_(not named yet)_";

/// The draft a prompt message shows, for a modal opened from it: `None` when the message
/// does not show all the modal needs (a block clipped at Discord's 2,000 characters, roles
/// still to be suggested from the rules), and the modal is then built from a status query.
fn draft_shown(step: WizardStep, content: &str) -> Option<WizardDraft> {
    let mut draft = WizardDraft::new();
    let block = || {
        if content.contains("_(nothing yet)_") {
            return Some(String::new());
        }
        let (_, after) = content.split_once("```\n")?;
        let (inside, _) = after.rsplit_once("\n```")?;
        Some(inside.to_string())
    };
    match step {
        WizardStep::Init => {
            let line = content.lines().find_map(|l| l.strip_prefix(CURRENTLY))?;
            let mut parts = line.rsplitn(3, SHOWN_SEP);
            let mode = Mode::parse(parts.next()?.strip_prefix("mode ")?)?;
            let theme = Theme::parse(parts.next()?.strip_prefix("theme ")?)?;
            let name = parts.next()?;
            draft.name = (name != NOT_NAMED).then(|| name.to_string());
            draft.theme = theme;
            draft.mode = mode;
        }
        WizardStep::AssetConfig => draft.assets = form::parse_assets(&block()?).ok()?,
        WizardStep::EligibilityRules => draft.rules = form::parse_rules(&block()?).ok()?,
        WizardStep::RoleMapping => {
            draft.roles = form::parse_roles(&block()?).ok()?;
            if draft.roles.is_empty() {
                return None;
            }
        }
        WizardStep::ChannelStructure => draft.channels = form::parse_channels(&block()?).ok()?,
        _ => return None,
    }
    Some(draft)
}

/// The step's modal, prefilled from the prompt message its button sits on, so the button is
/// answered with the modal at once; `None` when the message does not show enough.
pub fn modal_from_prompt(step: WizardStep, content: &str) -> Option<InteractionResponseData> {
    let status = WizardStatus { step, draft: draft_shown(step, content)?, ..WizardStatus::default() };
    modal(step, &status)
}

/// Turns a submitted form's fields (custom id → value) into the step's answer.
pub fn parse_form(step: WizardStep, fields: &BTreeMap<String, String>) -> Result<StepAnswer, ValidationErrors> {
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let mut errors = ValidationErrors::default();
    let answer = match step {
        WizardStep::Init => {
            let theme = match field("theme").as_str() {
                "" | "basic" => Theme::Basic,
                "sietch" => Theme::Sietch,
                other => {
                    errors.push("theme", format!("'{other}' is not basic or sietch"));
                    Theme::Basic
                }
            };
            let mode = match field("mode").as_str() {
                "" | "exclusive" => Mode::Exclusive,
                "parallel" => Mode::Parallel,
                "shadow" => Mode::Shadow,
                other => {
                    errors.push("mode", format!("'{other}' is not exclusive, parallel or shadow"));
                    Mode::Exclusive
                }
            };
            let channel = field("operator_channel");
            let operator_channel_id = match channel.split(',').next().unwrap_or_default().trim() {
                "" => None,
                id => match id.parse::<u64>().map_err(|e| e.to_string()).and_then(Snowflake::new) {
                    Ok(id) => Some(id),
                    Err(_) => {
                        errors.push("operator_channel", format!("'{id}' is not a channel"));
                        None
                    }
                },
            };
            StepAnswer::Init { name: field("name").trim().to_string(), theme, mode, operator_channel_id }
        }
        WizardStep::AssetConfig => StepAnswer::AssetConfig { assets: form::parse_assets(&field("assets"))? },
        WizardStep::EligibilityRules => StepAnswer::EligibilityRules { rules: form::parse_rules(&field("rules"))? },
        WizardStep::RoleMapping => StepAnswer::RoleMapping { roles: form::parse_roles(&field("roles"))? },
        WizardStep::ChannelStructure => {
            StepAnswer::ChannelStructure { channels: form::parse_channels(&field("channels"))? }
        }
        other => {
            errors.push("step", format!("{} has no form", other.as_str()));
            return Err(errors);
        }
    };
    errors.into_result().map(|()| answer)
}

/// The refusal shown for bad input: what is wrong, what was typed (so nothing is lost), and a
/// way back to the form, which opens prefilled with what was typed.
pub fn rejected(step: WizardStep, why: &str, typed: &BTreeMap<String, String>) -> InteractionResponseData {
    rejected_with(WizardAction::OpenForm(step), &step.title().to_lowercase(), why, typed)
}

/// [`rejected`] for any form: `retry` is the button that opens it again.
pub fn rejected_with(
    retry: WizardAction,
    what: &str,
    why: &str,
    typed: &BTreeMap<String, String>,
) -> InteractionResponseData {
    let mut content = format!("{REJECTED}{what} answer was not accepted:**\n{why}\n");
    let typed: Vec<(&String, &String)> = typed.iter().filter(|(_, v)| !v.trim().is_empty()).collect();
    if !typed.is_empty() {
        content.push_str("You wrote:\n");
        for (field, value) in typed {
            content.push_str(&format!("`{field}`\n{}\n", block(value)));
        }
    }
    message(content, vec![row(vec![button(retry, "Try again", ButtonStyle::Primary)])])
}

const REJECTED: &str = "**That ";

/// What a refusal message shows was typed, by field: "Try again" opens the form with it.
/// Empty for any other message (or one clipped at Discord's limit).
pub fn typed_in_rejection(content: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if !content.starts_with(REJECTED) {
        return out;
    }
    let Some((_, shown)) = content.split_once("\nYou wrote:\n") else { return out };
    let mut rest = shown;
    while let Some((field, after)) = rest.split_once("`\n```\n") {
        let field = field.trim_start().trim_start_matches('`');
        let Some((value, next)) = after.split_once("\n```\n") else { break };
        out.insert(field.to_string(), value.to_string());
        rest = next;
    }
    out
}

/// Sets the modal's inputs to `typed` (by custom id): text inputs take the value, selects
/// the option.
pub fn prefill(modal: &mut InteractionResponseData, typed: &BTreeMap<String, String>) {
    for component in modal.components.iter_mut().flatten() {
        let Component::Label(label) = component else { continue };
        match label.component.as_mut() {
            Component::TextInput(input) => {
                if let Some(value) = typed.get(&input.custom_id) {
                    input.value = Some(value.chars().take(TEXT_INPUT_MAX).collect());
                }
            }
            Component::SelectMenu(select) => {
                if let Some(value) = typed.get(&select.custom_id) {
                    for option in select.options.iter_mut().flatten() {
                        option.default = &option.value == value;
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_round_trip() {
        for action in [
            WizardAction::OpenForm(WizardStep::RoleMapping),
            WizardAction::SubmitForm(WizardStep::Init),
            WizardAction::Chains,
            WizardAction::Back,
            WizardAction::Deploy(None),
            WizardAction::Deploy(Some(RemovalChoice::Remove)),
            WizardAction::Deploy(Some(RemovalChoice::Detach)),
            WizardAction::Refresh,
            WizardAction::SyncShadow,
            WizardAction::ThemeTiers,
            WizardAction::ChannelTemplate,
            WizardAction::NoChannels,
            WizardAction::Paste,
            WizardAction::Pasted,
            WizardAction::Remove(WizardStep::RoleMapping),
            WizardAction::Next(WizardStep::EligibilityRules),
        ]
        .into_iter()
        .chain(AssetAction::ALL.map(|(a, _)| WizardAction::Asset(a)))
        .chain(PickForm::ALL.map(|(f, _)| WizardAction::OpenPick(f)))
        .chain(PickForm::ALL.map(|(f, _)| WizardAction::SubmitPick(f)))
        {
            assert_eq!(WizardAction::parse(&action.custom_id()), Some(action));
        }
        assert_eq!(WizardAction::parse("wiz:pick:nope"), None);
        assert_eq!(WizardAction::parse("wiz:open:NOPE"), None);
        assert_eq!(WizardAction::parse("wiz:deploy:later"), None);
        assert_eq!(WizardAction::parse("other:open:INIT"), None);
    }

    #[test]
    fn every_form_step_has_a_modal_of_at_most_five_labels() {
        let status = WizardStatus::default();
        for step in WizardStep::ALL {
            match modal(step, &status) {
                Some(m) => {
                    let components = m.components.expect("components");
                    assert!((1..=5).contains(&components.len()));
                    assert!(components.iter().all(|c| matches!(c, Component::Label(_))));
                    assert!(m.title.expect("title").chars().count() <= 45);
                }
                None => assert!(matches!(step, WizardStep::ChainSelect | WizardStep::Review | WizardStep::Deploy)),
            }
        }
    }

    #[test]
    fn every_picker_is_a_modal_of_at_most_five_labels_and_its_fields_parse() {
        use arrakis_schemas::{Asset, AssetKind};
        let mut status = WizardStatus { step: WizardStep::EligibilityRules, ..WizardStatus::default() };
        let always = [PickForm::Role, PickForm::Category];
        for form in PickForm::ALL.map(|(f, _)| f).into_iter().filter(|f| !always.contains(f)) {
            assert!(pick_modal(form, &status).is_err(), "{form:?} needs an asset, rule, role or category first");
        }
        status.draft.assets = [("spice", AssetKind::Erc20), ("worm", AssetKind::Erc721)]
            .map(|(key, kind)| Asset {
                key: key.into(),
                chain_id: 1,
                kind,
                address: String::new(),
                token_id: None,
                decimals: None,
            })
            .to_vec();
        status.draft.rules.insert("a".into(), arrakis_schemas::Condition::Rule("b".into()));
        status.draft.rules.insert(
            "rich".into(),
            arrakis_schemas::Condition::MinBalance { asset: "spice".into(), amount: "100".into() },
        );
        status.draft.roles = RoleEdit::ThemeTiers.roles(&status.draft).expect("tiers");
        status.draft.channels = picks::channel_template(&status.draft);
        for (form, _) in PickForm::ALL {
            let m = pick_modal(form, &status).expect("opens");
            let components = m.components.expect("components");
            assert!((1..=5).contains(&components.len()), "{form:?}");
            assert!(components.iter().all(|c| matches!(c, Component::Label(_))));
            assert!(m.title.expect("title").chars().count() <= 45);
            assert_eq!(m.custom_id, Some(WizardAction::SubmitPick(form).custom_id()));
        }
        let fields = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let combine = parse_pick(PickForm::Combine, &fields(&[("of", "a,b"), ("how", "at_least"), ("n", "2")]));
        assert_eq!(
            combine.expect("parses"),
            Picked::Rule(RuleEdit::Put {
                key: None,
                pick: RulePick::Combine {
                    how: Combine::AtLeast,
                    n: Some("2".into()),
                    of: vec!["a".into(), "b".into()]
                }
            })
        );
        assert!(parse_pick(PickForm::Combine, &fields(&[("how", "most")])).expect_err("how").has("how"));
        assert!(parse_pick(PickForm::Role, &fields(&[("color", "red")])).expect_err("colour").has("color"));
        assert_eq!(
            parse_pick(PickForm::ChangeRule, &fields(&[("key", "rich"), ("asset", "spice"), ("amount", " 150 ")]))
                .expect("edit"),
            Picked::Rule(RuleEdit::Change {
                key: "rich".into(),
                pick: RulePick::HoldsAtLeast { asset: "spice".into(), amount: "150".into() }
            })
        );
        assert_eq!(
            parse_pick(PickForm::ChangeRole, &fields(&[("key", "gold"), ("name", ""), ("color", "")])).expect("keeps"),
            Picked::Role(RoleEdit::Change { key: "gold".into(), name: String::new(), color: None })
        );
        assert_eq!(
            parse_pick(PickForm::Category, &fields(&[("name", "Hall"), ("visible_to", "gold, silver")])).expect("ok"),
            Picked::Channel(ChannelEdit::AddCategory {
                name: "Hall".into(),
                visible_to: vec!["gold".into(), "silver".into()]
            })
        );
        assert_eq!(
            parse_pick(PickForm::Channel, &fields(&[("category", "hall"), ("name", "Stage"), ("kind", "voice")]))
                .expect("ok"),
            Picked::Channel(ChannelEdit::AddChannel {
                category: "hall".into(),
                name: "Stage".into(),
                kind: ChannelKind::Voice
            })
        );
        assert!(parse_pick(PickForm::Channel, &fields(&[("kind", "forum")])).expect_err("kind").has("kind"));
    }

    #[test]
    fn try_again_gets_back_what_was_typed() {
        let typed: BTreeMap<String, String> =
            [("address", "0x1234"), ("token_id", ""), ("roles", "a | A | rule:x\nb | B | tier:gold")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into();
        let refusal = rejected(WizardStep::RoleMapping, "roles[0].grant.rule: no rule", &typed);
        let shown = typed_in_rejection(refusal.content.as_deref().expect("content"));
        let expected: BTreeMap<String, String> = typed.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        assert_eq!(shown, expected);
        assert!(typed_in_rejection("**Arrakis setup — step 5/8**").is_empty());
        let mut form = modal(WizardStep::RoleMapping, &WizardStatus::default()).expect("roles form");
        prefill(&mut form, &shown);
        assert!(format!("{form:?}").contains("tier:gold"));
    }

    #[test]
    fn a_modal_opened_from_its_prompt_is_the_one_the_status_would_give() {
        let manifest: arrakis_schemas::CommunityManifest =
            serde_json::from_str(include_str!("../../schemas/examples/sietch-tabr.json"))
                .expect("the example manifest");
        let mut status = WizardStatus::default();
        status.draft.name = Some("Sietch · Tabr".into());
        status.draft.theme = Theme::Sietch;
        status.draft.mode = Mode::Parallel;
        status.draft.chains = manifest.chains.clone();
        status.draft.assets = manifest.assets.clone();
        status.draft.rules = manifest.rules.clone();
        status.draft.roles = manifest.roles.clone();
        status.draft.channels = manifest.channels.clone();
        let step = WizardStep::Init;
        status.step = step;
        let shown = prompt(&status).content.expect("content");
        let from_prompt = modal_from_prompt(step, &shown).unwrap_or_else(|| panic!("{step:?}: {shown}"));
        assert_eq!(Some(from_prompt), modal(step, &status), "{step:?}");
        // The picker steps show their lists in words: "Edit as text" asks Temporal for the draft.
        for step in [
            WizardStep::AssetConfig,
            WizardStep::EligibilityRules,
            WizardStep::RoleMapping,
            WizardStep::ChannelStructure,
        ] {
            status.step = step;
            assert_eq!(modal_from_prompt(step, &prompt(&status).content.expect("content")), None, "{step:?}");
        }
        // What the prompt cannot show (roles still to be suggested) is asked of Temporal.
        status.step = WizardStep::RoleMapping;
        status.draft.roles.clear();
        assert_eq!(modal_from_prompt(WizardStep::RoleMapping, &prompt(&status).content.expect("content")), None);
    }

    #[test]
    fn a_form_parses_into_its_answer() {
        let fields =
            BTreeMap::from([("name".to_string(), " Sietch ".to_string()), ("theme".to_string(), "sietch".to_string())]);
        assert_eq!(
            parse_form(WizardStep::Init, &fields).expect("init"),
            StepAnswer::Init {
                name: "Sietch".into(),
                theme: Theme::Sietch,
                mode: Mode::Exclusive,
                operator_channel_id: None,
            }
        );
        let fields = BTreeMap::from([("rules".to_string(), "a = nope(".to_string())]);
        assert!(parse_form(WizardStep::EligibilityRules, &fields).is_err());
    }

    #[test]
    fn long_content_is_clipped_to_discords_limit() {
        assert_eq!(clip("x".repeat(5_000)).chars().count(), CONTENT_MAX);
    }
}
