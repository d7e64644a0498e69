//! The stand-in's shared state: configuration, the world, the limiter, faults, the mutation
//! log, and the gateway hub that fans events out to shards.

use crate::{
    config::SimConfig,
    hub::GatewayHub,
    ratelimit::RateLimiter,
    spec::Spec,
    world::{self, Guild, Member, Role},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Mutex, MutexGuard, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// An interaction and everything the bot answered to it.
#[derive(Clone, Debug)]
pub struct Interaction {
    /// Token.
    pub token: String,
    /// 2 command, 3 component, 5 modal submit.
    pub kind: u8,
    /// The channel it came from.
    pub channel_id: u64,
    /// When it was created.
    pub created: Instant,
    /// When the first response arrived, relative to `created`.
    pub acknowledged_after: Option<Duration>,
    /// The callback bodies, in order (only the first is accepted).
    pub callbacks: Vec<Value>,
    /// Follow-up messages.
    pub followups: Vec<Value>,
    /// The original response message, once there is one.
    pub original: Option<Value>,
    /// When a deferred answer arrived (the first edit of the original response, or the first
    /// follow-up), relative to `created`.
    pub answered_after: Option<Duration>,
    /// The message a button, select or form sits on: a deferred update (type 6) or an update
    /// (type 7) makes it the original response, which edits then change.
    pub message: Option<Value>,
}

/// Everything besides guilds that REST calls create.
#[derive(Default)]
pub struct World {
    /// Guilds by id.
    pub guilds: BTreeMap<u64, Guild>,
    /// Which guild a channel belongs to.
    pub channel_guild: HashMap<u64, u64>,
    /// Global application commands.
    pub global_commands: Vec<Value>,
    /// Guild application commands.
    pub guild_commands: BTreeMap<u64, Vec<Value>>,
    /// Injected interactions by id.
    pub interactions: HashMap<u64, Interaction>,
    /// Messages by channel, in order.
    pub messages: BTreeMap<u64, Vec<Value>>,
}

/// Faults a test injects.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Share of requests (0–1) answered with a 5xx before anything happens.
    pub error_rate: f64,
    /// Share of mutating requests (0–1) that take effect but whose answer is lost (502): the
    /// case that makes a retried create produce a duplicate unless the client looks first.
    pub lost_response_rate: f64,
    /// Extra latency before every REST answer, milliseconds.
    pub latency_ms: u64,
    /// The next `storm_count` requests get a 429 of `storm_scope` with `storm_retry_after`.
    pub storm_count: u32,
    /// The storm's scope: `user`, `global` or `shared`.
    pub storm_scope: Option<String>,
    /// The storm's `retry_after`, seconds.
    pub storm_retry_after: f64,
    /// Requests refused with 403 Missing Permissions (50013), as `METHOD /route/{template}`
    /// (e.g. `PATCH /channels/{channel_id}`): a fix that fails for a reason no retry mends.
    pub refuse: Vec<String>,
}

/// One mutating request, as the log shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogEntry {
    /// Order of arrival.
    pub seq: u64,
    /// Milliseconds since the stand-in started.
    pub at_ms: u64,
    /// HTTP method.
    pub method: String,
    /// Request path (without `/api/v10`).
    pub path: String,
    /// The route template, e.g. `/guilds/{guild_id}/roles`.
    pub route: String,
    /// Response status.
    pub status: u16,
    /// The JSON body, if any.
    pub body: Value,
    /// The `X-Audit-Log-Reason` header, decoded: what Discord's audit log would show.
    #[serde(default)]
    pub reason: Option<String>,
}

/// One read (a GET), as the read log shows it: what a test counts to prove a client did not
/// read something twice.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ReadEntry {
    /// Order of arrival.
    pub seq: u64,
    /// The route template, e.g. `/guilds/{guild_id}/members`.
    pub route: String,
    /// Request path (without `/api/v10`).
    pub path: String,
    /// The query string, if any (e.g. `limit=1000&after=42`).
    pub query: Option<String>,
}

