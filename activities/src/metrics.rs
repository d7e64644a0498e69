//! Arrakis's own metrics in the worker process, the ones an operator alerts on: member-role
//! writes, grants, revocations and held revocations per guild. The worker's `/metrics` serves
//! them beside the Temporal SDK's.

use prometheus::{Encoder, IntCounterVec, Opts, Registry, TextEncoder};
use std::sync::OnceLock;

/// The worker's registry and its counters.
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
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let counter = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric definition");
    registry.register(Box::new(counter.clone())).expect("metric names are unique");
    counter
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        Self {
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
            registry,
        }
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
