//! The gateway's settings from the environment, validated at startup; names are the
//! architecture's, and an error names the variable and what it allows.

use std::{fmt, net::SocketAddr, ops::Range, time::Duration};
use url::Url;

/// The bot token: never printed.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// The token, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// Which shards this process runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardPlan {
    /// All of them, as many as `GET /gateway/bot` recommends.
    Recommended,
    /// Shard ids `ids` of `total` (so shards split across gateway processes).
    Range {
        /// The ids this process runs.
        ids: Range<u32>,
        /// The total shard count of the bot.
        total: u32,
    },
}

/// Everything the gateway needs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `DISCORD_TOKEN`.
    pub token: Token,
    /// `DISCORD_APPLICATION_ID`; read from `GET /users/@me` when unset.
    pub application_id: Option<u64>,
    /// `DISCORD_API_BASE`: the stand-in's REST URL, or `None` for Discord.
    pub api_base: Option<String>,
    /// `DISCORD_GATEWAY_URL`: the stand-in's gateway URL, or `None` for Discord's.
    pub gateway_url: Option<String>,
    /// `ARRAKIS_SHARDS`: `auto` (default) or `FIRST-LAST/TOTAL`, e.g. `0-3/8`.
    pub shards: ShardPlan,
    /// `TEMPORAL_ADDRESS`.
    pub temporal_address: Url,
    /// `TEMPORAL_NAMESPACE`.
    pub namespace: String,
    /// `ARRAKIS_TASK_QUEUE`: where the workflows it starts run.
    pub task_queue: String,
    /// `REDIS_URL`: interaction de-duplication across gateway replicas.
    pub redis_url: String,
    /// `ARRAKIS_GATEWAY_HTTP_ADDR`: `/healthz` and `/metrics`.
    pub http_addr: SocketAddr,
    /// `ARRAKIS_ACK_DEADLINE_MS`: how long a button, select or form may wait on Temporal before
    /// it is acknowledged and answered by an edit (default 2,200 ms, under Discord's 3 s).
    pub ack_deadline: Duration,
    /// `ARRAKIS_COMMAND_ACK_MS`: how long a slash command may take before it is acknowledged
    /// (deferred) and its answer sent as an edit (default 50 ms; 0 defers every command).
    pub command_ack_budget: Duration,
    /// `ARRAKIS_COMPONENT_ACK_MS`: how long a button, select or form whose answer cannot be a
    /// modal may take before the message it sits on is acknowledged (deferred) and then edited
    /// (default 100 ms; 0 defers every one).
    pub component_ack_budget: Duration,
    /// `ARRAKIS_WIZARD_IDLE_TIMEOUT_SECS`: a setup session's idle timeout (default 24 h).
    pub wizard_idle_timeout_secs: u64,
}

/// A setting that is missing or malformed.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {rule}")]
pub struct SettingsError {
    /// The environment variable.
    pub variable: &'static str,
    /// What it must be.
    pub rule: String,
}

fn err(variable: &'static str, rule: impl Into<String>) -> SettingsError {
    SettingsError { variable, rule: rule.into() }
}

