//! Interactions: injected by a test (a slash command, a button, a select, a modal submit),
//! dispatched as INTERACTION_CREATE, answered by the bot under Discord's rules: the first
//! response within 3 seconds (late: 10062), only once (40060), modals as the docs define them,
//! follow-ups and `@original` edits with the token for 15 minutes.

use crate::{
    error::DiscordError,
    state::{Interaction, Sim},
    world::{self, permissions, snowflake},
};
use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// What a test injects.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InjectInteraction {
    /// The guild.
    #[serde(with = "crate::state::opt_snowflake")]
    pub guild_id: Option<u64>,
    /// The channel (generated when absent).
    #[serde(default, with = "crate::state::opt_snowflake")]
    pub channel_id: Option<u64>,
    /// Who acts.
    #[serde(with = "crate::state::opt_snowflake")]
    pub user_id: Option<u64>,
    /// The member's permission bits (default: Manage Guild, an admin).
    #[serde(default)]
    pub member_permissions: Option<u64>,
    /// What happened.
    pub action: Action,
    /// For a component or a modal submit: the text of the message it sits on (the operator
    /// clicked a button of a message they were shown). Empty when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_content: Option<String>,
}

/// The kinds of interaction a test can play.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Action {
    /// A slash command, optionally with a subcommand and string options.
    SlashCommand {
        /// Command name, e.g. `arrakis`.
        name: String,
        /// Subcommand, e.g. `setup`.
        #[serde(default)]
        subcommand: Option<String>,
        /// String options by name.
        #[serde(default)]
        options: Vec<(String, String)>,
    },
    /// A button press.
    Button {
        /// The button's custom id.
        custom_id: String,
    },
    /// A string select.
    Select {
        /// The select's custom id.
        custom_id: String,
        /// The values chosen.
        values: Vec<String>,
    },
    /// A modal submit with text-input values.
    ModalSubmit {
        /// The modal's custom id.
        custom_id: String,
        /// (text input custom id, value) pairs.
        fields: Vec<(String, String)>,
    },
}

/// The bot's answers, as the control API reports them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct InteractionReport {
    /// Milliseconds from creation to the first response, if any.
    pub acknowledged_after_ms: Option<u64>,
    /// Callback bodies, in order.
    pub callbacks: Vec<Value>,
    /// Follow-ups.
    pub followups: Vec<Value>,
    /// The original message, as last edited.
    pub original: Option<Value>,
    /// Milliseconds from creation to the first edit of the original response or the first
    /// follow-up: when a deferred answer arrived.
    #[serde(default)]
    pub answered_after_ms: Option<u64>,
}

impl Interaction {
    /// The report of the bot's answers.
    pub fn report(&self) -> InteractionReport {
        InteractionReport {
            acknowledged_after_ms: self.acknowledged_after.map(|d| d.as_millis() as u64),
            callbacks: self.callbacks.clone(),
            followups: self.followups.clone(),
            original: self.original.clone(),
            answered_after_ms: self.answered_after.map(|d| d.as_millis() as u64),
        }
    }
}

