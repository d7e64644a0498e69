//! Arrakis's own metrics in the worker process, the ones an operator alerts on: Discord
//! requests and 429s, waits for the rate budget, chain calls, breakers, and member sync's
//! grants, revocations and held revocations. The worker's `/metrics` serves them beside the
//! Temporal SDK's (relayed into the same registry), one page that `promtool check metrics`
//! passes.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder, core::Collector,
};
use std::{sync::OnceLock, time::Duration};

/// What held a 429: a route bucket (Discord's `user` or `shared` scope), the bot's `global`
/// limit, or `unknown`. (twilight consumes the 429 with its `X-RateLimit-Scope`; what it did
/// next tells the two apart, see `discord::rest`.)
pub const RATE_LIMIT_SCOPES: [&str; 3] = ["global", "route", "unknown"];

/// What a request waited for before it went out.
pub const BUDGET_LIMITERS: [&str; 3] = ["guild", "route", "global"];

/// Waits for the rate budget (seconds): most are zero, a full bucket holds up to its reset.
const WAIT_BUCKETS: [f64; 10] = [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0];

/// The worker's registry and its metrics.
pub struct Metrics {
    registry: Registry,
    /// Member-role writes sent to Discord, by guild, action and outcome.
    pub member_writes: IntCounterVec,
    /// Roles granted by member sync, by guild.
    pub grants: IntCounterVec,
    /// Roles revoked by member sync, by guild.
    pub revocations: IntCounterVec,
    /// Revocations the mass-removal breaker held, by guild.
    pub held: IntCounterVec,
    /// Discord requests, by route (`POST /guilds/{id}/roles`) and HTTP status (or `timeout`,
    /// `unreachable`, `budget` when none came back).
    pub discord_requests: IntCounterVec,
    /// Discord 429s, by scope.
    pub discord_rate_limited: IntCounterVec,
    /// Time a request waited for its share of the budget, by limiter.
    pub budget_wait: HistogramVec,
    /// Chain RPC calls, by chain, provider (the chain's name and the endpoint's place in its
    /// list, never the URL, which may carry a key) and outcome (`ok`, `rejected`, `failed`,
    /// `shed`, `circuit_open`).
    pub chain_calls: IntCounterVec,
    /// Breaker states: 0 closed, 1 half-open (a probe is out), 2 open.
    pub breaker_state: IntGaugeVec,
}

fn register<C: Collector + Clone + 'static>(registry: &Registry, collector: C) -> C {
    registry.register(Box::new(collector.clone())).expect("metric names are unique");
    collector
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(registry, IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric definition"))
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let metrics = Self {
            member_writes: counter(
                &registry,
                "arrakis_member_role_writes_total",
                "Member-role writes sent to Discord by member sync, by guild, action (grant, revoke) and outcome (ok, gone, refused).",
                &["guild", "action", "outcome"],
            ),
            grants: counter(&registry, "arrakis_member_sync_grants_total", "Roles granted by member sync.", &["guild"]),
            revocations: counter(
                &registry,
                "arrakis_member_sync_revocations_total",
                "Roles revoked by member sync.",
                &["guild"],
            ),
            held: counter(
                &registry,
                "arrakis_member_sync_held_revocations_total",
                "Revocations the mass-removal breaker held for the operator.",
                &["guild"],
            ),
            discord_requests: counter(
                &registry,
                "arrakis_discord_requests_total",
                "Discord REST requests, by route and HTTP status (timeout, unreachable or budget when none came back).",
                &["route", "status"],
            ),
            discord_rate_limited: counter(
                &registry,
                "arrakis_discord_rate_limited_total",
                "Discord 429 answers, by scope: route (a bucket, Discord's user or shared scope), global, unknown.",
                &["scope"],
            ),
            budget_wait: register(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        "arrakis_discord_budget_wait_seconds",
                        "Time a Discord request waited for its share: the guild's limiter, the route bucket, the bot's global budget.",
                    )
                    .buckets(WAIT_BUCKETS.to_vec()),
                    &["limiter"],
                )
                .expect("a valid metric definition"),
            ),
            chain_calls: counter(
                &registry,
                "arrakis_chain_calls_total",
                "Chain RPC calls, by chain, provider and outcome (ok, rejected, failed, shed, circuit_open).",
                &["chain", "provider", "outcome"],
            ),
            breaker_state: register(
                &registry,
                IntGaugeVec::new(
                    Opts::new("arrakis_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open."),
                    &["breaker"],
                )
                .expect("a valid metric definition"),
            ),
            registry,
        };
        // Known label values start at zero, so an alert's series exists before the first event.
        for scope in RATE_LIMIT_SCOPES {
            metrics.discord_rate_limited.with_label_values(&[scope]);
        }
        metrics
    }

    /// The registry, for collectors of other parts of the process (the Temporal SDK's relay).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Records how long a request waited for `limiter`.
    pub fn waited(&self, limiter: &str, waited: Duration) {
        self.budget_wait.with_label_values(&[limiter]).observe(waited.as_secs_f64());
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if TextEncoder::new().encode(&self.registry.gather(), &mut out).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}