fn parse_shards(value: &str) -> Result<ShardPlan, SettingsError> {
    if value == "auto" {
        return Ok(ShardPlan::Recommended);
    }
    let rule = || err("ARRAKIS_SHARDS", format!("`auto` or FIRST-LAST/TOTAL such as 0-3/8, got {value:?}"));
    let (range, total) = value.split_once('/').ok_or_else(rule)?;
    let (first, last) = range.split_once('-').unwrap_or((range, range));
    let (first, last, total): (u32, u32, u32) = (
        first.trim().parse().map_err(|_| rule())?,
        last.trim().parse().map_err(|_| rule())?,
        total.trim().parse().map_err(|_| rule())?,
    );
    if first > last || last >= total {
        return Err(err("ARRAKIS_SHARDS", format!("need FIRST <= LAST < TOTAL, got {value:?}")));
    }
    Ok(ShardPlan::Range { ids: first..last + 1, total })
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |k: &str| lookup(k).filter(|v| !v.is_empty());
        let token = get("DISCORD_TOKEN").ok_or_else(|| err("DISCORD_TOKEN", "required: the bot token"))?;
        let application_id = get("DISCORD_APPLICATION_ID")
            .map(|v| v.parse::<u64>().map_err(|_| err("DISCORD_APPLICATION_ID", format!("a Discord id, got {v:?}"))))
            .transpose()?;
        let url = |name: &'static str, v: String| {
            Url::parse(&v)
                .map(|_| v.trim_end_matches('/').to_string())
                .map_err(|_| err(name, format!("a URL, got {v:?}")))
        };
        let api_base = get("DISCORD_API_BASE").map(|v| url("DISCORD_API_BASE", v)).transpose()?;
        let gateway_url = get("DISCORD_GATEWAY_URL").map(|v| url("DISCORD_GATEWAY_URL", v)).transpose()?;
        let shards = parse_shards(&get("ARRAKIS_SHARDS").unwrap_or_else(|| "auto".into()))?;
        let address = get("TEMPORAL_ADDRESS").unwrap_or_else(|| "127.0.0.1:7233".into());
        let with_scheme = if address.contains("://") { address.clone() } else { format!("http://{address}") };
        let temporal_address = Url::parse(&with_scheme)
            .map_err(|_| err("TEMPORAL_ADDRESS", format!("host:port or a URL, got {address:?}")))?;
        let http_addr = get("ARRAKIS_GATEWAY_HTTP_ADDR")
            .unwrap_or_else(|| "127.0.0.1:9465".into())
            .parse()
            .map_err(|_| err("ARRAKIS_GATEWAY_HTTP_ADDR", "an ip:port such as 127.0.0.1:9465"))?;
        let ack_ms: u64 = get("ARRAKIS_ACK_DEADLINE_MS")
            .map(|v| v.parse().ok().filter(|ms| (100..=2_800).contains(ms)))
            .unwrap_or(Some(2_200))
            .ok_or_else(|| err("ARRAKIS_ACK_DEADLINE_MS", "milliseconds from 100 to 2800 (Discord allows 3 s)"))?;
        let command_ms: u64 = get("ARRAKIS_COMMAND_ACK_MS")
            .map(|v| v.parse().ok().filter(|ms| *ms <= 2_800))
            .unwrap_or(Some(50))
            .ok_or_else(|| err("ARRAKIS_COMMAND_ACK_MS", "milliseconds from 0 to 2800 (Discord allows 3 s)"))?;
        let component_ms: u64 = get("ARRAKIS_COMPONENT_ACK_MS")
            .map(|v| v.parse().ok().filter(|ms| *ms <= 2_800))
            .unwrap_or(Some(100))
            .ok_or_else(|| err("ARRAKIS_COMPONENT_ACK_MS", "milliseconds from 0 to 2800 (Discord allows 3 s)"))?;
        let idle: u64 = get("ARRAKIS_WIZARD_IDLE_TIMEOUT_SECS")
            .map(|v| v.parse().ok().filter(|s| (1..=30 * 24 * 3600).contains(s)))
            .unwrap_or(Some(arrakis_schemas::workflows::wizard::DEFAULT_IDLE_TIMEOUT_SECS))
            .ok_or_else(|| err("ARRAKIS_WIZARD_IDLE_TIMEOUT_SECS", "seconds from 1 to 2592000 (30 days)"))?;
        Ok(Self {
            token: Token(token),
            application_id,
            api_base,
            gateway_url,
            shards,
            temporal_address,
            namespace: get("TEMPORAL_NAMESPACE").unwrap_or_else(|| "arrakis".into()),
            task_queue: get("ARRAKIS_TASK_QUEUE").unwrap_or_else(|| "arrakis".into()),
            redis_url: get("REDIS_URL").ok_or_else(|| err("REDIS_URL", "required: redis://host:port"))?,
            http_addr,
            ack_deadline: Duration::from_millis(ack_ms),
            command_ack_budget: Duration::from_millis(command_ms),
            component_ack_budget: Duration::from_millis(component_ms),
            wizard_idle_timeout_secs: idle,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let mut all = vec![("DISCORD_TOKEN", "t"), ("REDIS_URL", "redis://127.0.0.1:6379")];
        all.extend_from_slice(pairs);
        Settings::from_lookup(|k| all.iter().rev().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn defaults_and_shard_ranges() {
        let s = settings(&[]).expect("defaults");
        assert_eq!(s.shards, ShardPlan::Recommended);
        assert_eq!(s.ack_deadline, Duration::from_millis(2_200));
        assert_eq!(s.component_ack_budget, Duration::from_millis(100));
        let s = settings(&[("ARRAKIS_SHARDS", "2-3/4")]).expect("range");
        assert_eq!(s.shards, ShardPlan::Range { ids: 2..4, total: 4 });
        assert_eq!(
            settings(&[("ARRAKIS_SHARDS", "1/2")]).expect("one").shards,
            ShardPlan::Range { ids: 1..2, total: 2 }
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("ARRAKIS_SHARDS", "4-5/4"),
            ("ARRAKIS_SHARDS", "all"),
            ("ARRAKIS_ACK_DEADLINE_MS", "5000"),
            ("ARRAKIS_COMPONENT_ACK_MS", "3000"),
            ("DISCORD_APPLICATION_ID", "me"),
            ("DISCORD_API_BASE", "not a url"),
            ("ARRAKIS_GATEWAY_HTTP_ADDR", "here"),
        ] {
            let e = settings(&[(name, value)]).expect_err(name);
            assert_eq!(e.variable, name, "{e}");
        }
        let e = Settings::from_lookup(|_| None).expect_err("token");
        assert_eq!(e.variable, "DISCORD_TOKEN");
        assert!(!format!("{:?}", settings(&[]).expect("ok")).contains("\"t\""), "the token never prints");
    }
}
