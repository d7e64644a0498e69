//! What the stand-in pretends to be, and every limit it enforces (all adjustable at run time
//! through the control API, so a test can lower a threshold instead of sending 10,000 requests).

use serde::{Deserialize, Serialize};

/// Identity and behaviour of the stand-in.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// The bot token requests must carry (`Authorization: Bot <token>`).
    pub token: String,
    /// The application's id (also the bot user's id, as on Discord).
    pub application_id: u64,
    /// The bot's username.
    pub bot_name: String,
    /// `GET /gateway/bot`'s recommended shard count.
    pub shards: u32,
    /// Whether the app may use the GUILD_MEMBERS and other privileged intents.
    pub privileged_intents: bool,
    /// Milliseconds between heartbeats asked for in HELLO.
    pub heartbeat_interval_ms: u64,
    /// Check every response against the OpenAPI spec and answer 500 if one does not match.
    pub check_responses: bool,
    /// Discord's deadline for the first interaction response, milliseconds (3,000); tests
    /// lower it to watch a late answer fail without waiting three seconds.
    pub response_deadline_ms: u64,
    /// How long an interaction token serves follow-ups and `@original` edits, milliseconds
    /// (Discord: 15 minutes).
    pub token_lifetime_ms: u64,
    /// Rate limits.
    pub limits: Limits,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            token: "sim-bot-token".into(),
            application_id: 1_000_000_000_000_001,
            bot_name: "Arrakis".into(),
            shards: 1,
            privileged_intents: true,
            heartbeat_interval_ms: 41_250,
            check_responses: true,
            response_deadline_ms: 3_000,
            token_lifetime_ms: 15 * 60 * 1000,
            limits: Limits::default(),
        }
    }
}

/// Discord's rate limits, as numbers a test can change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Requests per second per bot token across all routes (interaction callbacks excluded).
    pub global_per_second: u32,
    /// Requests per window in one route bucket (per route and major parameter): every route
    /// has one, as on Discord. The default is the independent stand-in's 10 per 10 s, used
    /// where Discord publishes no figure (single member reads included).
    pub route_limit: u32,
    /// The route bucket window, seconds.
    pub route_window_secs: f64,
    /// Member role edits (add/remove) per window per guild.
    pub member_role_limit: u32,
    /// The member-role window, seconds.
    pub member_role_window_secs: f64,
    /// 401/403/429 responses within the invalid-request window that trip the ban.
    pub invalid_request_threshold: u32,
    /// The invalid-request window, seconds (Discord: 10 minutes).
    pub invalid_request_window_secs: f64,
    /// How long the ban lasts, seconds.
    pub ban_secs: f64,
    /// Send `X-RateLimit-Scope: user` on every rate-limited response, not only on 429s.
    /// twilight 0.18 learns buckets only when the scope header is present.
    pub scope_header_always: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            global_per_second: 50,
            route_limit: 10,
            route_window_secs: 10.0,
            member_role_limit: 10,
            member_role_window_secs: 10.0,
            invalid_request_threshold: 10_000,
            invalid_request_window_secs: 600.0,
            ban_secs: 3600.0,
            scope_header_always: true,
        }
    }
}
