//! Discord's rate limits: the global per-token limit, per-route buckets announced in
//! `X-RateLimit-*` headers, per-guild member-role edits, and the invalid-request ban. It also
//! keeps the evidence tests need: 429s by scope and requests that came before `retry_after`.

use crate::config::Limits;
use serde::{Deserialize, Serialize};
use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// The scope of a 429.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The global per-token limit.
    Global,
    /// A per-route bucket.
    User,
    /// A shared resource limit (not counted as invalid).
    Shared,
}

impl Scope {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::User => "user",
            Scope::Shared => "shared",
        }
    }
}

/// What a route bucket says about a request, to be sent as headers.
#[derive(Clone, Debug)]
pub struct BucketState {
    /// `X-RateLimit-Limit`.
    pub limit: u32,
    /// `X-RateLimit-Remaining`.
    pub remaining: u32,
    /// `X-RateLimit-Reset-After`, seconds.
    pub reset_after: f64,
    /// `X-RateLimit-Reset`, Unix seconds.
    pub reset_at_unix: f64,
    /// `X-RateLimit-Bucket`.
    pub bucket: String,
}

impl BucketState {
    /// A bucket used up until `reset_after`: what a route-scoped 429 carries.
    pub fn exhausted(limit: u32, bucket: &str, reset_after: f64) -> Self {
        Self { limit, remaining: 0, reset_after, reset_at_unix: unix_now() + reset_after, bucket: bucket.to_string() }
    }
}

/// A refusal: 429 with its scope and `retry_after`.
#[derive(Clone, Debug)]
pub struct Limited {
    /// Which limit.
    pub scope: Scope,
    /// Seconds to wait.
    pub retry_after: f64,
    /// The bucket's state, for a route limit.
    pub bucket: Option<BucketState>,
}

/// Counters a test reads back.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RateCounters {
    /// Requests seen (control API excluded).
    pub requests: u64,
    /// 429s answered with scope global.
    pub global_429: u64,
    /// 429s answered with scope user (route buckets, including injected storms).
    pub user_429: u64,
    /// 429s answered with scope shared.
    pub shared_429: u64,
    /// Requests that arrived at a limit before the `retry_after` it had announced had passed.
    pub early_retries: u64,
    /// 401/403/429 responses counted towards the ban, in the current window.
    pub invalid_requests: u64,
    /// Every 4xx answered so far (any method): what a client could have known and not sent.
    #[serde(default)]
    pub client_errors: u64,
    /// Requests refused because of the ban.
    pub banned_requests: u64,
    /// True while the ban holds.
    pub banned: bool,
}

struct Bucket {
    window_start: Instant,
    used: u32,
    blocked_until: Option<Instant>,
    blocked_at: Option<Instant>,
}

/// Requests arriving this soon after a 429 were already in flight when it was sent; they are
/// not counted as early retries.
const IN_FLIGHT_GRACE: Duration = Duration::from_millis(100);

/// The limiter state (one per stand-in; it serves one bot token).
pub struct RateLimiter {
    global_window: Instant,
    global_used: u32,
    global_blocked_until: Option<Instant>,
    global_blocked_at: Option<Instant>,
    buckets: HashMap<String, Bucket>,
    invalid: VecDeque<Instant>,
    banned_until: Option<Instant>,
    counters: RateCounters,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self {
            global_window: Instant::now(),
            global_used: 0,
            global_blocked_until: None,
            global_blocked_at: None,
            buckets: HashMap::new(),
            invalid: VecDeque::new(),
            banned_until: None,
            counters: RateCounters::default(),
        }
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
}

/// A short stable hash for `X-RateLimit-Bucket`: the same for every major id of a route.
pub fn bucket_hash(route: &str) -> String {
    let hash = route.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{hash:016x}")
}

