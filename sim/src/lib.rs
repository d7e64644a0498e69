#![doc = include_str!("../README.md")]
#![recursion_limit = "256"]
//! Local stand-ins for the two services a development machine cannot reach: Discord (REST v10
//! and gateway v10) and the Score Service (`score`). Test and demo infrastructure only, never a
//! production code path.
//!
//! The Discord stand-in follows the real contracts: request bodies are validated against
//! Discord's own OpenAPI spec (vendored in `spec/`), responses can be checked against it, and
//! rate limits, error codes, permissions, the role hierarchy, interaction deadlines and the
//! gateway protocol behave as Discord documents them. twilight's clients work against it
//! unchanged: `twilight_http::Client::builder().proxy(sim.api_host(), true)` and
//! `twilight_gateway::ConfigBuilder::proxy_url(sim.gateway_url())`.
//!
//! Tests and the demo drive it through the control API (`/_sim/...`) with [`SimClient`].

mod client;
mod config;
mod control;
mod error;
pub mod figures;
mod gateway;
mod hub;
mod interactions;
mod ratelimit;
mod rest;
mod score;
mod spec;
mod state;
mod world;

pub use client::SimClient;
pub use config::{Limits, SimConfig};
pub use control::{ChannelSeed, Counters, GenerateMembers, GuildState, MemberSeed, MembersSeed, RoleSeed};
pub use hub::ShardState;
pub use interactions::{Action, InjectInteraction, InteractionReport, custom_ids};
pub use ratelimit::RateCounters;
pub use rest::ROUTES;
pub use score::{ScoreSeed, ScoreSim, start_score_sim};
pub use spec::{SchemaViolation, Spec};
pub use state::{Faults, GuildSeed, LogEntry, ReadEntry};
pub use world::permissions;

use std::{net::SocketAddr, sync::Arc};
use tokio::{net::TcpListener, task::JoinHandle};

/// A running stand-in; dropping it stops it.
pub struct RunningSim {
    rest_addr: SocketAddr,
    gateway_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningSim {
    /// `host:port` of the REST API, for twilight-http's `proxy(host, true)`.
    pub fn api_host(&self) -> String {
        self.rest_addr.to_string()
    }

    /// The gateway's URL, for twilight-gateway's `proxy_url`.
    pub fn gateway_url(&self) -> String {
        format!("ws://{}", self.gateway_addr)
    }

    /// The REST address.
    pub fn rest_addr(&self) -> SocketAddr {
        self.rest_addr
    }

    /// A client of the control API.
    pub fn client(&self) -> SimClient {
        SimClient::new(&format!("http://{}", self.rest_addr))
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

/// Makes ring the process's rustls crypto provider (idempotent). The workspace builds reqwest
/// with rustls but without a provider of its own, so every process picks one before its
/// first HTTP client; the stand-ins and their client do it for their callers.
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Starts the stand-in on `rest` and `gateway` (port 0 picks a free port).
pub async fn start(config: SimConfig, rest: SocketAddr, gateway: SocketAddr) -> anyhow::Result<RunningSim> {
    install_tls();
    let rest_listener = TcpListener::bind(rest).await.map_err(|e| anyhow::anyhow!("REST address {rest}: {e}"))?;
    let gateway_listener =
        TcpListener::bind(gateway).await.map_err(|e| anyhow::anyhow!("gateway address {gateway}: {e}"))?;
    let rest_addr = rest_listener.local_addr()?;
    let gateway_addr = gateway_listener.local_addr()?;
    let sim = Arc::new(state::Sim::new(config));
    if let Ok(mut url) = sim.gateway_url.write() {
        *url = format!("ws://{gateway_addr}");
    }
    let app = rest::router(sim.clone()).merge(control::router(sim.clone()));
    let rest_task = tokio::spawn(async move {
        if let Err(e) = axum::serve(rest_listener, app).await {
            tracing::error!("discord-sim REST stopped: {e}");
        }
    });
    let gateway_task = tokio::spawn(gateway::serve(sim, gateway_listener));
    Ok(RunningSim { rest_addr, gateway_addr, tasks: vec![rest_task, gateway_task] })
}
