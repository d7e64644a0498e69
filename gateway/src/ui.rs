//! How the wizard looks in Discord: each step as an ephemeral message with buttons or a
//! select, each form as a modal (text inputs and selects inside Labels, at most five), and the
//! parsing of what comes back. Presentation only: whether an answer is acceptable is decided by
//! the workflow's validator.

use arrakis_schemas::{
    Mode, Theme, ValidationErrors,
    workflows::{
        migration,
        synthesis::RemovalChoice,
        wizard::{DeployPlan, DeployStage, StepAnswer, WizardDraft, WizardStatus, WizardStep, form},
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
            Self::Refresh => format!("{PREFIX}:refresh"),
            Self::SyncShadow => format!("{PREFIX}:shadow-sync"),
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

fn heading(step: WizardStep) -> String {
    format!("**Arrakis setup — step {}/8: {}**", step.index() + 1, step.title())
}

pub(crate) fn block(text: &str) -> String {
    if text.is_empty() { "_(nothing yet)_".into() } else { format!("```\n{text}\n```") }
}

fn plan_lines(plan: &DeployPlan) -> String {
    let list = |items: &[arrakis_schemas::workflows::wizard::PlannedItem]| {
        items
            .iter()
            .map(|i| match &i.detail {
                Some(detail) => format!("- {} **{}** — {detail}", i.kind, i.name),
                None => format!("- {} **{}**", i.kind, i.name),
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
    let with_back =
        |first: Component| if step == WizardStep::Init { row(vec![first]) } else { row(vec![first, back.clone()]) };
    match step {
        WizardStep::Init => message(
            format!(
                "{}\nName your community and choose its theme (tiers) and mode.\n{CURRENTLY}{}{SHOWN_SEP}theme {}{SHOWN_SEP}mode {}",
                heading(step),
                draft.name.as_deref().unwrap_or(NOT_NAMED),
                draft.theme.as_str(),
                draft.mode.as_str(),
            ),
            vec![with_back(fill("Name and theme"))],
        ),
        WizardStep::ChainSelect => {
            let options = form::CHAINS
                .iter()
                .map(|(id, name)| SelectMenuOption {
                    default: draft.chains.contains(id),
                    description: Some(format!("chain id {id}")),
                    emoji: None,
                    label: name.to_string(),
                    value: id.to_string(),
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
                format!("{}\nWhich chains do your tokens and collections live on?", heading(step)),
                vec![row(vec![select]), row(vec![back])],
            )
        }
        WizardStep::AssetConfig => message(
            format!(
                "{}\nThe tokens and collections that gate your roles, one per line: \
                 `key kind chain_id address [token_id=N] [decimals=N]`.\n{}",
                heading(step),
                block(&form::render_assets(&draft.assets))
            ),
            vec![with_back(fill("Edit assets"))],
        ),
        WizardStep::EligibilityRules => message(
            format!(
                "{}\nWho qualifies, one rule per line: `key = condition`, with `balance(asset) >= amount`, \
                 `nft(asset)`, `rank(asset) <= n`, `all(…)`, `any(…)`, `at_least(n, …)`.\n{}",
                heading(step),
                block(&form::render_rules(&draft.rules))
            ),
            vec![with_back(fill("Edit rules"))],
        ),
        WizardStep::RoleMapping => message(
            format!(
                "{}\nThe roles Arrakis creates and what grants them: `key | Name | rule:KEY or tier:TIER | #colour`.\n{}",
                heading(step),
                block(&form::render_roles(&draft.roles))
            ),
            vec![with_back(fill("Edit roles"))],
        ),
        WizardStep::ChannelStructure => message(
            format!(
                "{}\nCategories and channels, and which roles see them: \
                 `key | Category | role keys or everyone | channel, voice:channel`. Leave empty for none.\n{}",
                heading(step),
                block(&form::render_channels(&draft.channels))
            ),
            vec![with_back(fill("Edit channels"))],
        ),
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
                    "{}\n**{}** — exactly what deploying does:\n{strategy}{plan}",
                    heading(step),
                    draft.name.as_deref().unwrap_or("")
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
            let stage = match status.deploy {
                DeployStage::Pending | DeployStage::Saving => "saving the manifest",
                DeployStage::Synthesizing => "creating roles and channels",
                DeployStage::Shadowing => "starting shadow mode",
                DeployStage::Scheduling => "scheduling reconciliation",
                DeployStage::Done => "done",
                DeployStage::Failed => "stopped",
            };
            let summary = status.summary.clone().unwrap_or_else(|| format!("Deploying: {stage}…"));
            message(
                format!("{}\n{summary}", heading(step)),
                vec![row(vec![button(WizardAction::Refresh, "Refresh", ButtonStyle::Secondary)])],
            )
        }
    }
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
            StepAnswer::Init { name: field("name").trim().to_string(), theme, mode }
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
/// way back to the form.
pub fn rejected(step: WizardStep, why: &str, typed: &BTreeMap<String, String>) -> InteractionResponseData {
    let mut content = format!("**That {} answer was not accepted:**\n{why}\n", step.title().to_lowercase());
    let typed: Vec<&String> = typed.values().filter(|v| !v.is_empty()).collect();
    if !typed.is_empty() {
        content.push_str("You wrote:\n");
        for value in typed {
            content.push_str(&block(value));
            content.push('\n');
        }
    }
    message(content, vec![row(vec![button(WizardAction::OpenForm(step), "Try again", ButtonStyle::Primary)])])
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
        ] {
            assert_eq!(WizardAction::parse(&action.custom_id()), Some(action));
        }
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
        for step in [
            WizardStep::Init,
            WizardStep::AssetConfig,
            WizardStep::EligibilityRules,
            WizardStep::RoleMapping,
            WizardStep::ChannelStructure,
        ] {
            status.step = step;
            let shown = prompt(&status).content.expect("content");
            let from_prompt = modal_from_prompt(step, &shown).unwrap_or_else(|| panic!("{step:?}: {shown}"));
            assert_eq!(Some(from_prompt), modal(step, &status), "{step:?}");
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
            StepAnswer::Init { name: "Sietch".into(), theme: Theme::Sietch, mode: Mode::Exclusive }
        );
        let fields = BTreeMap::from([("rules".to_string(), "a = nope(".to_string())]);
        assert!(parse_form(WizardStep::EligibilityRules, &fields).is_err());
    }

    #[test]
    fn long_content_is_clipped_to_discords_limit() {
        assert_eq!(clip("x".repeat(5_000)).chars().count(), CONTENT_MAX);
    }
}
