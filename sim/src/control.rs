//! The control API under `/_sim`: what tests and the demo use to seed guilds, inject
//! interactions and faults, and read back the log and counters. Not part of Discord's API.

use crate::{
    config::Limits,
    interactions::{self, InjectInteraction},
    ratelimit::RateCounters,
    state::{Faults, GuildSeed, Interaction, LogEntry, ReadEntry, Sim, opt_snowflake},
    world::{self, Channel, Member, Role},
};
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

type Shared = State<Arc<Sim>>;

/// The control routes.
pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/_sim/reset", post(reset))
        .route("/_sim/guilds", post(create_guild))
        .route("/_sim/guilds/bulk", post(create_guilds))
        .route("/_sim/guilds/{guild_id}", get(guild_state))
        .route("/_sim/guilds/{guild_id}/roles", post(seed_roles))
        .route("/_sim/guilds/{guild_id}/channels", post(seed_channels))
        .route("/_sim/guilds/{guild_id}/members", post(seed_members).get(member_roles))
        .route(
            "/_sim/guilds/{guild_id}/members/{user_id}",
            axum::routing::delete(remove_member).patch(set_member_roles),
        )
        .route("/_sim/channels/{channel_id}/messages", get(channel_messages))
        .route("/_sim/interactions", post(inject))
        .route("/_sim/interactions/{id}", get(interaction_report))
        .route("/_sim/faults", get(get_faults).put(put_faults))
        .route("/_sim/limits", get(get_limits).put(put_limits))
        .route("/_sim/gateway/drop", post(drop_gateway))
        .route("/_sim/gateway/reconnect", post(reconnect_gateway))
        .route("/_sim/gateway/invalidate", post(invalidate_sessions))
        .route("/_sim/gateway/shards", get(shards))
        .route("/_sim/log", get(read_log).delete(clear_log))
        .route("/_sim/reads", get(read_reads))
        .route("/_sim/counters", get(counters))
        .with_state(sim)
}

fn bad(message: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message.into()}))).into_response()
}

fn guild_id(raw: &str) -> Result<u64, String> {
    raw.parse().map_err(|_| format!("guild_id: a snowflake, got {raw:?}"))
}

async fn reset(State(sim): Shared) -> StatusCode {
    *sim.world() = crate::state::World::default();
    if let Ok(mut l) = sim.limiter.lock() {
        *l = crate::ratelimit::RateLimiter::default();
    }
    if let Ok(mut f) = sim.faults.lock() {
        *f = Faults::default();
    }
    if let Ok(mut log) = sim.log.lock() {
        log.clear();
    }
    if let Ok(mut reads) = sim.reads.lock() {
        reads.clear();
    }
    if let Ok(mut v) = sim.contract_violations.lock() {
        v.clear();
    }
    sim.gateway.reset();
    StatusCode::NO_CONTENT
}

async fn create_guild(State(sim): Shared, Json(seed): Json<GuildSeed>) -> Response {
    if seed.name.is_empty() || seed.name.chars().count() > 100 {
        return bad("name: 1 to 100 characters");
    }
    if seed.id.is_some_and(|id| sim.world().guilds.contains_key(&id)) {
        return bad("id: a guild with this id exists");
    }
    let id = sim.create_guild(seed);
    let guild = sim.world().guilds.get(&id).cloned();
    if let Some(guild) = guild {
        sim.gateway.dispatch(Some(id), "GUILD_CREATE", world::guild_create_json(&guild, sim.bot_id()));
    }
    Json(json!({"id": id.to_string()})).into_response()
}

/// Many guilds at once (a bot in thousands of servers), each announced like a join.
#[derive(Debug, Serialize, Deserialize)]
pub struct BulkGuilds {
    /// How many (1 to 100,000).
    pub count: u32,
}

async fn create_guilds(State(sim): Shared, Json(bulk): Json<BulkGuilds>) -> Response {
    if !(1..=100_000).contains(&bulk.count) {
        return bad("count: 1 to 100000");
    }
    let mut ids = Vec::with_capacity(bulk.count as usize);
    for n in 0..bulk.count {
        let id = sim.create_guild(GuildSeed { name: format!("guild {n}"), ..GuildSeed::default() });
        let guild = sim.world().guilds.get(&id).cloned();
        if let Some(guild) = guild {
            sim.gateway.dispatch(Some(id), "GUILD_CREATE", world::guild_create_json(&guild, sim.bot_id()));
        }
        ids.push(id.to_string());
    }
    Json(json!({"ids": ids})).into_response()
}

