//! The gateway's Prometheus metrics: events by type, interaction ack latency, Temporal call
//! latency, shard states, and what happened to interactions and member events.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use std::time::Duration;

/// Latency buckets (seconds) around Discord's 3-second window.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0];

/// Cheap to clone; every clone updates the same registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    events: IntCounterVec,
    ack: HistogramVec,
    temporal: HistogramVec,
    shards: IntGaugeVec,
    interactions: IntCounterVec,
    member_events: IntCounterVec,
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric definition");
            registry.register(Box::new(c.clone())).expect("unique metric");
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()), labels)
                .expect("valid metric definition");
            registry.register(Box::new(h.clone())).expect("unique metric");
            h
        };
        let events = counter("arrakis_gateway_events_total", "Gateway events received, by type.", &["type"]);
        let ack = histogram(
            "arrakis_gateway_interaction_ack_seconds",
            "From receiving an interaction to Discord accepting its first response.",
            &["kind"],
        );
        let temporal = histogram(
            "arrakis_gateway_temporal_call_seconds",
            "Temporal calls, by call and outcome.",
            &["call", "outcome"],
        );
        let shards = IntGaugeVec::new(
            Opts::new("arrakis_gateway_shard_connected", "1 while the shard has an active session."),
            &["shard"],
        )
        .expect("valid metric definition");
        registry.register(Box::new(shards.clone())).expect("unique metric");
        let interactions = counter(
            "arrakis_gateway_interactions_total",
            "Interactions by outcome (answered, busy, refused, duplicate, failed).",
            &["outcome"],
        );
        let member_events = counter(
            "arrakis_gateway_member_events_total",
            "Member events by outcome (signalled, no_workflow, failed).",
            &["outcome"],
        );
        Self { registry, events, ack, temporal, shards, interactions, member_events }
    }

    /// Counts a gateway event.
    pub fn event(&self, kind: &str) {
        self.events.with_label_values(&[kind]).inc();
    }

    /// Records an interaction's ack latency.
    pub fn ack(&self, kind: &str, latency: Duration) {
        self.ack.with_label_values(&[kind]).observe(latency.as_secs_f64());
    }

    /// Records a Temporal call.
    pub fn temporal_call(&self, call: &str, outcome: &str, latency: Duration) {
        self.temporal.with_label_values(&[call, outcome]).observe(latency.as_secs_f64());
    }

    /// Sets a shard's state.
    pub fn shard(&self, shard: u32, connected: bool) {
        self.shards.with_label_values(&[&shard.to_string()]).set(i64::from(connected));
    }

    /// Counts an interaction's outcome.
    pub fn interaction(&self, outcome: &str) {
        self.interactions.with_label_values(&[outcome]).inc();
    }

    /// Counts a member event's outcome.
    pub fn member_event(&self, outcome: &str) {
        self.member_events.with_label_values(&[outcome]).inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
