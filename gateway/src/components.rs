//! The building blocks of Arrakis's Discord messages: buttons, rows, selects, text inputs
//! inside Labels, and the response bodies (an ephemeral text, a message with components).
//! Shared by the wizard, member commands and migration; nothing here knows a workflow.

use arrakis_schemas::Limits;
use std::collections::BTreeMap;
use twilight_model::application::interaction::modal::{ModalInteractionComponent, ModalInteractionData};
use twilight_model::{
    channel::message::{
        MessageFlags,
        component::{
            ActionRow, Button, ButtonStyle, Component, Label, SelectMenu, SelectMenuOption, SelectMenuType, TextInput,
            TextInputStyle,
        },
    },
    http::interaction::{InteractionResponse, InteractionResponseData, InteractionResponseType},
};

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

/// An action row of `components`.
pub(crate) fn row(components: Vec<Component>) -> Component {
    Component::ActionRow(ActionRow { components, id: None })
}

/// The text cut to Discord's 2,000 characters, with an ellipsis where it was cut.
pub(crate) fn clip(text: String) -> String {
    if text.chars().count() <= Limits::MESSAGE_MAX {
        return text;
    }
    let mut clipped: String = text.chars().take(Limits::MESSAGE_MAX - 2).collect();
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

/// The text as a code block.
pub(crate) fn block(text: &str) -> String {
    if text.is_empty() { "_(nothing yet)_".into() } else { format!("```\n{text}\n```") }
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
    let value: String = value.chars().take(Limits::TEXT_INPUT_MAX).collect();
    Box::new(Component::TextInput(TextInput {
        custom_id: custom_id.to_string(),
        id: None,
        label: None,
        max_length: Some(if style == TextInputStyle::Short { 100 } else { Limits::TEXT_INPUT_MAX as u16 }),
        min_length: None,
        placeholder: Some(placeholder.to_string()),
        required: Some(required),
        style,
        value: (!value.is_empty()).then_some(value),
    }))
}

/// A Label (a modal field with its title) around `component`.
pub(crate) fn label(text: &str, component: Box<Component>) -> Component {
    Component::Label(Label { component, description: None, id: None, label: text.to_string() })
}

/// A one-of select whose options are (value, text, selected).
pub(crate) fn choice(custom_id: &str, options: &[(&str, &str, bool)]) -> Box<Component> {
    let options = options
        .iter()
        .map(|(value, text, default)| SelectMenuOption {
            default: *default,
            description: None,
            emoji: None,
            label: text.to_string(),
            value: value.to_string(),
        })
        .collect();
    Box::new(text_select(custom_id.to_string(), None, options, 1))
}

/// A string select of `options`, one to `max` picked: the one shape every select of Arrakis
/// has (Discord allows 25 options, which the callers keep to).
pub(crate) fn text_select(
    custom_id: String,
    placeholder: Option<String>,
    options: Vec<SelectMenuOption>,
    max: u8,
) -> Component {
    Component::SelectMenu(SelectMenu {
        channel_types: None,
        custom_id,
        default_values: None,
        disabled: false,
        id: None,
        kind: SelectMenuType::Text,
        max_values: Some(max.max(1)),
        min_values: Some(1),
        options: Some(options),
        placeholder,
        required: None,
    })
}

/// A select the form may leave empty.
pub(crate) fn optional(select: Component) -> Box<Component> {
    let Component::SelectMenu(mut menu) = select else { return Box::new(select) };
    menu.min_values = Some(0);
    menu.required = Some(false);
    Box::new(Component::SelectMenu(menu))
}

/// A string select of (value, label) options, `custom_id`, up to `max` picked.
pub(crate) fn list_select(custom_id: String, placeholder: &str, options: Vec<(String, String)>, max: u8) -> Component {
    let options = options
        .into_iter()
        .take(25)
        .map(|(value, label)| SelectMenuOption {
            default: false,
            description: None,
            emoji: None,
            label: label.chars().take(100).collect(),
            value,
        })
        .collect();
    text_select(custom_id, Some(placeholder.into()), options, max)
}

/// A response of `kind` carrying `data`.
pub(crate) fn reply(kind: InteractionResponseType, data: InteractionResponseData) -> InteractionResponse {
    InteractionResponse { kind, data: Some(data) }
}

/// A new message in answer (type 4).
pub(crate) fn answer(data: InteractionResponseData) -> InteractionResponse {
    reply(InteractionResponseType::ChannelMessageWithSource, data)
}

/// An ephemeral text in answer: only the member who asked sees it.
pub(crate) fn answer_ephemeral(text: impl Into<String>) -> InteractionResponse {
    answer(ephemeral(text))
}

/// Text inputs and selects of a submitted modal, by custom id (inside Labels or action rows).
pub(crate) fn modal_fields(data: &ModalInteractionData) -> BTreeMap<String, String> {
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