/// Creates the interaction, dispatches INTERACTION_CREATE, returns (id, token).
pub fn inject(sim: &Sim, request: InjectInteraction) -> Result<(u64, String), String> {
    let config = sim.config();
    let guild_id = request.guild_id.ok_or("guild_id is required")?;
    let user_id = request.user_id.ok_or("user_id is required")?;
    let id = sim.next_id();
    let token = format!("aW50ZXJhY3Rpb24{id}{:x}", (sim.random() * 1e15) as u64);
    let channel_id = request.channel_id.unwrap_or_else(|| sim.next_id());
    let (member, username) = {
        let world = sim.world();
        let guild = world.guilds.get(&guild_id).ok_or_else(|| format!("unknown guild {guild_id}"))?;
        let member = guild.members.get(&user_id).cloned();
        (member.clone(), member.map_or_else(|| format!("user{user_id}"), |m| m.username))
    };
    let member_permissions = request.member_permissions.unwrap_or(permissions::MANAGE_GUILD);
    let (kind, data) = match &request.action {
        Action::SlashCommand { name, subcommand, options } => {
            let opts: Vec<Value> = options.iter().map(|(n, v)| json!({"name": n, "type": 3, "value": v})).collect();
            let options = match subcommand {
                Some(sub) => json!([{"name": sub, "type": 1, "options": opts}]),
                None => Value::Array(opts),
            };
            (2, json!({"id": sim.next_id().to_string(), "name": name, "type": 1, "options": options}))
        }
        Action::Button { custom_id } => (3, json!({"custom_id": custom_id, "component_type": 2})),
        Action::Select { custom_id, values } => {
            (3, json!({"custom_id": custom_id, "component_type": 3, "values": values}))
        }
        Action::ModalSubmit { custom_id, fields } => {
            // As Discord sends it: each field as the component the bot's modal made it (a text
            // input's `value`, a select's `values`); a form no modal showed is all text inputs.
            let kinds = modal_field_kinds(sim, custom_id);
            let components: Vec<Value> = fields
                .iter()
                .enumerate()
                .map(|(i, (cid, value))| {
                    let kind = kinds.get(cid).copied().unwrap_or(4);
                    let component = match kind {
                        3 | 5 | 6 | 7 | 8 => {
                            let values: Vec<&str> = value.split(',').filter(|v| !v.is_empty()).collect();
                            json!({"type": kind, "id": i * 2 + 2, "custom_id": cid, "values": values})
                        }
                        _ => json!({"type": 4, "id": i * 2 + 2, "custom_id": cid, "value": value}),
                    };
                    json!({"type": 18, "id": i * 2 + 1, "component": component})
                })
                .collect();
            (5, json!({"custom_id": custom_id, "components": components}))
        }
    };
    let mut payload = json!({
        "id": id.to_string(),
        "application_id": config.application_id.to_string(),
        "type": kind,
        "data": data,
        "guild_id": guild_id.to_string(),
        "channel_id": channel_id.to_string(),
        "channel": {"id": channel_id.to_string(), "type": 0, "guild_id": guild_id.to_string(), "name": "general", "position": 0, "permission_overwrites": []},
        "member": {
            "user": world::user_json(user_id, &username, false),
            "roles": member.map(|m| m.roles.iter().map(u64::to_string).collect::<Vec<_>>()).unwrap_or_default(),
            "permissions": member_permissions.to_string(),
            "joined_at": world::JOINED_AT,
            "deaf": false, "mute": false, "flags": 0, "pending": false
        },
        "token": token,
        "version": 1,
        "app_permissions": (permissions::MANAGE_ROLES | permissions::MANAGE_CHANNELS).to_string(),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": guild_id.to_string()},
        "context": 0,
        "attachment_size_limit": 10_485_760
    });
    // A component sits on a message; a modal submit carries the message of the button that
    // opened it (the stand-in's modals are all opened from one).
    let content = request.message_content.clone().unwrap_or_default();
    let message =
        matches!(kind, 3 | 5).then(|| sim.message_json(channel_id, &json!({"content": content}), sim.next_id(), 0));
    if let Some(message) = &message {
        payload["message"] = message.clone();
    }
    sim.world().interactions.insert(
        id,
        Interaction {
            token: token.clone(),
            kind,
            channel_id,
            created: Instant::now(),
            acknowledged_after: None,
            callbacks: Vec::new(),
            followups: Vec::new(),
            original: None,
            answered_after: None,
            message,
        },
    );
    sim.gateway.dispatch(Some(guild_id), "INTERACTION_CREATE", payload);
    Ok((id, token))
}

/// The component type of each field of the modal the bot last answered with `custom_id`.
fn modal_field_kinds(sim: &Sim, custom_id: &str) -> std::collections::BTreeMap<String, u64> {
    let world = sim.world();
    let modal = world
        .interactions
        .values()
        .filter_map(|i| i.callbacks.iter().find(|c| c["type"] == 9 && c["data"]["custom_id"] == custom_id))
        .next()
        .cloned();
    let labels = modal.as_ref().and_then(|m| m["data"]["components"].as_array().cloned()).unwrap_or_default();
    labels
        .iter()
        .filter_map(|l| {
            let c = &l["component"];
            Some((c["custom_id"].as_str()?.to_string(), c["type"].as_u64()?))
        })
        .collect()
}