/// A guild's state as a test inspects it.
#[derive(Debug, Serialize, Deserialize)]
pub struct GuildState {
    /// Roles as Discord renders them.
    pub roles: Vec<Value>,
    /// Channels as Discord renders them.
    pub channels: Vec<Value>,
    /// Members in the guild.
    pub member_count: usize,
}

/// The messages the bot posted in a channel, oldest first, with their components.
async fn channel_messages(State(sim): Shared, Path(raw): Path<String>) -> Response {
    match raw.parse::<u64>() {
        Ok(id) => Json(sim.world().messages.get(&id).cloned().unwrap_or_default()).into_response(),
        Err(_) => bad("channel_id: not a snowflake".to_string()),
    }
}

async fn guild_state(State(sim): Shared, Path(raw): Path<String>) -> Response {
    let id = match guild_id(&raw) {
        Ok(id) => id,
        Err(e) => return bad(e),
    };
    let world = sim.world();
    let Some(guild) = world.guilds.get(&id) else { return (StatusCode::NOT_FOUND, "unknown guild").into_response() };
    Json(GuildState {
        roles: guild.roles.values().map(world::role_json).collect(),
        channels: guild.channels.values().map(|c| world::channel_json(id, c)).collect(),
        member_count: guild.members.len(),
    })
    .into_response()
}

/// A role to seed.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RoleSeed {
    /// Id (generated when absent).
    #[serde(with = "opt_snowflake")]
    pub id: Option<u64>,
    /// Name.
    pub name: String,
    /// Position.
    pub position: i64,
    /// Permission bits.
    pub permissions: u64,
    /// Colour.
    pub color: u32,
    /// Managed by an integration (another bot's role).
    pub managed: bool,
}

async fn seed_roles(State(sim): Shared, Path(raw): Path<String>, Json(roles): Json<Vec<RoleSeed>>) -> Response {
    let id = match guild_id(&raw) {
        Ok(id) => id,
        Err(e) => return bad(e),
    };
    let ids: Vec<u64> = roles.iter().map(|r| r.id.unwrap_or_else(|| sim.next_id())).collect();
    let mut world = sim.world();
    let Some(guild) = world.guilds.get_mut(&id) else { return bad("unknown guild") };
    if guild.roles.len() + roles.len() > world::MAX_ROLES {
        return bad("roles: a guild holds at most 250 roles");
    }
    for (role, rid) in roles.into_iter().zip(&ids) {
        guild.roles.insert(
            *rid,
            Role {
                id: *rid,
                name: role.name,
                color: role.color,
                hoist: false,
                mentionable: false,
                position: role.position,
                permissions: role.permissions,
                managed: role.managed,
            },
        );
    }
    Json(ids.iter().map(u64::to_string).collect::<Vec<_>>()).into_response()
}

/// A channel to seed.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelSeed {
    /// Id (generated when absent).
    #[serde(with = "opt_snowflake")]
    pub id: Option<u64>,
    /// Name.
    pub name: String,
    /// 0 text, 2 voice, 4 category, 5 announcement.
    #[serde(rename = "type")]
    pub kind: u8,
    /// Its category.
    #[serde(with = "opt_snowflake")]
    pub parent_id: Option<u64>,
    /// Topic.
    pub topic: Option<String>,
    /// When its last message was posted (Unix ms): its `last_message_id` is a snowflake of then.
    pub last_message_at_ms: Option<u64>,
}

/// A snowflake made at `at_ms` (Unix ms), as Discord's ids carry their time.
fn snowflake_at(at_ms: u64, sequence: u64) -> u64 {
    (at_ms.saturating_sub(world::DISCORD_EPOCH_MS) << 22) | (sequence & 0xfff)
}

