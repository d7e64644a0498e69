//! Discord's REST API v10 for the routes Arrakis uses, behind one layer that does what
//! Discord's edge does: the invalid-request ban, bot-token auth, injected faults, the global
//! limit, route buckets, body validation against the OpenAPI spec, rate-limit headers, the
//! mutation log and (optionally) a check of every response against the spec.

use crate::{
    error::DiscordError,
    interactions,
    ratelimit::{BucketState, Limited, Scope, bucket_hash},
    spec::invalid_form_body,
    state::{LogEntry, Sim, World},
    world::{self, Channel, MAX_CHANNELS, MAX_ROLES, Member, Overwrite, Role, bits, id_of, permissions, snowflake},
};
use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{MatchedPath, Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, patch, post, put},
};
use serde_json::{Value, json};
use std::{collections::HashMap, sync::Arc, time::Instant};

type Shared = State<Arc<Sim>>;
type Reply = Result<Response, DiscordError>;

/// Every (method, route) the stand-in serves, as the OpenAPI spec names them; the contract
/// test walks this list.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/gateway/bot"),
    ("get", "/users/@me"),
    ("get", "/applications/{application_id}/commands"),
    ("put", "/applications/{application_id}/commands"),
    ("post", "/applications/{application_id}/commands"),
    ("get", "/applications/{application_id}/guilds/{guild_id}/commands"),
    ("put", "/applications/{application_id}/guilds/{guild_id}/commands"),
    ("post", "/applications/{application_id}/guilds/{guild_id}/commands"),
    ("get", "/guilds/{guild_id}"),
    ("get", "/guilds/{guild_id}/roles"),
    ("post", "/guilds/{guild_id}/roles"),
    ("patch", "/guilds/{guild_id}/roles"),
    ("get", "/guilds/{guild_id}/roles/{role_id}"),
    ("patch", "/guilds/{guild_id}/roles/{role_id}"),
    ("delete", "/guilds/{guild_id}/roles/{role_id}"),
    ("get", "/guilds/{guild_id}/channels"),
    ("post", "/guilds/{guild_id}/channels"),
    ("patch", "/guilds/{guild_id}/channels"),
    ("get", "/channels/{channel_id}"),
    ("patch", "/channels/{channel_id}"),
    ("delete", "/channels/{channel_id}"),
    ("put", "/channels/{channel_id}/permissions/{overwrite_id}"),
    ("delete", "/channels/{channel_id}/permissions/{overwrite_id}"),
    ("get", "/channels/{channel_id}/messages"),
    ("post", "/channels/{channel_id}/messages"),
    ("patch", "/channels/{channel_id}/messages/{message_id}"),
    ("get", "/guilds/{guild_id}/members"),
    ("get", "/guilds/{guild_id}/members/{user_id}"),
    ("patch", "/guilds/{guild_id}/members/{user_id}"),
    ("put", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}"),
    ("delete", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}"),
    ("get", "/guilds/{guild_id}/audit-logs"),
    ("post", "/interactions/{interaction_id}/{interaction_token}/callback"),
    ("post", "/webhooks/{webhook_id}/{webhook_token}"),
    ("get", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
    ("patch", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
    ("delete", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
];

/// The REST routes, under `/api/v10`.
pub fn router(sim: Arc<Sim>) -> Router {
    let api = Router::new()
        .route("/gateway/bot", get(gateway_bot))
        .route("/users/@me", get(users_me))
        .route(
            "/applications/{application_id}/commands",
            get(list_commands).put(overwrite_commands).post(create_command),
        )
        .route(
            "/applications/{application_id}/guilds/{guild_id}/commands",
            get(list_guild_commands).put(overwrite_guild_commands).post(create_guild_command),
        )
        .route("/guilds/{guild_id}", get(get_guild))
        .route("/guilds/{guild_id}/roles", get(list_roles).post(create_role).patch(move_roles))
        .route("/guilds/{guild_id}/roles/{role_id}", get(get_role).patch(modify_role).delete(delete_role))
        .route("/guilds/{guild_id}/channels", get(list_channels).post(create_channel).patch(move_channels))
        .route("/channels/{channel_id}", get(get_channel).patch(modify_channel).delete(delete_channel))
        .route("/channels/{channel_id}/permissions/{overwrite_id}", put(put_overwrite).delete(delete_overwrite))
        .route("/channels/{channel_id}/messages", get(list_messages).post(create_message))
        .route("/channels/{channel_id}/messages/{message_id}", patch(edit_message))
        .route("/guilds/{guild_id}/members", get(list_members))
        .route("/guilds/{guild_id}/members/{user_id}", get(get_member).patch(modify_member))
        .route("/guilds/{guild_id}/members/{user_id}/roles/{role_id}", put(add_member_role).delete(remove_member_role))
        .route("/guilds/{guild_id}/audit-logs", get(audit_log))
        .route("/interactions/{interaction_id}/{interaction_token}/callback", post(interactions::callback))
        .route("/webhooks/{webhook_id}/{webhook_token}", post(interactions::followup))
        .route(
            "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
            get(interactions::get_original).patch(interactions::edit_original).delete(interactions::delete_original),
        );
    Router::new().nest("/api/v10", api).layer(middleware::from_fn_with_state(sim.clone(), discord_edge)).with_state(sim)
}

/// How the edge treats a route.
struct RouteClass {
    /// Interaction callbacks and follow-ups: no bot token needed, outside the global limit.
    interaction: bool,
    /// The bucket key (route + major parameter, or the guild for member-role edits).
    key: String,
    /// The bucket hash announced in `X-RateLimit-Bucket`.
    hash: String,
    /// Member-role edits use the per-guild member-role limit.
    member_roles: bool,
}

fn classify(method: &Method, template: &str, path: &str) -> RouteClass {
    let params: HashMap<&str, &str> = template
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(t, p)| t.strip_prefix('{').and_then(|t| t.strip_suffix('}')).map(|name| (name, p)))
        .collect();
    let interaction = template.starts_with("/interactions/") || template.starts_with("/webhooks/");
    let member_roles = template.ends_with("/roles/{role_id}") && template.contains("/members/");
    // A webhook's major parameter is its id and token together: every interaction's
    // follow-ups (one application id, a token each) have a bucket of their own.
    let major = match (params.get("webhook_id"), params.get("webhook_token")) {
        (Some(id), Some(token)) => format!("{id}/{token}"),
        _ => ["guild_id", "channel_id", "webhook_id", "interaction_id"]
            .iter()
            .find_map(|k| params.get(k).copied())
            .unwrap_or("")
            .to_string(),
    };
    let route = format!("{method} {template}");
    let key = if member_roles { format!("member-roles {major}") } else { format!("{route} {major}") };
    RouteClass { interaction, hash: bucket_hash(if member_roles { "member-roles" } else { &route }), key, member_roles }
}

async fn discord_edge(State(sim): Shared, matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let Some(template) = matched.as_ref().and_then(|m| m.as_str().strip_prefix("/api/v10")).map(str::to_owned) else {
        return next.run(request).await;
    };
    let method = request.method().clone();
    let path = request.uri().path().strip_prefix("/api/v10").unwrap_or_default().to_string();
    if method == Method::GET
        && let Ok(mut reads) = sim.reads.lock()
    {
        let seq = reads.len() as u64;
        let query = request.uri().query().map(str::to_owned);
        reads.push(crate::state::ReadEntry { seq, route: template.clone(), path: path.clone(), query });
    }
    let class = classify(&method, &template, &path);
    let config = sim.config();
    let now = Instant::now();
    // Every answer leaves through `finish`: headers, the invalid-request count, the log, the
    // contract check.
    let scope_always = config.limits.scope_header_always;
    let reason = audit_reason(request.headers());
    let respond = async |body: Value, response: Response, bucket: Option<&BucketState>| {
        let request = Logged { method: &method, path: &path, template: &template, body, reason: reason.clone() };
        finish(&sim, request, response, bucket.map(|b| (b, scope_always))).await
    };

    {
        let mut limiter = sim.limiter.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(ban_left) = limiter.admit(now) {
            return banned(ban_left);
        }
        limiter.note_if_early(&class.key, !class.interaction, now);
    }

    if !class.interaction && !authorized(request.headers(), &config.token) {
        return respond(Value::Null, DiscordError::unauthorized().into_response(), None).await;
    }

    let faults = sim.faults.lock().map(|f| f.clone()).unwrap_or_default();
    if faults.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(faults.latency_ms)).await;
    }
    if let Some(mut storm) = take_storm(&sim) {
        if let Ok(mut limiter) = sim.limiter.lock() {
            limiter.injected(&class.key, storm.scope, storm.retry_after, now);
        }
        // A route-scoped 429 names its bucket, as Discord's do; a global one names none.
        if storm.scope != Scope::Global {
            let limit = if class.member_roles { config.limits.member_role_limit } else { config.limits.route_limit };
            storm.bucket = Some(BucketState::exhausted(limit, &class.hash, storm.retry_after));
        }
        return respond(Value::Null, too_many(&storm), None).await;
    }

    let bucket = {
        let mut limiter = sim.limiter.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let global = if class.interaction { Ok(()) } else { limiter.global(&config.limits, now) };
        global.and_then(|()| {
            let (limit, window) = if class.member_roles {
                (config.limits.member_role_limit, config.limits.member_role_window_secs)
            } else {
                (config.limits.route_limit, config.limits.route_window_secs)
            };
            limiter.route(&class.key, &class.hash, limit, window, now)
        })
    };
    let bucket = match bucket {
        Ok(bucket) => bucket,
        Err(limited) => {
            let response = too_many(&limited);
            return respond(Value::Null, response, None).await;
        }
    };

    if faults.refuse.iter().any(|r| r == &format!("{method} {template}")) {
        let response = DiscordError::missing_permissions().into_response();
        return respond(Value::Null, response, Some(&bucket)).await;
    }
    if faults.error_rate > 0.0 && sim.random() < faults.error_rate {
        let response = DiscordError::server_error().into_response();
        return respond(Value::Null, response, Some(&bucket)).await;
    }

    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 8 * 1024 * 1024).await else {
        return DiscordError::invalid_json().into_response();
    };
    let json_body = if bytes.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => v,
            Err(_) => {
                let response = DiscordError::invalid_json().into_response();
                return respond(Value::Null, response, Some(&bucket)).await;
            }
        }
    };
    if !json_body.is_null()
        && let Err(violations) = sim.spec.check_request(method.as_str(), &template, &json_body)
    {
        let response = DiscordError::form(invalid_form_body(&violations)).into_response();
        return respond(json_body, response, Some(&bucket)).await;
    }
    let mutating = parts.method != Method::GET;
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let response = if mutating
        && response.status().is_success()
        && faults.lost_response_rate > 0.0
        && sim.random() < faults.lost_response_rate
    {
        (StatusCode::BAD_GATEWAY, "502 Bad Gateway").into_response()
    } else {
        response
    };
    respond(json_body, response, Some(&bucket)).await
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bot "))
        .is_some_and(|t| t == token)
}

