//! The step forms (modals) and their parsing, the prefill of a form from the message it was
//! opened on, and the refusal that keeps what the operator typed.

use super::{
    ids::{AssetAction, WizardAction, button},
    steps::{CURRENTLY, NOT_NAMED, SHOWN_SEP, chain_name},
};
use crate::components::{block, choice, label, message, row, text_input};
use arrakis_schemas::{
    Limits, Mode, Snowflake, Theme, ValidationErrors,
    workflows::{
        incumbent::Incumbent,
        wizard::{
            StepAnswer, WizardDraft, WizardStatus, WizardStep,
            assets::{AssetEdit, ChainOption, FoundAsset},
            form,
        },
    },
};
use std::collections::BTreeMap;
use twilight_model::{
    channel::message::component::{ButtonStyle, Component, Label, SelectMenu, SelectMenuType, TextInputStyle},
    http::interaction::InteractionResponseData,
};

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

/// A text-channel select for the operator channel, defaulting to the chosen one.
pub(crate) fn operator_channel_select(chosen: Option<Snowflake>) -> Box<Component> {
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

/// The value of the mode choice that confirms exclusive mode beside a detected incumbent:
/// `exclusive_beside:{bot}`.
const EXCLUSIVE_BESIDE: &str = "exclusive_beside";

/// INIT's mode choice. Beside a detected incumbent it names the bot: shadow and parallel say
/// what they do beside it, and exclusive is offered only as a confirmation that names it.
fn mode_choice(mode: Mode, incumbent: Option<Incumbent>) -> Box<Component> {
    let Some(bot) = incumbent else {
        return choice(
            "mode",
            &[
                ("exclusive", "Arrakis alone", !matches!(mode, Mode::Parallel | Mode::Shadow)),
                ("parallel", "Beside another bot, with its own roles", mode == Mode::Parallel),
                ("shadow", "Watch beside your bot, change nothing", mode == Mode::Shadow),
            ],
        );
    };
    let name = bot.signature().name;
    let shadow = format!("Shadow: watch beside {name}, change nothing");
    let parallel = format!("Parallel: arrakis-* roles beside {name}'s");
    let exclusive = format!("Exclusive beside {name}: I confirm both bots act on roles");
    let confirm = format!("{EXCLUSIVE_BESIDE}:{}", bot.as_str());
    choice(
        "mode",
        &[
            ("shadow", shadow.as_str(), !matches!(mode, Mode::Parallel | Mode::Exclusive)),
            ("parallel", parallel.as_str(), mode == Mode::Parallel),
            ("exclusive", "Exclusive (asks you to confirm)", false),
            (confirm.as_str(), exclusive.as_str(), mode == Mode::Exclusive),
        ],
    )
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
            label("Mode", mode_choice(d.mode, status.incumbent)),
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

/// The draft a prompt message shows, for a modal opened from it: `None` when the message
/// does not show all the modal needs (a block clipped at Discord's 2,000 characters, roles
/// still to be suggested from the rules), and the modal is then built from a status query.
pub(crate) fn draft_shown(step: WizardStep, content: &str) -> Option<WizardDraft> {
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
            let mode_field = field("mode");
            let (mode, beside) = match mode_field.split_once(':') {
                Some((EXCLUSIVE_BESIDE, bot)) => match Incumbent::parse(bot) {
                    Some(bot) => (Mode::Exclusive, Some(bot)),
                    None => {
                        errors.push("mode", format!("'{bot}' is not a bot Arrakis knows"));
                        (Mode::Exclusive, None)
                    }
                },
                _ => match mode_field.as_str() {
                    "" | "exclusive" => (Mode::Exclusive, None),
                    "parallel" => (Mode::Parallel, None),
                    "shadow" => (Mode::Shadow, None),
                    other => {
                        errors.push("mode", format!("'{other}' is not exclusive, parallel or shadow"));
                        (Mode::Exclusive, None)
                    }
                },
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
            StepAnswer::Init { name: field("name").trim().to_string(), theme, mode, operator_channel_id, beside }
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

/// How a refusal message begins, so a later "Try again" finds what was typed in it.
pub(crate) const REJECTED: &str = "**That ";

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
                    input.value = Some(value.chars().take(Limits::TEXT_INPUT_MAX).collect());
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