impl RateLimiter {
    /// Counts a request; `Err` with the remaining ban time while banned.
    pub fn admit(&mut self, now: Instant) -> Result<(), f64> {
        self.counters.requests += 1;
        match self.banned_until {
            Some(until) if until > now => {
                self.counters.banned_requests += 1;
                Err((until - now).as_secs_f64())
            }
            Some(_) => {
                self.banned_until = None;
                self.invalid.clear();
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Takes one request from the global budget.
    pub fn global(&mut self, limits: &Limits, now: Instant) -> Result<(), Limited> {
        if now.duration_since(self.global_window) >= Duration::from_secs(1) {
            self.global_window = now;
            self.global_used = 0;
        }
        if self.global_used >= limits.global_per_second {
            let until = self.global_window + Duration::from_secs(1);
            // The grace counts from the first 429 of a block, not from every refusal in it.
            if self.global_blocked_until.is_none_or(|u| u <= now) {
                self.global_blocked_at = Some(now);
            }
            self.global_blocked_until = Some(until);
            self.counters.global_429 += 1;
            return Err(Limited {
                scope: Scope::Global,
                retry_after: (until - now).as_secs_f64().max(0.001),
                bucket: None,
            });
        }
        self.global_used += 1;
        Ok(())
    }

    /// Takes one request from a route bucket keyed by `key`, announced as `hash`.
    pub fn route(
        &mut self,
        key: &str,
        hash: &str,
        limit: u32,
        window_secs: f64,
        now: Instant,
    ) -> Result<BucketState, Limited> {
        let window = Duration::from_secs_f64(window_secs.max(0.001));
        let bucket = self.buckets.entry(key.to_string()).or_insert(Bucket {
            window_start: now,
            used: 0,
            blocked_until: None,
            blocked_at: None,
        });
        if now.duration_since(bucket.window_start) >= window {
            bucket.window_start = now;
            bucket.used = 0;
        }
        let reset = bucket.window_start + window;
        let reset_after = (reset - now).as_secs_f64().max(0.001);
        let state = |remaining| BucketState {
            limit,
            remaining,
            reset_after,
            reset_at_unix: unix_now() + reset_after,
            bucket: hash.to_string(),
        };
        if bucket.used >= limit {
            if bucket.blocked_until.is_none_or(|u| u <= now) {
                bucket.blocked_at = Some(now);
            }
            bucket.blocked_until = Some(reset);
            self.counters.user_429 += 1;
            return Err(Limited { scope: Scope::User, retry_after: reset_after, bucket: Some(state(0)) });
        }
        bucket.used += 1;
        Ok(state(limit - bucket.used))
    }

    /// Records an injected 429 (a storm) and when its `retry_after` ends, on `key`'s bucket.
    pub fn injected(&mut self, key: &str, scope: Scope, retry_after: f64, now: Instant) {
        let until = now + Duration::from_secs_f64(retry_after);
        match scope {
            Scope::Global => {
                self.counters.global_429 += 1;
                if self.global_blocked_until.is_none_or(|u| u <= now) {
                    self.global_blocked_at = Some(now);
                }
                self.global_blocked_until = Some(until);
            }
            Scope::User | Scope::Shared => {
                if scope == Scope::User {
                    self.counters.user_429 += 1;
                } else {
                    self.counters.shared_429 += 1;
                }
                let bucket = self.buckets.entry(key.to_string()).or_insert(Bucket {
                    window_start: now,
                    used: 0,
                    blocked_until: None,
                    blocked_at: None,
                });
                if bucket.blocked_until.is_none_or(|u| u <= now) {
                    bucket.blocked_at = Some(now);
                }
                bucket.blocked_until = Some(until);
            }
        }
    }

    /// Counts the request as early when it comes before a `retry_after` announced for its
    /// bucket (or, for `global_applies`, the global one).
    pub fn note_if_early(&mut self, key: &str, global_applies: bool, now: Instant) {
        let blocked = |until: Option<Instant>, at: Option<Instant>| {
            until.is_some_and(|u| now < u) && at.is_some_and(|a| now.duration_since(a) > IN_FLIGHT_GRACE)
        };
        let global = global_applies && blocked(self.global_blocked_until, self.global_blocked_at);
        let bucket = self.buckets.get(key).is_some_and(|b| blocked(b.blocked_until, b.blocked_at));
        if global || bucket {
            self.counters.early_retries += 1;
        }
    }

    /// Counts a 4xx answer of any kind.
    pub fn record_client_error(&mut self) {
        self.counters.client_errors += 1;
    }

    /// Counts a 401/403/429 response; trips the ban past the threshold.
    pub fn record_invalid(&mut self, limits: &Limits, now: Instant) {
        let window = Duration::from_secs_f64(limits.invalid_request_window_secs.max(0.001));
        while self.invalid.front().is_some_and(|t| now.duration_since(*t) > window) {
            self.invalid.pop_front();
        }
        self.invalid.push_back(now);
        if self.invalid.len() as u64 >= u64::from(limits.invalid_request_threshold) && self.banned_until.is_none() {
            self.banned_until = Some(now + Duration::from_secs_f64(limits.ban_secs));
        }
    }

    /// A snapshot of the counters.
    pub fn counters(&self, now: Instant) -> RateCounters {
        let mut counters = self.counters.clone();
        counters.invalid_requests = self.invalid.len() as u64;
        counters.banned = self.banned_until.is_some_and(|u| u > now);
        counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_global_limit_refuses_the_51st_request_in_a_second() {
        let limits = Limits::default();
        let mut limiter = RateLimiter::default();
        let now = Instant::now();
        for _ in 0..50 {
            limiter.global(&limits, now).expect("within budget");
        }
        let limited = limiter.global(&limits, now).expect_err("51st");
        assert_eq!(limited.scope, Scope::Global);
        assert!(limited.retry_after > 0.0 && limited.retry_after <= 1.0);
        limiter.note_if_early("any", true, now);
        assert_eq!(limiter.counters(now).early_retries, 0, "a request already in flight is not early");
        limiter.note_if_early("any", true, now + Duration::from_millis(200));
        assert_eq!(limiter.counters(now).early_retries, 1, "a request sent before retry_after is");
        limiter.global(&limits, now + Duration::from_millis(1001)).expect("a new second");
    }

    #[test]
    fn a_route_bucket_counts_down_and_resets() {
        let mut limiter = RateLimiter::default();
        let now = Instant::now();
        let first = limiter.route("k", "h", 2, 1.0, now).expect("1");
        assert_eq!((first.limit, first.remaining), (2, 1));
        limiter.route("k", "h", 2, 1.0, now).expect("2");
        assert_eq!(limiter.route("k", "h", 2, 1.0, now).expect_err("3").scope, Scope::User);
        limiter.route("other", "h", 2, 1.0, now).expect("another major id has its own bucket");
        limiter.route("k", "h", 2, 1.0, now + Duration::from_secs(1)).expect("reset");
    }

    #[test]
    fn the_ban_trips_at_the_threshold_and_expires() {
        let limits = Limits { invalid_request_threshold: 3, ban_secs: 1.0, ..Limits::default() };
        let mut limiter = RateLimiter::default();
        let now = Instant::now();
        for _ in 0..3 {
            limiter.record_invalid(&limits, now);
        }
        assert!(limiter.admit(now).is_err());
        assert!(limiter.counters(now).banned);
        assert!(limiter.admit(now + Duration::from_millis(1100)).is_ok());
    }
}