async fn seed_channels(
    State(sim): Shared,
    Path(raw): Path<String>,
    Json(channels): Json<Vec<ChannelSeed>>,
) -> Response {
    let id = match guild_id(&raw) {
        Ok(id) => id,
        Err(e) => return bad(e),
    };
    let ids: Vec<u64> = channels.iter().map(|c| c.id.unwrap_or_else(|| sim.next_id())).collect();
    let mut world = sim.world();
    let Some(guild) = world.guilds.get_mut(&id) else { return bad("unknown guild") };
    if guild.channels.len() + channels.len() > world::MAX_CHANNELS {
        return bad("channels: a guild holds at most 500 channels");
    }
    for (i, (channel, cid)) in channels.into_iter().zip(&ids).enumerate() {
        // Seeded channels are what Discord already holds, so their names are stored its way.
        let name = world::stored_channel_name(channel.kind, &channel.name).unwrap_or(channel.name);
        guild.channels.insert(
            *cid,
            Channel {
                id: *cid,
                kind: channel.kind,
                name,
                position: i as i64,
                parent_id: channel.parent_id,
                topic: channel.topic,
                overwrites: Vec::new(),
                last_message_id: channel.last_message_at_ms.map(|at| snowflake_at(at, i as u64)),
            },
        );
    }
    for cid in &ids {
        world.channel_guild.insert(*cid, id);
    }
    Json(ids.iter().map(u64::to_string).collect::<Vec<_>>()).into_response()
}

/// Members to seed: explicit ones (dispatched as GUILD_MEMBER_ADD) and a generated range
/// (quietly, so 100,000 take a moment, not a flood of events).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MembersSeed {
    /// Explicit members.
    pub members: Vec<MemberSeed>,
    /// A generated range.
    pub generate: Option<GenerateMembers>,
}

/// One member.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MemberSeed {
    /// User id.
    #[serde(with = "opt_snowflake")]
    pub id: Option<u64>,
    /// Username.
    pub username: Option<String>,
    /// A bot account (an incumbent bot, say).
    pub bot: bool,
    /// Role ids.
    pub roles: Vec<String>,
    /// A member from before (joined at the stand-in's fixed past date, no GUILD_MEMBER_ADD
    /// semantics for the join time); by default a member seeded one by one joins now.
    pub long_standing: bool,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// `count` members with ids `first_id`, `first_id + 1`, …; every `role_every`-th gets `roles`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateMembers {
    /// How many.
    pub count: u64,
    /// The first user id.
    pub first_id: u64,
    /// Roles for some of them.
    pub roles: Vec<String>,
    /// Give `roles` to every n-th member (0: none).
    pub role_every: u64,
}

/// Every member's role ids (user id → roles), as the guild holds them now: how a test reads
/// the truth without spending the bot's rate limits or being refused by them.
async fn member_roles(State(sim): Shared, Path(raw): Path<String>) -> Response {
    let id = match guild_id(&raw) {
        Ok(id) => id,
        Err(e) => return bad(e),
    };
    let world = sim.world();
    let Some(guild) = world.guilds.get(&id) else { return (StatusCode::NOT_FOUND, "unknown guild").into_response() };
    let roles: std::collections::BTreeMap<String, Vec<String>> =
        guild.members.values().map(|m| (m.user_id.to_string(), m.roles.iter().map(u64::to_string).collect())).collect();
    Json(roles).into_response()
}

async fn seed_members(State(sim): Shared, Path(raw): Path<String>, Json(seed): Json<MembersSeed>) -> Response {
    let id = match guild_id(&raw) {
        Ok(id) => id,
        Err(e) => return bad(e),
    };
    let mut added = Vec::new();
    let total = {
        let mut world = sim.world();
        let Some(guild) = world.guilds.get_mut(&id) else { return bad("unknown guild") };
        for m in seed.members {
            let Some(user_id) = m.id else { return bad("members[].id is required") };
            let member = Member {
                user_id,
                username: m.username.unwrap_or_else(|| format!("user{user_id}")),
                bot: m.bot,
                roles: m.roles.iter().filter_map(|r| r.parse().ok()).collect(),
                nick: None,
                // Seeded one by one they join now (GUILD_MEMBER_ADD), unless they were members
                // before.
                joined_at_ms: (!m.long_standing).then(now_ms),
            };
            guild.members.insert(user_id, member.clone());
            added.push(member);
        }
        if let Some(generate) = seed.generate {
            if generate.first_id == 0 {
                return bad("generate.first_id must be a user id above 0");
            }
            let roles: Vec<u64> = generate.roles.iter().filter_map(|r| r.parse().ok()).collect();
            for n in 0..generate.count {
                let user_id = generate.first_id + n;
                let gets = generate.role_every > 0 && n % generate.role_every == 0;
                guild.members.insert(
                    user_id,
                    Member {
                        user_id,
                        username: format!("member{user_id}"),
                        bot: false,
                        roles: if gets { roles.clone() } else { Vec::new() },
                        nick: None,
                        joined_at_ms: None,
                    },
                );
            }
        }
        guild.members.len()
    };
    for member in added {
        let mut payload = world::member_json(&member);
        payload["guild_id"] = json!(id.to_string());
        sim.gateway.dispatch(Some(id), "GUILD_MEMBER_ADD", payload);
    }
    Json(json!({"member_count": total})).into_response()
}

