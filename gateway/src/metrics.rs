//! The gateway's Prometheus metrics, the ones an operator alerts on: shard state, latency and
//! sessions, events by type, interaction acknowledgement latency by kind, deferrals and busy
//! answers, Temporal calls (latency, in flight) and the detection queue.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
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
    shard_latency: GaugeVec,
    sessions: IntCounterVec,
    interactions: IntCounterVec,
    deferred: IntCounterVec,
    member_events: IntCounterVec,
    temporal_in_flight: IntGauge,
    detection_queue: IntGauge,
    backlog: IntCounterVec,
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
        let deferred = counter(
            "arrakis_gateway_interactions_deferred_total",
            "Interactions acknowledged first (deferred) and answered by an edit, by kind.",
            &["kind"],
        );
        let backlog = counter(
            "arrakis_gateway_backlog_guilds_total",
            "Guilds a READY listed, by verdict: judged already (nothing started) or unjudged (queued for detection).",
            &["verdict"],
        );
        // Zero from the start, so a dashboard and an alert see the series before the first one.
        for kind in ["command", "component", "modal_submit"] {
            deferred.with_label_values(&[kind]);
        }
        for verdict in ["judged", "unjudged"] {
            backlog.with_label_values(&[verdict]);
        }
        let sessions = counter(
            "arrakis_gateway_shard_sessions_total",
            "Sessions a shard began, by how (identify: READY and a GUILD_CREATE backlog; resume).",
            &["shard", "how"],
        );
        let shard_latency = GaugeVec::new(
            Opts::new("arrakis_gateway_shard_latency_seconds", "The shard's mean heartbeat round trip."),
            &["shard"],
        )
        .expect("valid metric definition");
        registry.register(Box::new(shard_latency.clone())).expect("unique metric");
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric definition");
            registry.register(Box::new(g.clone())).expect("unique metric");
            g
        };
        let temporal_in_flight =
            gauge("arrakis_gateway_temporal_calls_in_flight", "Temporal calls sent and not yet answered.");
        let detection_queue =
            gauge("arrakis_gateway_detection_queue", "Guilds waiting for their incumbent detection to be started.");
        Self {
            registry,
            events,
            ack,
            temporal,
            shards,
            shard_latency,
            sessions,
            interactions,
            deferred,
            member_events,
            temporal_in_flight,
            detection_queue,
            backlog,
        }
    }

    /// Counts the guilds of a READY backlog by verdict.
    pub fn backlog_checked(&self, judged: usize, unjudged: usize) {
        self.backlog.with_label_values(&["judged"]).inc_by(judged as u64);
        self.backlog.with_label_values(&["unjudged"]).inc_by(unjudged as u64);
    }

    /// Records a shard's mean heartbeat latency.
    pub fn shard_latency(&self, shard: u32, latency: Duration) {
        self.shard_latency.with_label_values(&[&shard.to_string()]).set(latency.as_secs_f64());
    }

    /// Counts a session a shard began (`identify` or `resume`).
    pub fn session(&self, shard: u32, how: &str) {
        self.sessions.with_label_values(&[&shard.to_string(), how]).inc();
    }

    /// Counts an interaction acknowledged first and answered by an edit.
    pub fn deferred(&self, kind: &str) {
        self.deferred.with_label_values(&[kind]).inc();
    }

    /// A Temporal call went out (`+1`) or came back (`-1`).
    pub fn temporal_in_flight(&self, delta: i64) {
        self.temporal_in_flight.add(delta);
    }

    /// Guilds joined (`+n`) or left (`-n`) the detection queue.
    pub fn detection_queued(&self, delta: i64) {
        self.detection_queue.add(delta);
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