fn take_storm(sim: &Sim) -> Option<Limited> {
    let mut faults = sim.faults.lock().ok()?;
    if faults.storm_count == 0 {
        return None;
    }
    faults.storm_count -= 1;
    let scope = match faults.storm_scope.as_deref() {
        Some("global") => Scope::Global,
        Some("shared") => Scope::Shared,
        _ => Scope::User,
    };
    Some(Limited { scope, retry_after: faults.storm_retry_after.max(0.001), bucket: None })
}

fn banned(ban_left: f64) -> Response {
    // Cloudflare's answer, not Discord's: no JSON, no rate-limit headers.
    let mut response = (StatusCode::TOO_MANY_REQUESTS, "error code: 1015").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{}", ban_left.ceil() as u64)) {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

fn too_many(limited: &Limited) -> Response {
    let global = limited.scope == Scope::Global;
    let mut body = json!({"message": "You are being rate limited.", "retry_after": (limited.retry_after * 1000.0).ceil() / 1000.0, "global": global});
    if global {
        body["code"] = json!(0);
    }
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    let headers = response.headers_mut();
    if let Some(bucket) = &limited.bucket {
        bucket_headers(headers, bucket, false);
    }
    insert(headers, "x-ratelimit-scope", limited.scope.as_str());
    insert(headers, "retry-after", &format!("{}", limited.retry_after.ceil().max(1.0) as u64));
    if global {
        insert(headers, "x-ratelimit-global", "true");
    }
    response
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

fn bucket_headers(headers: &mut HeaderMap, bucket: &BucketState, scope: bool) {
    insert(headers, "x-ratelimit-limit", &bucket.limit.to_string());
    insert(headers, "x-ratelimit-remaining", &bucket.remaining.to_string());
    insert(headers, "x-ratelimit-reset", &format!("{:.3}", bucket.reset_at_unix));
    insert(headers, "x-ratelimit-reset-after", &format!("{:.3}", bucket.reset_after));
    insert(headers, "x-ratelimit-bucket", &bucket.bucket);
    if scope {
        insert(headers, "x-ratelimit-scope", "user");
    }
}

/// The request as the mutation log records it.
struct Logged<'a> {
    method: &'a Method,
    path: &'a str,
    template: &'a str,
    body: Value,
    reason: Option<String>,
}

/// `X-Audit-Log-Reason`, which clients send URL-encoded (Discord: 1–512 characters).
fn audit_reason(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get("x-audit-log-reason")?.to_str().ok()?;
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8().ok()?;
    Some(decoded.into_owned())
}

/// Adds headers, counts invalid requests, logs mutations and checks the response's contract.
async fn finish(sim: &Sim, request: Logged<'_>, response: Response, bucket: Option<(&BucketState, bool)>) -> Response {
    let Logged { method, path, template, body: request_body, reason } = request;
    let status = response.status();
    let (mut parts, body) = response.into_parts();
    if let Some((bucket, scope)) = bucket
        && status != StatusCode::TOO_MANY_REQUESTS
    {
        bucket_headers(&mut parts.headers, bucket, scope);
    }
    let config = sim.config();
    if status.is_client_error()
        && let Ok(mut limiter) = sim.limiter.lock()
    {
        limiter.record_client_error();
    }
    if matches!(status.as_u16(), 401 | 403 | 429) {
        let shared = parts.headers.get("x-ratelimit-scope").is_some_and(|v| v == "shared");
        if !shared && let Ok(mut limiter) = sim.limiter.lock() {
            limiter.record_invalid(&config.limits, Instant::now());
        }
    }
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    if *method != Method::GET
        && let Ok(mut log) = sim.log.lock()
    {
        let seq = log.len() as u64;
        log.push(LogEntry {
            seq,
            at_ms: sim.elapsed_ms(),
            method: method.to_string(),
            path: path.to_string(),
            route: template.to_string(),
            status: status.as_u16(),
            body: request_body,
            reason,
        });
    }
    if config.check_responses && status.is_success() && !bytes.is_empty() {
        let checked = serde_json::from_slice::<Value>(&bytes).map_err(|e| format!("not JSON: {e}")).and_then(|v| {
            sim.spec.check_response(method.as_str(), template, status.as_u16(), &v).map_err(|violations| {
                violations.iter().map(|v| format!("{} {}", v.pointer, v.message)).collect::<Vec<_>>().join("; ")
            })
        });
        if let Err(problem) = checked {
            let message = format!("{method} {template} → {status}: response breaks the spec: {problem}");
            tracing::error!("{message}");
            if let Ok(mut violations) = sim.contract_violations.lock() {
                violations.push(message.clone());
            }
            return (StatusCode::INTERNAL_SERVER_ERROR, message).into_response();
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

// ---- helpers shared by the handlers -------------------------------------------------------------

fn body(bytes: &Bytes) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

fn ok(value: Value) -> Reply {
    Ok(Json(value).into_response())
}

fn no_content() -> Reply {
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn parse_guild(id: &str) -> Result<u64, DiscordError> {
    snowflake(id).ok_or_else(|| DiscordError::unknown(10004, "Guild"))
}

fn guild_ref(world: &World, id: u64) -> Result<&world::Guild, DiscordError> {
    world.guilds.get(&id).ok_or_else(|| DiscordError::unknown(10004, "Guild"))
}

fn guild_mut(world: &mut World, id: u64) -> Result<&mut world::Guild, DiscordError> {
    world.guilds.get_mut(&id).ok_or_else(|| DiscordError::unknown(10004, "Guild"))
}

fn require(granted: u64, needed: u64) -> Result<(), DiscordError> {
    if granted & needed == needed { Ok(()) } else { Err(DiscordError::missing_permissions()) }
}

/// The guild, if the bot holds `needed` in it (Discord's 50013 otherwise), and every
/// permission the bot holds there, which a request may grant no more than.
fn bot_may(world: &mut World, guild_id: u64, bot: u64, needed: u64) -> Result<(&mut world::Guild, u64), DiscordError> {
    let guild = guild_mut(world, guild_id)?;
    let granted = guild.member_permissions(bot);
    require(granted, needed)?;
    Ok((guild, granted))
}

// ---- gateway, user, commands --------------------------------------------------------------------

async fn gateway_bot(State(sim): Shared) -> Reply {
    let config = sim.config();
    let url = sim.gateway_url.read().map(|u| u.clone()).unwrap_or_default();
    ok(json!({
        "url": url,
        "shards": config.shards,
        "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 86_400_000, "max_concurrency": 1}
    }))
}

async fn users_me(State(sim): Shared) -> Reply {
    let config = sim.config();
    let mut user = world::user_json(config.application_id, &config.bot_name, true);
    user["mfa_enabled"] = json!(false);
    user["locale"] = json!("en-US");
    user["verified"] = json!(true);
    ok(user)
}

fn command_json(sim: &Sim, request: &Value, guild_id: Option<u64>, existing: Option<&Value>) -> Value {
    let config = sim.config();
    let id = existing.and_then(|e| e["id"].as_str().map(str::to_owned)).unwrap_or_else(|| sim.next_id().to_string());
    let mut command = json!({
        "id": id,
        "application_id": config.application_id.to_string(),
        "version": sim.next_id().to_string(),
        "default_member_permissions": request.get("default_member_permissions").and_then(bits).map(|b| b.to_string()),
        "type": request.get("type").and_then(Value::as_u64).unwrap_or(1),
        "name": request["name"],
        "description": request.get("description").cloned().unwrap_or(json!("")),
        "nsfw": request.get("nsfw").and_then(Value::as_bool).unwrap_or(false),
    });
    if let Some(options) = request.get("options").filter(|o| o.is_array()) {
        command["options"] = options.clone();
    }
    if let Some(guild) = guild_id {
        command["guild_id"] = json!(guild.to_string());
    }
    command
}

fn check_application(sim: &Sim, application_id: &str) -> Result<(), DiscordError> {
    if snowflake(application_id) == Some(sim.config().application_id) {
        Ok(())
    } else {
        Err(DiscordError::missing_permissions())
    }
}

async fn list_commands(State(sim): Shared, Path(app): Path<String>) -> Reply {
    check_application(&sim, &app)?;
    ok(Value::Array(sim.world().global_commands.clone()))
}

async fn overwrite_commands(State(sim): Shared, Path(app): Path<String>, bytes: Bytes) -> Reply {
    check_application(&sim, &app)?;
    let requested = body(&bytes).as_array().cloned().unwrap_or_default();
    let current = sim.world().global_commands.clone();
    let next: Vec<Value> = requested
        .iter()
        .map(|r| command_json(&sim, r, None, current.iter().find(|c| c["name"] == r["name"])))
        .collect();
    sim.world().global_commands = next.clone();
    ok(Value::Array(next))
}

async fn create_command(State(sim): Shared, Path(app): Path<String>, bytes: Bytes) -> Reply {
    check_application(&sim, &app)?;
    let request = body(&bytes);
    let current = sim.world().global_commands.clone();
    let command = command_json(&sim, &request, None, current.iter().find(|c| c["name"] == request["name"]));
    let mut world = sim.world();
    world.global_commands.retain(|c| c["name"] != command["name"]);
    world.global_commands.push(command.clone());
    ok(command)
}

async fn list_guild_commands(State(sim): Shared, Path((app, guild)): Path<(String, String)>) -> Reply {
    check_application(&sim, &app)?;
    let guild = parse_guild(&guild)?;
    ok(Value::Array(sim.world().guild_commands.get(&guild).cloned().unwrap_or_default()))
}

async fn overwrite_guild_commands(
    State(sim): Shared,
    Path((app, guild)): Path<(String, String)>,
    bytes: Bytes,
) -> Reply {
    check_application(&sim, &app)?;
    let guild = parse_guild(&guild)?;
    if !sim.world().guilds.contains_key(&guild) {
        return Err(DiscordError::unknown(10004, "Guild"));
    }
    let requested = body(&bytes).as_array().cloned().unwrap_or_default();
    let current = sim.world().guild_commands.get(&guild).cloned().unwrap_or_default();
    let next: Vec<Value> = requested
        .iter()
        .map(|r| command_json(&sim, r, Some(guild), current.iter().find(|c| c["name"] == r["name"])))
        .collect();
    sim.world().guild_commands.insert(guild, next.clone());
    ok(Value::Array(next))
}

async fn create_guild_command(State(sim): Shared, Path((app, guild)): Path<(String, String)>, bytes: Bytes) -> Reply {
    check_application(&sim, &app)?;
    let guild = parse_guild(&guild)?;
    if !sim.world().guilds.contains_key(&guild) {
        return Err(DiscordError::unknown(10004, "Guild"));
    }
    let request = body(&bytes);
    let current = sim.world().guild_commands.get(&guild).cloned().unwrap_or_default();
    let command = command_json(&sim, &request, Some(guild), current.iter().find(|c| c["name"] == request["name"]));
    let mut world = sim.world();
    let list = world.guild_commands.entry(guild).or_default();
    list.retain(|c| c["name"] != command["name"]);
    list.push(command.clone());
    ok(command)
}

// ---- guilds and roles ----------------------------------------------------------------------------

async fn get_guild(State(sim): Shared, Path(guild): Path<String>) -> Reply {
    let guild = parse_guild(&guild)?;
    let world = sim.world();
    let guild = guild_ref(&world, guild)?;
    ok(world::guild_json(guild))
}

async fn list_roles(State(sim): Shared, Path(guild): Path<String>) -> Reply {
    let guild = parse_guild(&guild)?;
    let world = sim.world();
    let guild = guild_ref(&world, guild)?;
    ok(guild.roles.values().map(world::role_json).collect())
}

async fn get_role(State(sim): Shared, Path((guild, role)): Path<(String, String)>) -> Reply {
    let guild = parse_guild(&guild)?;
    let world = sim.world();
    let guild = guild_ref(&world, guild)?;
    let role =
        snowflake(&role).and_then(|r| guild.roles.get(&r)).ok_or_else(|| DiscordError::unknown(10011, "Role"))?;
    ok(world::role_json(role))
}

/// The permissions a role request asks for must be ones the bot holds.
fn check_grantable(granted: u64, asked: u64) -> Result<(), DiscordError> {
    if asked & !granted == 0 { Ok(()) } else { Err(DiscordError::missing_permissions()) }
}

async fn create_role(State(sim): Shared, Path(guild_id): Path<String>, bytes: Bytes) -> Reply {
    let guild_id = parse_guild(&guild_id)?;
    let request = body(&bytes);
    let bot = sim.bot_id();
    let id = sim.next_id();
    let role = {
        let mut world = sim.world();
        let (guild, granted) = bot_may(&mut world, guild_id, bot, permissions::MANAGE_ROLES)?;
        let asked = request.get("permissions").and_then(bits).unwrap_or(0);
        check_grantable(granted, asked)?;
        if guild.roles.len() >= MAX_ROLES {
            return Err(DiscordError::maximum(30005, "Maximum number of guild roles reached (250)"));
        }
        // New roles sit at position 1, just above @everyone; the rest move up.
        for r in guild.roles.values_mut().filter(|r| r.position >= 1) {
            r.position += 1;
        }
        let role = Role {
            id,
            name: request.get("name").and_then(Value::as_str).unwrap_or("new role").to_string(),
            color: request.get("color").and_then(Value::as_u64).unwrap_or(0) as u32,
            hoist: request.get("hoist").and_then(Value::as_bool).unwrap_or(false),
            mentionable: request.get("mentionable").and_then(Value::as_bool).unwrap_or(false),
            position: 1,
            permissions: asked,
            managed: false,
        };
        guild.roles.insert(id, role.clone());
        role
    };
    sim.gateway.dispatch(
        Some(guild_id),
        "GUILD_ROLE_CREATE",
        json!({"guild_id": guild_id.to_string(), "role": world::role_json(&role)}),
    );
    ok(world::role_json(&role))
}

async fn modify_role(State(sim): Shared, Path((guild_id, role_id)): Path<(String, String)>, bytes: Bytes) -> Reply {
    let guild_id = parse_guild(&guild_id)?;
    let request = body(&bytes);
    let bot = sim.bot_id();
    let role = {
        let mut world = sim.world();
        let (guild, granted) = bot_may(&mut world, guild_id, bot, permissions::MANAGE_ROLES)?;
        let highest = guild.highest_position(bot);
        let role = snowflake(&role_id)
            .and_then(|r| guild.roles.get_mut(&r))
            .ok_or_else(|| DiscordError::unknown(10011, "Role"))?;
        if role.position >= highest {
            return Err(DiscordError::missing_permissions());
        }
        if let Some(p) = request.get("permissions").and_then(bits) {
            check_grantable(granted, p)?;
            role.permissions = p;
        }
        if let Some(name) = request.get("name").and_then(Value::as_str) {
            role.name = name.to_string();
        }
        if let Some(color) = request.get("color").and_then(Value::as_u64) {
            role.color = color as u32;
        }
        if let Some(hoist) = request.get("hoist").and_then(Value::as_bool) {
            role.hoist = hoist;
        }
        if let Some(m) = request.get("mentionable").and_then(Value::as_bool) {
            role.mentionable = m;
        }
        role.clone()
    };
    sim.gateway.dispatch(
        Some(guild_id),
        "GUILD_ROLE_UPDATE",
        json!({"guild_id": guild_id.to_string(), "role": world::role_json(&role)}),
    );
    ok(world::role_json(&role))
}

async fn delete_role(State(sim): Shared, Path((guild_id, role_id)): Path<(String, String)>) -> Reply {
    let guild_id = parse_guild(&guild_id)?;
    let bot = sim.bot_id();
    let role_id = {
        let mut world = sim.world();
        let (guild, _) = bot_may(&mut world, guild_id, bot, permissions::MANAGE_ROLES)?;
        let highest = guild.highest_position(bot);
        let role = snowflake(&role_id)
            .and_then(|r| guild.roles.get(&r))
            .ok_or_else(|| DiscordError::unknown(10011, "Role"))?;
        if role.position >= highest || role.managed || role.id == guild_id {
            return Err(DiscordError::missing_permissions());
        }
        let id = role.id;
        guild.roles.remove(&id);
        for member in guild.members.values_mut() {
            member.roles.retain(|r| *r != id);
        }
        // Discord drops the role's permission overwrites with it (a race may leave one behind:
        // discord-api-docs #4303, where Discord says to ignore unresolved references).
        let mut touched = Vec::new();
        for channel in guild.channels.values_mut() {
            let before = channel.overwrites.len();
            channel.overwrites.retain(|o| !(o.kind == 0 && o.id == id));
            if channel.overwrites.len() != before {
                touched.push(channel.clone());
            }
        }
        (id, touched)
    };
    let (role_id, touched) = role_id;
    sim.gateway.dispatch(
        Some(guild_id),
        "GUILD_ROLE_DELETE",
        json!({"guild_id": guild_id.to_string(), "role_id": role_id.to_string()}),
    );
    for channel in touched {
        sim.gateway.dispatch(Some(guild_id), "CHANNEL_UPDATE", world::channel_json(guild_id, &channel));
    }
    no_content()
}

async fn move_roles(State(sim): Shared, Path(guild_id): Path<String>, bytes: Bytes) -> Reply {
    let guild_id = parse_guild(&guild_id)?;
    let moves = body(&bytes).as_array().cloned().unwrap_or_default();
    let bot = sim.bot_id();
    let (all, changed) = {
        let mut world = sim.world();
        let (guild, _) = bot_may(&mut world, guild_id, bot, permissions::MANAGE_ROLES)?;
        let highest = guild.highest_position(bot);
        let mut changed = Vec::new();
        for m in &moves {
            let id = m.get("id").and_then(id_of).ok_or_else(|| DiscordError::unknown(10011, "Role"))?;
            let role = guild.roles.get(&id).ok_or_else(|| DiscordError::unknown(10011, "Role"))?;
            let position = m.get("position").and_then(Value::as_i64).unwrap_or(role.position);
            if role.position >= highest || position >= highest || id == guild_id {
                return Err(DiscordError::missing_permissions());
            }
        }
        // As on Discord, the roles moved take the positions asked for and the others keep their
        // order around them; positions are renumbered 1..n above @everyone.
        let mut moved: Vec<(i64, u64)> = moves
            .iter()
            .filter_map(|m| Some((m.get("position").and_then(Value::as_i64)?, m.get("id").and_then(id_of)?)))
            .collect();
        moved.sort_unstable();
        let mut others: Vec<(i64, u64)> = guild
            .roles
            .values()
            .filter(|r| r.id != guild_id && !moved.iter().any(|(_, id)| *id == r.id))
            .map(|r| (r.position, r.id))
            .collect();
        others.sort_unstable();
        let (mut moved, mut others) = (moved.into_iter().peekable(), others.into_iter().peekable());
        let mut slot = 1;
        while moved.peek().is_some() || others.peek().is_some() {
            let take_moved = match (moved.peek(), others.peek()) {
                (Some((asked, _)), Some(_)) => *asked <= slot,
                (Some(_), None) => true,
                _ => false,
            };
            let id = if take_moved { moved.next().map(|m| m.1) } else { others.next().map(|o| o.1) };
            if let Some(role) = id.and_then(|id| guild.roles.get_mut(&id))
                && role.position != slot
            {
                role.position = slot;
                changed.push(role.clone());
            }
            slot += 1;
        }
        (guild.roles.values().map(world::role_json).collect::<Vec<_>>(), changed)
    };
    for role in changed {
        sim.gateway.dispatch(
            Some(guild_id),
            "GUILD_ROLE_UPDATE",
            json!({"guild_id": guild_id.to_string(), "role": world::role_json(&role)}),
        );
    }
    ok(Value::Array(all))
}

// ---- channels ------------------------------------------------------------------------------------

/// The name as Discord stores it, or the form error Discord gives when nothing is left.
fn stored_name(kind: u8, name: &str) -> Result<String, DiscordError> {
    world::stored_channel_name(kind, name)
        .ok_or_else(|| DiscordError::field("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."))
}

fn parse_overwrites(value: Option<&Value>, granted: u64) -> Result<Option<Vec<Overwrite>>, DiscordError> {
    let Some(list) = value.and_then(Value::as_array) else { return Ok(None) };
    let mut out = Vec::new();
    for o in list {
        let id = o
            .get("id")
            .and_then(id_of)
            .ok_or_else(|| DiscordError::field("permission_overwrites", "BASE_TYPE_REQUIRED", "id is required"))?;
        let allow = o.get("allow").and_then(bits).unwrap_or(0);
        let deny = o.get("deny").and_then(bits).unwrap_or(0);
        // Overwrites may only allow or deny what the bot itself holds.
        check_grantable(granted, allow | deny)?;
        out.push(Overwrite { id, kind: o.get("type").and_then(Value::as_u64).unwrap_or(0) as u8, allow, deny });
    }
    Ok(Some(out))
}

async fn list_channels(State(sim): Shared, Path(guild): Path<String>) -> Reply {
    let guild = parse_guild(&guild)?;
    let world = sim.world();
    let g = guild_ref(&world, guild)?;
    ok(g.channels.values().map(|c| world::channel_json(guild, c)).collect())
}

async fn create_channel(State(sim): Shared, Path(guild_id): Path<String>, bytes: Bytes) -> Reply {
    let guild_id = parse_guild(&guild_id)?;
    let request = body(&bytes);
    let bot = sim.bot_id();
    let id = sim.next_id();
    let channel = {
        let mut world = sim.world();
        let (guild, granted) = bot_may(&mut world, guild_id, bot, permissions::MANAGE_CHANNELS)?;
        if guild.channels.len() >= MAX_CHANNELS {
            return Err(DiscordError::maximum(30013, "Maximum number of guild channels reached (500)"));
        }
        let kind = request.get("type").and_then(Value::as_u64).unwrap_or(0) as u8;
        if !matches!(kind, 0 | 2 | 4 | 5) {
            return Err(DiscordError::field("type", "BASE_TYPE_CHOICES", "Value must be one of {0, 2, 4, 5}."));
        }
        let parent_id = request.get("parent_id").and_then(id_of);
        if let Some(parent) = parent_id
            && guild.channels.get(&parent).is_none_or(|p| p.kind != 4)
        {
            return Err(DiscordError::field("parent_id", "CHANNEL_PARENT_INVALID", "Category does not exist."));
        }
        let overwrites = parse_overwrites(request.get("permission_overwrites"), granted)?.unwrap_or_default();
        let name = stored_name(kind, request.get("name").and_then(Value::as_str).unwrap_or_default())?;
        let channel = Channel {
            id,
            kind,
            name,
            position: request.get("position").and_then(Value::as_i64).unwrap_or(guild.channels.len() as i64),
            parent_id,
            topic: request.get("topic").and_then(Value::as_str).map(str::to_owned),
            overwrites,
            last_message_id: None,
        };
        guild.channels.insert(id, channel.clone());
        world.channel_guild.insert(id, guild_id);
        channel
    };
    let json = world::channel_json(guild_id, &channel);
    sim.gateway.dispatch(Some(guild_id), "CHANNEL_CREATE", json.clone());
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

async fn move_channels(State(sim): Shared, Path(guild_id): Path<String>, bytes: Bytes) -> Reply {
    let guild_id = parse_guild(&guild_id)?;
    let moves = body(&bytes).as_array().cloned().unwrap_or_default();
    let bot = sim.bot_id();
    let changed = {
        let mut world = sim.world();
        let (guild, _) = bot_may(&mut world, guild_id, bot, permissions::MANAGE_CHANNELS)?;
        let mut changed = Vec::new();
        for m in &moves {
            let id = m.get("id").and_then(id_of).ok_or_else(|| DiscordError::unknown(10003, "Channel"))?;
            let channel = guild.channels.get_mut(&id).ok_or_else(|| DiscordError::unknown(10003, "Channel"))?;
            if let Some(p) = m.get("position").and_then(Value::as_i64) {
                channel.position = p;
            }
            if let Some(parent) = m.get("parent_id") {
                channel.parent_id = id_of(parent);
            }
            changed.push(channel.clone());
        }
        changed
    };
    for c in changed {
        sim.gateway.dispatch(Some(guild_id), "CHANNEL_UPDATE", world::channel_json(guild_id, &c));
    }
    no_content()
}

fn channel_guild(sim: &Sim, channel: &str) -> Result<(u64, u64), DiscordError> {
    let channel = snowflake(channel).ok_or_else(|| DiscordError::unknown(10003, "Channel"))?;
    let guild =
        sim.world().channel_guild.get(&channel).copied().ok_or_else(|| DiscordError::unknown(10003, "Channel"))?;
    Ok((guild, channel))
}

async fn get_channel(State(sim): Shared, Path(channel): Path<String>) -> Reply {
    let (guild_id, channel_id) = channel_guild(&sim, &channel)?;
    let world = sim.world();
    let channel = world
        .guilds
        .get(&guild_id)
        .and_then(|g| g.channels.get(&channel_id))
        .ok_or_else(|| DiscordError::unknown(10003, "Channel"))?;
    ok(world::channel_json(guild_id, channel))
}

async fn modify_channel(State(sim): Shared, Path(channel): Path<String>, bytes: Bytes) -> Reply {
    let (guild_id, channel_id) = channel_guild(&sim, &channel)?;
    let request = body(&bytes);
    let bot = sim.bot_id();
    let channel = {
        let mut world = sim.world();
        let (guild, granted) = bot_may(&mut world, guild_id, bot, permissions::MANAGE_CHANNELS)?;
        let overwrites = parse_overwrites(request.get("permission_overwrites"), granted)?;
        let channel = guild.channels.get_mut(&channel_id).ok_or_else(|| DiscordError::unknown(10003, "Channel"))?;
        if let Some(name) = request.get("name").and_then(Value::as_str) {
            channel.name = stored_name(channel.kind, name)?;
        }
        if let Some(topic) = request.get("topic") {
            channel.topic = topic.as_str().map(str::to_owned);
        }
        if let Some(position) = request.get("position").and_then(Value::as_i64) {
            channel.position = position;
        }
        if let Some(parent) = request.get("parent_id") {
            channel.parent_id = id_of(parent);
        }
        if let Some(overwrites) = overwrites {
            channel.overwrites = overwrites;
        }
        channel.clone()
    };
    let json = world::channel_json(guild_id, &channel);
    sim.gateway.dispatch(Some(guild_id), "CHANNEL_UPDATE", json.clone());
    ok(json)
}

async fn delete_channel(State(sim): Shared, Path(channel): Path<String>) -> Reply {
    let (guild_id, channel_id) = channel_guild(&sim, &channel)?;
    let bot = sim.bot_id();
    let channel = {
        let mut world = sim.world();
        let (guild, _) = bot_may(&mut world, guild_id, bot, permissions::MANAGE_CHANNELS)?;
        let channel = guild.channels.remove(&channel_id).ok_or_else(|| DiscordError::unknown(10003, "Channel"))?;
        world.channel_guild.remove(&channel_id);
        channel
    };
    let json = world::channel_json(guild_id, &channel);
    sim.gateway.dispatch(Some(guild_id), "CHANNEL_DELETE", json.clone());
    ok(json)
}

async fn put_overwrite(State(sim): Shared, Path((channel, target)): Path<(String, String)>, bytes: Bytes) -> Reply {
    let (guild_id, channel_id) = channel_guild(&sim, &channel)?;
    let target = snowflake(&target).ok_or_else(|| DiscordError::unknown(10009, "Overwrite"))?;
    let request = body(&bytes);
    let bot = sim.bot_id();
    let channel = {
        let mut world = sim.world();
        let (guild, granted) = bot_may(&mut world, guild_id, bot, permissions::MANAGE_ROLES)?;
        let allow = request.get("allow").and_then(bits).unwrap_or(0);
        let deny = request.get("deny").and_then(bits).unwrap_or(0);
        check_grantable(granted, allow | deny)?;
        let kind = request.get("type").and_then(Value::as_u64).unwrap_or(0) as u8;
        let channel = guild.channels.get_mut(&channel_id).ok_or_else(|| DiscordError::unknown(10003, "Channel"))?;
        channel.overwrites.retain(|o| o.id != target);
        channel.overwrites.push(Overwrite { id: target, kind, allow, deny });
        channel.clone()
    };
    sim.gateway.dispatch(Some(guild_id), "CHANNEL_UPDATE", world::channel_json(guild_id, &channel));
    no_content()
}

async fn delete_overwrite(State(sim): Shared, Path((channel, target)): Path<(String, String)>) -> Reply {
    let (guild_id, channel_id) = channel_guild(&sim, &channel)?;
    let target = snowflake(&target).ok_or_else(|| DiscordError::unknown(10009, "Overwrite"))?;
    let bot = sim.bot_id();
    let channel = {
        let mut world = sim.world();
        let (guild, _) = bot_may(&mut world, guild_id, bot, permissions::MANAGE_ROLES)?;
        let channel = guild.channels.get_mut(&channel_id).ok_or_else(|| DiscordError::unknown(10003, "Channel"))?;
        channel.overwrites.retain(|o| o.id != target);
        channel.clone()
    };
    sim.gateway.dispatch(Some(guild_id), "CHANNEL_UPDATE", world::channel_json(guild_id, &channel));
    no_content()
}

// ---- messages ------------------------------------------------------------------------------------

async fn list_messages(State(sim): Shared, Path(channel): Path<String>) -> Reply {
    let (_, channel_id) = channel_guild(&sim, &channel)?;
    let mut messages = sim.world().messages.get(&channel_id).cloned().unwrap_or_default();
    messages.reverse();
    ok(Value::Array(messages))
}

async fn create_message(State(sim): Shared, Path(channel): Path<String>, bytes: Bytes) -> Reply {
    let (guild_id, channel_id) = channel_guild(&sim, &channel)?;
    let request = body(&bytes);
    let id = sim.next_id();
    let message = sim.message_json(channel_id, &request, id, 0);
    let mut stored = message.clone();
    stored["components"] = request.get("components").cloned().unwrap_or(json!([]));
    let mut world = sim.world();
    world.messages.entry(channel_id).or_default().push(stored);
    // The channel's `last_message_id` is a snowflake: it tells when the channel was last used.
    if let Some(c) = world.guilds.get_mut(&guild_id).and_then(|g| g.channels.get_mut(&channel_id)) {
        c.last_message_id = Some(id);
    }
    drop(world);
    ok(message)
}

/// `PATCH /channels/{channel_id}/messages/{message_id}`: the bot edits its own message.
async fn edit_message(State(sim): Shared, Path((channel, message)): Path<(String, String)>, bytes: Bytes) -> Reply {
    let (_, channel_id) = channel_guild(&sim, &channel)?;
    let request = body(&bytes);
    let mut state = sim.world();
    let stored = state
        .messages
        .get_mut(&channel_id)
        .and_then(|list| list.iter_mut().find(|m| m["id"].as_str() == Some(message.as_str())))
        .ok_or_else(|| DiscordError::unknown(10008, "Message"))?;
    for field in ["content", "embeds", "components"] {
        if let Some(value) = request.get(field).filter(|v| !v.is_null()) {
            stored[field] = value.clone();
        }
    }
    stored["edited_timestamp"] = json!(world::JOINED_AT);
    let mut response = stored.clone();
    response["components"] = json!([]);
    ok(response)
}

// ---- members -------------------------------------------------------------------------------------

async fn list_members(
    State(sim): Shared,
    Path(guild_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Reply {
    let guild_id = parse_guild(&guild_id)?;
    let limit = match query.get("limit") {
        None => 1,
        Some(l) => match l.parse::<usize>() {
            Ok(l) if (1..=1000).contains(&l) => l,
            _ => return Err(DiscordError::field("limit", "NUMBER_TYPE_MAX", "Must be between 1 and 1000.")),
        },
    };
    let after = match query.get("after") {
        None => 0,
        Some(a) => a
            .parse::<u64>()
            .map_err(|_| DiscordError::field("after", "NUMBER_TYPE_COERCE", "Value is not snowflake."))?,
    };
    let world = sim.world();
    let guild = guild_ref(&world, guild_id)?;
    if !sim.config().privileged_intents {
        return Err(DiscordError::missing_permissions());
    }
    let page: Vec<Value> =
        guild.members.range(after.saturating_add(1)..).take(limit).map(|(_, m)| world::member_json(m)).collect();
    ok(Value::Array(page))
}

fn member_of<'a>(guild: &'a world::Guild, user: &str) -> Result<&'a Member, DiscordError> {
    snowflake(user).and_then(|u| guild.members.get(&u)).ok_or_else(|| DiscordError::unknown(10007, "Member"))
}

async fn get_member(State(sim): Shared, Path((guild_id, user)): Path<(String, String)>) -> Reply {
    let guild_id = parse_guild(&guild_id)?;
    let world = sim.world();
    let guild = guild_ref(&world, guild_id)?;
    ok(world::member_json(member_of(guild, &user)?))
}

fn member_update(sim: &Sim, guild_id: u64, member: &Member) {
    let mut payload = world::member_json(member);
    payload["guild_id"] = json!(guild_id.to_string());
    sim.gateway.dispatch(Some(guild_id), "GUILD_MEMBER_UPDATE", payload);
}

/// Roles the bot may grant or take: below its highest role, not @everyone, not managed.
fn check_assignable(guild: &world::Guild, bot: u64, role_id: u64) -> Result<(), DiscordError> {
    let role = guild.roles.get(&role_id).ok_or_else(|| DiscordError::unknown(10011, "Role"))?;
    if role.position >= guild.highest_position(bot) || role.managed || role_id == guild.id {
        return Err(DiscordError::missing_permissions());
    }
    Ok(())
}

async fn modify_member(State(sim): Shared, Path((guild_id, user)): Path<(String, String)>, bytes: Bytes) -> Reply {
    let guild_id = parse_guild(&guild_id)?;
    let request = body(&bytes);
    let bot = sim.bot_id();
    let member = {
        let mut world = sim.world();
        let guild = guild_mut(&mut world, guild_id)?;
        let current = member_of(guild, &user)?.clone();
        let mut member = current.clone();
        if let Some(roles) = request.get("roles").and_then(Value::as_array) {
            require(guild.member_permissions(bot), permissions::MANAGE_ROLES)?;
            let wanted: Vec<u64> = roles.iter().filter_map(id_of).collect();
            for changed in wanted
                .iter()
                .filter(|r| !current.roles.contains(r))
                .chain(current.roles.iter().filter(|r| !wanted.contains(r)))
            {
                check_assignable(guild, bot, *changed)?;
            }
            member.roles = wanted;
        }
        if let Some(nick) = request.get("nick") {
            member.nick = nick.as_str().map(str::to_owned);
        }
        guild.members.insert(member.user_id, member.clone());
        member
    };
    member_update(&sim, guild_id, &member);
    ok(world::member_json(&member))
}

async fn add_member_role(
    State(sim): Shared,
    Path((guild_id, user, role)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Reply {
    change_member_role(&sim, &guild_id, &user, &role, true, audit_reason(&headers))
}

async fn remove_member_role(
    State(sim): Shared,
    Path((guild_id, user, role)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Reply {
    change_member_role(&sim, &guild_id, &user, &role, false, audit_reason(&headers))
}

/// `GET /guilds/{guild_id}/audit-logs`: the member-role changes, newest first, filtered by
/// `user_id`, `target_id`, `action_type`, `before` and `after`, at most `limit` (1–100, 50 by
/// default). Needs View Audit Log, as on Discord.
async fn audit_log(
    State(sim): Shared,
    Path(guild_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let guild_id = parse_guild(&guild_id)?;
    let id = |key: &str| -> Result<Option<u64>, DiscordError> {
        q.get(key)
            .map(|v| {
                snowflake(v).ok_or_else(|| DiscordError::field(key, "NUMBER_TYPE_COERCE", "Value is not snowflake."))
            })
            .transpose()
    };
    let (user, target, before, after) = (id("user_id")?, id("target_id")?, id("before")?, id("after")?);
    let action = q
        .get("action_type")
        .map(|v| {
            v.parse::<u8>().map_err(|_| DiscordError::field("action_type", "NUMBER_TYPE_COERCE", "Value is not int."))
        })
        .transpose()?;
    let limit = match q.get("limit").map(|v| v.parse::<usize>()) {
        None => 50,
        Some(Ok(l)) if (1..=100).contains(&l) => l,
        Some(_) => {
            return Err(DiscordError::field("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 100."));
        }
    };
    let world = sim.world();
    let guild = guild_ref(&world, guild_id)?;
    require(guild.member_permissions(sim.bot_id()), permissions::VIEW_AUDIT_LOG)?;
    // Newest first, by id (a snowflake's time), as Discord lists them.
    let mut newest: Vec<&world::AuditEntry> = guild.audit_log.iter().collect();
    newest.sort_unstable_by_key(|e| std::cmp::Reverse(e.id));
    let entries: Vec<&world::AuditEntry> = newest
        .into_iter()
        .filter(|e| user.is_none_or(|u| e.user_id == u))
        .filter(|e| target.is_none_or(|t| e.target_id == t))
        .filter(|e| action.is_none_or(|a| e.action_type == a))
        .filter(|e| before.is_none_or(|b| e.id < b) && after.is_none_or(|a| e.id > a))
        .take(limit)
        .collect();
    let mut users: Vec<u64> = entries.iter().map(|e| e.user_id).collect();
    users.sort_unstable();
    users.dedup();
    let users: Vec<Value> = users
        .iter()
        .filter_map(|u| guild.members.get(u))
        .map(|m| world::user_json(m.user_id, &m.username, m.bot))
        .collect();
    let entries: Vec<Value> = entries.into_iter().map(world::audit_entry_json).collect();
    ok(json!({
        "audit_log_entries": entries, "users": users, "integrations": [], "webhooks": [],
        "guild_scheduled_events": [], "threads": [], "application_commands": [], "auto_moderation_rules": []
    }))
}

fn change_member_role(sim: &Sim, guild_id: &str, user: &str, role: &str, add: bool, reason: Option<String>) -> Reply {
    let guild_id = parse_guild(guild_id)?;
    let bot = sim.bot_id();
    let member = {
        let mut world = sim.world();
        let (guild, _) = bot_may(&mut world, guild_id, bot, permissions::MANAGE_ROLES)?;
        let role_id = snowflake(role).ok_or_else(|| DiscordError::unknown(10011, "Role"))?;
        check_assignable(guild, bot, role_id)?;
        let user_id = member_of(guild, user)?.user_id;
        let member = guild.members.get_mut(&user_id).ok_or_else(|| DiscordError::unknown(10007, "Member"))?;
        let had = member.roles.contains(&role_id);
        if add && !had {
            member.roles.push(role_id);
        } else if !add && had {
            member.roles.retain(|r| *r != role_id);
        } else {
            return no_content();
        }
        let member = member.clone();
        let name = guild.roles.get(&role_id).map(|r| r.name.clone()).unwrap_or_default();
        guild.audit_role_change(world::AuditEntry {
            id: sim.next_id(),
            action_type: world::MEMBER_ROLE_UPDATE,
            user_id: bot,
            target_id: user_id,
            added: add,
            role: (role_id, name),
            reason,
        });
        member
    };
    member_update(sim, guild_id, &member);
    no_content()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_interactions_follow_ups_have_a_bucket_of_their_own_and_a_guild_has_one_per_route() {
        let followup = "/webhooks/{webhook_id}/{webhook_token}";
        let a = classify(&Method::POST, followup, "/webhooks/1/token-a");
        let b = classify(&Method::POST, followup, "/webhooks/1/token-b");
        assert_ne!(a.key, b.key, "one application id, two interactions: two buckets");
        assert_eq!(a.hash, b.hash, "Discord announces the same bucket hash for the route");
        assert!(a.interaction && !a.member_roles);
        let members = "/guilds/{guild_id}/members/{user_id}";
        let one = classify(&Method::GET, members, "/guilds/5/members/7");
        let other = classify(&Method::GET, members, "/guilds/5/members/8");
        assert_eq!(one.key, other.key, "single member reads of a guild share its bucket");
        assert_ne!(one.key, classify(&Method::GET, members, "/guilds/6/members/7").key);
    }
}