async fn remove_member(State(sim): Shared, Path((raw, user)): Path<(String, String)>) -> Response {
    let id = match guild_id(&raw) {
        Ok(id) => id,
        Err(e) => return bad(e),
    };
    let Ok(user_id) = user.parse::<u64>() else { return bad("user_id: a snowflake") };
    let removed = sim.world().guilds.get_mut(&id).and_then(|g| g.members.remove(&user_id));
    match removed {
        Some(m) => {
            sim.gateway.dispatch(
                Some(id),
                "GUILD_MEMBER_REMOVE",
                json!({"guild_id": id.to_string(), "user": world::user_json(m.user_id, &m.username, m.bot)}),
            );
            StatusCode::NO_CONTENT.into_response()
        }
        None => (StatusCode::NOT_FOUND, "unknown member").into_response(),
    }
}

/// Another actor (an incumbent bot, an admin) changing a member's roles.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct MemberRoles {
    /// The full role list.
    pub roles: Vec<String>,
    /// Who changes them (a user id): the audit log records each role added or taken under
    /// this user, as Discord does. Without it the change is not logged (seeding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// When the actor made the change (Unix ms; now by default): the audit entries' ids are
    /// snowflakes of then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
}

async fn set_member_roles(
    State(sim): Shared,
    Path((raw, user)): Path<(String, String)>,
    Json(body): Json<MemberRoles>,
) -> Response {
    let id = match guild_id(&raw) {
        Ok(id) => id,
        Err(e) => return bad(e),
    };
    let Ok(user_id) = user.parse::<u64>() else { return bad("user_id: a snowflake") };
    let updated = {
        let actor = match body.actor.as_deref().map(str::parse::<u64>).transpose() {
            Ok(actor) => actor,
            Err(_) => return bad("actor: a user id (snowflake)"),
        };
        let mut world = sim.world();
        let Some(guild) = world.guilds.get_mut(&id) else { return bad("unknown guild") };
        let Some(member) = guild.members.get_mut(&user_id) else {
            return (StatusCode::NOT_FOUND, "unknown member").into_response();
        };
        let before = std::mem::replace(&mut member.roles, body.roles.iter().filter_map(|r| r.parse().ok()).collect());
        let member = member.clone();
        if let Some(actor) = actor {
            let added = member.roles.iter().filter(|r| !before.contains(r)).map(|r| (*r, true));
            let removed = before.iter().filter(|r| !member.roles.contains(r)).map(|r| (*r, false));
            let changes: Vec<(u64, bool)> = added.chain(removed).collect();
            for (n, (role, added)) in changes.into_iter().enumerate() {
                let name = guild.roles.get(&role).map(|r| r.name.clone()).unwrap_or_default();
                let id = body.at_ms.map_or_else(|| sim.next_id(), |at| snowflake_at(at, n as u64));
                guild.audit_role_change(world::AuditEntry {
                    id,
                    action_type: world::MEMBER_ROLE_UPDATE,
                    user_id: actor,
                    target_id: user_id,
                    added,
                    role: (role, name),
                    reason: None,
                });
            }
        }
        member
    };
    let mut payload = world::member_json(&updated);
    payload["guild_id"] = json!(id.to_string());
    sim.gateway.dispatch(Some(id), "GUILD_MEMBER_UPDATE", payload);
    StatusCode::NO_CONTENT.into_response()
}

async fn inject(State(sim): Shared, Json(request): Json<InjectInteraction>) -> Response {
    match interactions::inject(&sim, request) {
        Ok((id, token)) => Json(json!({"id": id.to_string(), "token": token})).into_response(),
        Err(e) => bad(e),
    }
}