/// The stand-in.
pub struct Sim {
    /// Identity and limits.
    pub config: RwLock<SimConfig>,
    /// Discord's contract.
    pub spec: Spec,
    world: Mutex<World>,
    /// Rate limits and their counters.
    pub limiter: Mutex<RateLimiter>,
    /// Injected faults.
    pub faults: Mutex<Faults>,
    /// Mutating requests.
    pub log: Mutex<Vec<LogEntry>>,
    /// Reads (GETs).
    pub reads: Mutex<Vec<ReadEntry>>,
    /// Responses that did not match the spec (should stay empty).
    pub contract_violations: Mutex<Vec<String>>,
    /// The gateway's fan-out.
    pub gateway: GatewayHub,
    /// Where the gateway listens, for `GET /gateway/bot` and READY's `resume_gateway_url`.
    pub gateway_url: RwLock<String>,
    started: Instant,
    /// This stand-in's node id in its snowflakes (10 bits).
    node: u64,
    last_id: AtomicU64,
    rng: AtomicU64,
}

/// A node id for a new stand-in: five bits of the process id and five of a count of the
/// stand-ins this process made, as Discord's snowflakes carry a worker and a process id.
fn next_node() -> u64 {
    static MADE: AtomicU64 = AtomicU64::new(0);
    ((u64::from(std::process::id()) & 0x1f) << 5) | (MADE.fetch_add(1, Ordering::Relaxed) & 0x1f)
}

impl Sim {
    /// A stand-in with an empty world.
    pub fn new(config: SimConfig) -> Self {
        Self {
            config: RwLock::new(config),
            spec: Spec::load(),
            world: Mutex::new(World::default()),
            limiter: Mutex::new(RateLimiter::default()),
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(Vec::new()),
            reads: Mutex::new(Vec::new()),
            contract_violations: Mutex::new(Vec::new()),
            gateway: GatewayHub::new(),
            gateway_url: RwLock::new(String::new()),
            started: Instant::now(),
            node: next_node(),
            last_id: AtomicU64::new(0),
            rng: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
        }
    }

    /// The configuration now.
    pub fn config(&self) -> SimConfig {
        self.config.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// A message as `MessageResponse`, authored by the bot.
    pub(crate) fn message_json(&self, channel_id: u64, request: &Value, id: u64, flags: u64) -> Value {
        let config = self.config();
        json!({
            "type": 0,
            "content": request.get("content").and_then(Value::as_str).unwrap_or_default(),
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": request.get("embeds").filter(|e| e.is_array()).cloned().unwrap_or(json!([])),
            "timestamp": world::JOINED_AT,
            "edited_timestamp": null,
            "flags": flags,
            "components": [],
            "id": id.to_string(),
            "channel_id": channel_id.to_string(),
            "author": world::user_json(config.application_id, &config.bot_name, true),
            "pinned": false,
            "mention_everyone": false,
            "tts": false
        })
    }

    /// The world, locked. Handlers hold it briefly and never across an await.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A fresh snowflake, laid out as Discord's: milliseconds since the Discord epoch, then this
    /// stand-in's 10-bit node id (Discord's worker and process ids), then a 12-bit increment;
    /// strictly increasing. Stand-ins running side by side (tests share one Redis and one
    /// Temporal namespace) therefore never hand out the same interaction, guild or role id.
    pub fn next_id(&self) -> u64 {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default();
        let node = self.node << 12;
        let floor = (now_ms.saturating_sub(world::DISCORD_EPOCH_MS) << 22) | node;
        let mut last = self.last_id.load(Ordering::Relaxed);
        loop {
            let next = match last {
                l if l < floor => floor,
                l if l & 0xfff < 0xfff => l + 1,
                l => (((l >> 22) + 1) << 22) | node,
            };
            match self.last_id.compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return next,
                Err(actual) => last = actual,
            }
        }
    }

