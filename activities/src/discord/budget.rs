//! The shared rate budget. Discord allows 50 requests a second per bot token across every
//! process; each worker takes a token from one bucket in Redis before each call (atomic, with
//! Redis's clock, so workers on different machines agree). Route buckets learned from
//! `X-RateLimit-*` headers are kept in Redis too, so a bucket one worker emptied holds back
//! the others until it resets.

use redis::{Script, aio::MultiplexedConnection};
use std::time::Duration;

/// How fast the bot may call Discord. Derived in one place, [`BudgetSettings::within`], from the
/// most requests that may leave in any one second; the worker, the tests and the benches all
/// take it from there.
#[derive(Clone, Debug)]
pub struct BudgetSettings {
    /// Sustained requests per second for the bot token, across all processes (default 40).
    pub per_second: u32,
    /// Requests that may go at once above the sustained rate. In any one-second window at
    /// most `burst + per_second` requests leave: the default 5 + 40 stays within Discord's 50.
    pub burst: u32,
    /// Identifies the bot token in Redis keys without revealing it (e.g. the application id).
    pub bot_key: String,
}

impl BudgetSettings {
    /// Requests that may leave at once above the sustained rate.
    pub const BURST: u32 = 5;
    /// The most requests a second Arrakis sends by default (`ARRAKIS_DISCORD_RPS`): a margin
    /// under Discord's 50 for the gateway's own calls and for clock skew between workers.
    pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 45;

    /// A budget under which at most `requests_per_second` requests leave in any one second:
    /// that many less the burst, sustained, plus the burst (at least one a second sustained).
    pub fn within(requests_per_second: u32, bot_key: impl Into<String>) -> Self {
        Self {
            per_second: requests_per_second.saturating_sub(Self::BURST).max(1),
            burst: Self::BURST,
            bot_key: bot_key.into(),
        }
    }
}

impl Default for BudgetSettings {
    fn default() -> Self {
        Self::within(Self::DEFAULT_REQUESTS_PER_SECOND, "default")
    }
}

/// The global token bucket and the shared route buckets.
#[derive(Clone)]
pub struct RateBudget {
    redis: MultiplexedConnection,
    settings: BudgetSettings,
}

/// Takes one token, or says how long until one is free. Uses Redis's clock.
const TAKE_TOKEN: &str = r"
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'blocked_until')
local blocked = tonumber(state[3])
if blocked ~= nil and blocked > now then return blocked - now end
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + (now - ts) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], 60000)
return wait
";

/// Milliseconds until a route bucket learned from Discord's headers has room again; takes a
/// slot when there is one. When the window has passed and its size is known, a new window
/// starts here, so workers do not all rush the bucket before the next headers arrive.
const ROUTE_WAIT: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local state = redis.call('HMGET', KEYS[1], 'remaining', 'reset_at', 'limit', 'window_ms')
local remaining = tonumber(state[1])
local reset_at = tonumber(state[2])
local limit = tonumber(state[3])
local window = tonumber(state[4])
if remaining == nil or reset_at == nil then return 0 end
if reset_at <= now then
  if limit == nil or window == nil then return 0 end
  redis.call('HSET', KEYS[1], 'remaining', limit - 1, 'reset_at', now + window)
  redis.call('PEXPIRE', KEYS[1], window + 60000)
  return 0
end
if remaining > 0 then
  redis.call('HINCRBY', KEYS[1], 'remaining', -1)
  return 0
end
return reset_at - now
";

/// Holds every request of the bot for ARGV[1] ms (after a 429 whose scope is unknown).
const GLOBAL_BLOCK: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'blocked_until'))
if current == nil or current < until_ms then
  redis.call('HSET', KEYS[1], 'blocked_until', until_ms)
  redis.call('PEXPIRE', KEYS[1], 60000)
end
return 1
";

/// Records a bucket's `remaining`, `reset_after` (ms) and `limit` as Discord announced them;
/// the first response of a window (remaining = limit - 1) also gives the window's length.
/// The slots other workers took since are kept: Discord's count is older than ours.
const ROUTE_LEARN: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local remaining = tonumber(ARGV[1])
local reset_after = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local known = tonumber(redis.call('HGET', KEYS[1], 'remaining'))
if known ~= nil and known < remaining then remaining = known end
redis.call('HSET', KEYS[1], 'remaining', remaining, 'reset_at', now + reset_after)
if limit > 0 then
  redis.call('HSET', KEYS[1], 'limit', limit)
  if tonumber(ARGV[1]) == limit - 1 then redis.call('HSET', KEYS[1], 'window_ms', reset_after) end
end
redis.call('PEXPIRE', KEYS[1], reset_after + 60000)
return 1
";

impl RateBudget {
    /// Connects to `REDIS_URL`.
    pub async fn connect(redis_url: &str, settings: BudgetSettings) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(redis_url)?;
        let redis = client.get_multiplexed_async_connection().await?;
        Ok(Self { redis, settings })
    }

    /// The settings in force.
    pub fn settings(&self) -> &BudgetSettings {
        &self.settings
    }

    /// A value the gateway left in the shared Redis (a Deploy screen's interaction token).
    pub(super) async fn shared_value(&self, key: &str) -> Result<Option<String>, redis::RedisError> {
        redis::cmd("GET").arg(key).query_async(&mut self.redis.clone()).await
    }

    /// Waits for a token from the bot's global budget.
    pub async fn take_global(&self) -> Result<(), redis::RedisError> {
        let key = format!("arrakis:discord:{}:global", self.settings.bot_key);
        loop {
            let wait: u64 = Script::new(TAKE_TOKEN)
                .key(&key)
                .arg(self.settings.per_second.max(1))
                .arg(self.settings.burst.max(1))
                .invoke_async(&mut self.redis.clone())
                .await?;
            if wait == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }

    /// Holds every worker's requests for `wait`: a 429 was seen and its scope is not known.
    pub async fn block_global(&self, wait: Duration) -> Result<(), redis::RedisError> {
        let key = format!("arrakis:discord:{}:global", self.settings.bot_key);
        let _: i64 = Script::new(GLOBAL_BLOCK)
            .key(&key)
            .arg(wait.as_millis() as u64)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }

    /// Waits until the shared route bucket `route` has room, taking one request from it.
    pub async fn take_route(&self, route: &str) -> Result<(), redis::RedisError> {
        let key = format!("arrakis:discord:{}:route:{route}", self.settings.bot_key);
        loop {
            let wait: u64 = Script::new(ROUTE_WAIT).key(&key).invoke_async(&mut self.redis.clone()).await?;
            if wait == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }

    /// Shares what Discord said about `route`'s bucket with every worker (`limit` 0: unknown).
    pub async fn learn_route(
        &self,
        route: &str,
        limit: u64,
        remaining: u64,
        reset_after: Duration,
    ) -> Result<(), redis::RedisError> {
        let key = format!("arrakis:discord:{}:route:{route}", self.settings.bot_key);
        let _: i64 = Script::new(ROUTE_LEARN)
            .key(&key)
            .arg(remaining)
            .arg(reset_after.as_millis().max(1) as u64)
            .arg(limit)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }
}