async fn interaction_report(
    State(sim): Shared,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Ok(id) = raw.parse::<u64>() else { return bad("id: a snowflake") };
    let wait = Duration::from_millis(q.get("wait_ms").and_then(|w| w.parse().ok()).unwrap_or(0).min(60_000));
    let deadline = Instant::now() + wait;
    loop {
        let report = sim.world().interactions.get(&id).map(Interaction::report);
        match report {
            None => return (StatusCode::NOT_FOUND, "unknown interaction").into_response(),
            Some(r) if !r.callbacks.is_empty() || Instant::now() >= deadline => return Json(r).into_response(),
            Some(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn get_faults(State(sim): Shared) -> Json<Faults> {
    Json(sim.faults.lock().map(|f| f.clone()).unwrap_or_default())
}

async fn put_faults(State(sim): Shared, Json(faults): Json<Faults>) -> Response {
    if !(0.0..=1.0).contains(&faults.error_rate) || !(0.0..=1.0).contains(&faults.lost_response_rate) {
        return bad("error_rate and lost_response_rate: between 0 and 1");
    }
    if !matches!(faults.storm_scope.as_deref(), None | Some("user" | "global" | "shared")) {
        return bad("storm_scope: user, global or shared");
    }
    if let Ok(mut f) = sim.faults.lock() {
        *f = faults;
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn get_limits(State(sim): Shared) -> Json<Limits> {
    Json(sim.config().limits)
}

async fn put_limits(State(sim): Shared, Json(limits): Json<Limits>) -> Response {
    if limits.global_per_second == 0
        || limits.route_limit == 0
        || limits.member_role_limit == 0
        || limits.invalid_request_threshold == 0
    {
        return bad("limits must be at least 1");
    }
    if let Ok(mut c) = sim.config.write() {
        c.limits = limits;
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn drop_gateway(State(sim): Shared) -> StatusCode {
    sim.gateway.drop_connections();
    StatusCode::NO_CONTENT
}

/// Forgets every session and drops the connections, the world kept: each shard's RESUME is
/// refused (op 9, not resumable), so it identifies afresh and gets READY and every guild's
/// GUILD_CREATE again, as after an outage on Discord's side.
async fn invalidate_sessions(State(sim): Shared) -> StatusCode {
    sim.gateway.reset();
    StatusCode::NO_CONTENT
}

async fn reconnect_gateway(State(sim): Shared) -> StatusCode {
    sim.gateway.request_reconnect();
    StatusCode::NO_CONTENT
}

async fn shards(State(sim): Shared) -> Json<Vec<crate::hub::ShardState>> {
    Json(sim.gateway.shards())
}

async fn read_log(State(sim): Shared, Query(q): Query<HashMap<String, String>>) -> Json<Vec<LogEntry>> {
    let since = q.get("since").and_then(|s| s.parse().ok()).unwrap_or(0u64);
    let log = sim.log.lock().map(|l| l.iter().filter(|e| e.seq >= since).cloned().collect()).unwrap_or_default();
    Json(log)
}

/// The reads of one route template (`?route=/guilds/{guild_id}/members`), or all of them.
async fn read_reads(State(sim): Shared, Query(q): Query<HashMap<String, String>>) -> Json<Vec<ReadEntry>> {
    let route = q.get("route");
    let reads = sim
        .reads
        .lock()
        .map(|r| r.iter().filter(|e| route.is_none_or(|t| &e.route == t)).cloned().collect())
        .unwrap_or_default();
    Json(reads)
}

async fn clear_log(State(sim): Shared) -> StatusCode {
    if let Ok(mut log) = sim.log.lock() {
        log.clear();
    }
    StatusCode::NO_CONTENT
}

/// Everything a test counts.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counters {
    /// Rate-limit counters.
    pub rate: RateCounters,
    /// Mutating requests logged.
    pub mutations: usize,
    /// Responses that broke the spec (should be empty).
    pub contract_violations: Vec<String>,
}

async fn counters(State(sim): Shared) -> Json<Counters> {
    let rate: RateCounters = sim.limiter.lock().map(|l| l.counters(Instant::now())).unwrap_or_default();
    Json(Counters {
        rate,
        mutations: sim.log.lock().map(|l| l.len()).unwrap_or_default(),
        contract_violations: sim.contract_violations.lock().map(|v| v.clone()).unwrap_or_default(),
    })
}