    /// A pseudo-random number in [0, 1) for fault injection (xorshift; no clock, reproducible).
    pub fn random(&self) -> f64 {
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Milliseconds since start.
    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The bot's user id (the application id, as on Discord).
    pub fn bot_id(&self) -> u64 {
        self.config().application_id
    }

    /// Creates a guild with @everyone, the bot as a member and the bot's managed role at
    /// `bot_role_position` with `bot_permissions`.
    pub fn create_guild(&self, spec: GuildSeed) -> u64 {
        let id = spec.id.unwrap_or_else(|| self.next_id());
        let config = self.config();
        let bot_role = self.next_id();
        let mut roles = BTreeMap::new();
        roles.insert(
            id,
            Role {
                id,
                name: "@everyone".into(),
                color: 0,
                hoist: false,
                mentionable: false,
                position: 0,
                permissions: spec
                    .everyone_permissions
                    .unwrap_or(crate::world::permissions::VIEW_CHANNEL | crate::world::permissions::SEND_MESSAGES),
                managed: false,
            },
        );
        roles.insert(
            bot_role,
            Role {
                id: bot_role,
                name: config.bot_name.clone(),
                color: 0,
                hoist: false,
                mentionable: false,
                position: spec.bot_role_position.unwrap_or(1),
                permissions: spec.bot_permissions.unwrap_or(crate::world::permissions::ARRAKIS_INVITE),
                managed: true,
            },
        );
        let mut members = BTreeMap::new();
        let bot = config.application_id;
        members.insert(
            bot,
            Member {
                user_id: bot,
                username: config.bot_name.clone(),
                bot: true,
                roles: vec![bot_role],
                nick: None,
                joined_at_ms: None,
            },
        );
        let owner_id = spec.owner_id.unwrap_or(bot + 1);
        let guild =
            Guild { id, name: spec.name, owner_id, roles, channels: BTreeMap::new(), members, audit_log: Vec::new() };
        let mut world = self.world();
        world.guilds.insert(id, guild);
        id
    }
}

/// How to seed a guild through the control API.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GuildSeed {
    /// Its id (generated when absent).
    #[serde(with = "opt_snowflake")]
    pub id: Option<u64>,
    /// Its name.
    pub name: String,
    /// The owner (who has every permission).
    #[serde(with = "opt_snowflake")]
    pub owner_id: Option<u64>,
    /// The bot role's permission bits (default MANAGE_ROLES | MANAGE_CHANNELS).
    pub bot_permissions: Option<u64>,
    /// The bot role's position (default 1; roles the bot manages must be below it).
    pub bot_role_position: Option<i64>,
    /// @everyone's permission bits.
    pub everyone_permissions: Option<u64>,
}

/// Snowflakes as strings or numbers in control-API JSON.
pub mod opt_snowflake {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a string.
    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }

    /// Reads a string or a number.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let value = Option::<serde_json::Value>::deserialize(d)?;
        match value {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(n)) => {
                n.as_u64().map(Some).ok_or_else(|| serde::de::Error::custom("a snowflake"))
            }
            Some(serde_json::Value::String(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
            Some(_) => Err(serde::de::Error::custom("a snowflake as a string or number")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stand_ins_side_by_side_never_hand_out_the_same_id() {
        let (a, b) = (Sim::new(SimConfig::default()), Sim::new(SimConfig::default()));
        let ids: Vec<(u64, u64)> = (0..5_000).map(|_| (a.next_id(), b.next_id())).collect();
        let (from_a, from_b): (Vec<u64>, Vec<u64>) = ids.into_iter().unzip();
        for ids in [&from_a, &from_b] {
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "strictly increasing");
        }
        let a_set: std::collections::BTreeSet<u64> = from_a.iter().copied().collect();
        assert!(from_b.iter().all(|id| !a_set.contains(id)), "the same millisecond, other ids");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64;
        let at = (from_a[0] >> 22) + world::DISCORD_EPOCH_MS;
        assert!(now.abs_diff(at) < 60_000, "the id still tells its time");
    }
}