/// The docs' modal rules (stricter than the spec's `maxItems: 40`).
fn check_modal(data: &Value) -> Result<(), DiscordError> {
    let custom_id = data.get("custom_id").and_then(Value::as_str).unwrap_or_default();
    if custom_id.is_empty() || custom_id.chars().count() > 100 {
        return Err(DiscordError::field(
            "data.custom_id",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        ));
    }
    let title = data.get("title").and_then(Value::as_str).unwrap_or_default();
    if title.is_empty() || title.chars().count() > 45 {
        return Err(DiscordError::field("data.title", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length."));
    }
    let components = data.get("components").and_then(Value::as_array).cloned().unwrap_or_default();
    if components.is_empty() || components.len() > 5 {
        return Err(DiscordError::field(
            "data.components",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 5 in length.",
        ));
    }
    for (i, c) in components.iter().enumerate() {
        let kind = c.get("type").and_then(Value::as_u64);
        let inner = c.get("component").and_then(|x| x.get("type")).and_then(Value::as_u64);
        let holds_text_input_in_row = kind == Some(1)
            && c.get("components").and_then(Value::as_array).is_some_and(|row| row.iter().any(|x| x["type"] == 4));
        if holds_text_input_in_row || kind == Some(4) || (kind == Some(18) && inner.is_none()) {
            return Err(DiscordError::field(
                &format!("data.components.{i}"),
                "MODAL_COMPONENT_INVALID",
                "Text inputs in a modal must sit inside a Label (type 18).",
            ));
        }
        if kind == Some(18) {
            let label = c.get("label").and_then(Value::as_str).unwrap_or_default();
            if label.is_empty() || label.chars().count() > 45 {
                return Err(DiscordError::field(
                    &format!("data.components.{i}.label"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 45 in length.",
                ));
            }
        }
    }
    Ok(())
}

/// `POST /interactions/{id}/{token}/callback`.
pub async fn callback(
    State(sim): State<Arc<Sim>>,
    Path((id, token)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, DiscordError> {
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let id = snowflake(&id).ok_or_else(|| DiscordError::unknown(10062, "interaction"))?;
    let kind = body.get("type").and_then(Value::as_u64).unwrap_or(0);
    let mut world = sim.world();
    let interaction = world
        .interactions
        .get_mut(&id)
        .filter(|i| i.token == token)
        .ok_or_else(|| DiscordError::unknown(10062, "interaction"))?;
    if interaction.acknowledged_after.is_some() {
        return Err(DiscordError::already_acknowledged());
    }
    let elapsed = interaction.created.elapsed();
    if elapsed > Duration::from_millis(sim.config().response_deadline_ms) {
        return Err(DiscordError::unknown(10062, "interaction"));
    }
    let data = body.get("data").cloned().unwrap_or(Value::Null);
    match kind {
        9 if interaction.kind == 5 => {
            return Err(DiscordError::field(
                "type",
                "INTERACTION_RESPONSE_TYPE_INVALID",
                "A modal cannot answer a modal submit.",
            ));
        }
        9 => check_modal(&data)?,
        5 => {
            let flags = data.get("flags").and_then(Value::as_u64).unwrap_or(0);
            if flags & !(1 << 6) != 0 {
                return Err(DiscordError::field(
                    "data.flags",
                    "MESSAGE_FLAGS_INVALID",
                    "Only EPHEMERAL may be set on a deferred response.",
                ));
            }
        }
        6 | 7 if interaction.message.is_none() => {
            return Err(DiscordError::field(
                "type",
                "INTERACTION_RESPONSE_TYPE_INVALID",
                "Only an interaction on a message can update it.",
            ));
        }
        4 | 6 | 7 | 12 => {}
        _ => return Err(DiscordError::field("type", "BASE_TYPE_CHOICES", "Value must be one of {4, 5, 6, 7, 9, 12}.")),
    }
    interaction.acknowledged_after = Some(elapsed);
    interaction.callbacks.push(body.clone());
    if matches!(kind, 4 | 5) {
        let flags = data.get("flags").and_then(Value::as_u64).unwrap_or(0);
        let channel = interaction.channel_id;
        interaction.original = Some(sim.message_json(channel, &data, sim.next_id(), flags));
    }
    if let (6 | 7, Some(message)) = (kind, &interaction.message) {
        let mut message = message.clone();
        for field in ["content", "components", "embeds"] {
            if let Some(value) = data.get(field).filter(|_| kind == 7) {
                message[field] = value.clone();
            }
        }
        interaction.original = Some(message);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn by_token<'w>(
    world: &'w mut crate::state::World,
    sim: &Sim,
    app: &str,
    token: &str,
) -> Result<&'w mut Interaction, DiscordError> {
    if snowflake(app) != Some(sim.config().application_id) {
        return Err(DiscordError::unknown(10015, "Webhook"));
    }
    let interaction = world
        .interactions
        .values_mut()
        .find(|i| i.token == token)
        .ok_or_else(|| DiscordError::unknown(10015, "Webhook"))?;
    if interaction.created.elapsed() > Duration::from_millis(sim.config().token_lifetime_ms) {
        return Err(DiscordError::invalid_webhook_token());
    }
    if interaction.acknowledged_after.is_none() {
        return Err(DiscordError::unknown(10015, "Webhook"));
    }
    Ok(interaction)
}

/// `POST /webhooks/{application_id}/{token}`: a follow-up message.
pub async fn followup(
    State(sim): State<Arc<Sim>>,
    Path((app, token)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, DiscordError> {
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let id = sim.next_id();
    let mut world = sim.world();
    let interaction = by_token(&mut world, &sim, &app, &token)?;
    let flags = body.get("flags").and_then(Value::as_u64).unwrap_or(0);
    let message = sim.message_json(interaction.channel_id, &body, id, flags);
    let mut stored = message.clone();
    stored["components"] = body.get("components").cloned().unwrap_or(json!([]));
    interaction.followups.push(stored);
    interaction.answered_after.get_or_insert(interaction.created.elapsed());
    Ok(Json(message).into_response())
}

/// `GET .../messages/@original`.
pub async fn get_original(
    State(sim): State<Arc<Sim>>,
    Path((app, token)): Path<(String, String)>,
) -> Result<Response, DiscordError> {
    let mut world = sim.world();
    let interaction = by_token(&mut world, &sim, &app, &token)?;
    let original = interaction.original.clone().ok_or_else(|| DiscordError::unknown(10008, "Message"))?;
    Ok(Json(public_message(original)).into_response())
}

/// `PATCH .../messages/@original`: edits the original response.
pub async fn edit_original(
    State(sim): State<Arc<Sim>>,
    Path((app, token)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, DiscordError> {
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let mut world = sim.world();
    let interaction = by_token(&mut world, &sim, &app, &token)?;
    let original = interaction.original.as_mut().ok_or_else(|| DiscordError::unknown(10008, "Message"))?;
    if let Some(content) = body.get("content") {
        original["content"] = content.clone();
    }
    if let Some(embeds) = body.get("embeds").filter(|e| e.is_array()) {
        original["embeds"] = embeds.clone();
    }
    if let Some(components) = body.get("components") {
        original["components"] = components.clone();
    }
    original["edited_timestamp"] = json!(world::JOINED_AT);
    let original = original.clone();
    interaction.answered_after.get_or_insert(interaction.created.elapsed());
    Ok(Json(public_message(original)).into_response())
}

/// `DELETE .../messages/@original`.
pub async fn delete_original(
    State(sim): State<Arc<Sim>>,
    Path((app, token)): Path<(String, String)>,
) -> Result<Response, DiscordError> {
    let mut world = sim.world();
    let interaction = by_token(&mut world, &sim, &app, &token)?;
    interaction.original.take().ok_or_else(|| DiscordError::unknown(10008, "Message"))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Stored messages keep the bot's components for tests to read; responses carry none (the
/// response component schema needs ids Discord assigns, which the stand-in does not model).
fn public_message(mut message: Value) -> Value {
    message["components"] = json!([]);
    message
}

/// The custom ids of the components in a message the bot sent, in order, so a test can press
/// the button the bot offered.
pub fn custom_ids(message: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(id) = map.get("custom_id").and_then(Value::as_str) {
                    out.push(id.to_string());
                }
                map.values().for_each(|x| walk(x, out));
            }
            Value::Array(items) => items.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(message, &mut out);
    out
}
