#![doc = include_str!("../README.md")]

pub mod commands;
pub mod components;
pub mod config;
pub mod dedupe;
pub mod detections;
mod http;
pub mod interactions;
pub mod member;
pub mod member_sync;
pub mod metrics;
pub mod migration;
pub mod redis_link;
pub mod shadow;
mod shards;
pub mod temporal;
pub mod wizard;

pub use config::{Settings, SettingsError, ShardPlan};

use anyhow::Context;
use std::{net::SocketAddr, sync::Arc, time::Duration};
use twilight_model::id::Id;

/// Now, Unix ms: when the gateway received an event or an interaction (which member sync
/// compares with the times of its own writes), and the "now" of the status lines.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_millis()).ok())
        .unwrap_or_default()
}

/// The REST client for `settings` (Discord, or the stand-in at `DISCORD_API_BASE`).
pub fn rest_client(settings: &Settings) -> twilight_http::Client {
    let mut builder =
        twilight_http::Client::builder().token(settings.token.expose().to_string()).timeout(Duration::from_secs(10));
    if let Some(base) = &settings.api_base {
        let use_http = base.starts_with("http://");
        let host = base.trim_start_matches("http://").trim_start_matches("https://");
        builder = builder.proxy(host.to_string(), use_http);
    }
    builder.build()
}

/// Runs the gateway until `shutdown` completes; `on_ready` gets the HTTP address once
/// `/healthz` and `/metrics` are served.
pub async fn run_until(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    // twilight's TLS needs a process-wide crypto provider; Arrakis uses ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let metrics = metrics::Metrics::new();
    let http = Arc::new(rest_client(&settings));
    let application_id = match settings.application_id {
        Some(id) => Id::new_checked(id).context("DISCORD_APPLICATION_ID: not a Discord id")?,
        None => {
            let me = http.current_user().await.context("DISCORD_TOKEN: Discord refused it")?.model().await?;
            me.id.cast()
        }
    };
    match commands::register(&http, application_id).await {
        Ok(n) => tracing::info!(commands = n, "application commands registered"),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "could not register commands; they keep their last definition")
        }
    }
    let workflows = temporal::Workflows::connect(
        settings.temporal_address.clone(),
        settings.namespace.clone(),
        settings.task_queue.clone(),
        settings.wizard_idle_timeout_secs,
        metrics.clone(),
    );
    let redis = Arc::new(redis_link::RedisLink::new(&settings.redis_url).context("REDIS_URL: not a Redis URL")?);
    let interactions = Arc::new(interactions::Interactions {
        http: http.clone(),
        application_id,
        workflows: workflows.clone(),
        dedupe: dedupe::Dedupe::new(redis.clone()),
        redis: redis.clone(),
        metrics: metrics.clone(),
        ack_deadline: settings.ack_deadline,
        command_ack_budget: settings.command_ack_budget,
        component_ack_budget: settings.component_ack_budget,
    });
    let judged = detections::Judged::new(redis, &settings.task_queue);
    let detections = detections::Detections::start(judged, workflows.clone(), metrics.clone());
    let running = shards::start(&settings, &http, interactions, workflows, detections, metrics.clone()).await?;

    let listener = tokio::net::TcpListener::bind(settings.http_addr)
        .await
        .with_context(|| format!("ARRAKIS_GATEWAY_HTTP_ADDR {} is not free", settings.http_addr))?;
    let addr = listener.local_addr()?;
    let router = http::router(running.states.clone(), metrics);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    tracing::info!(http = %addr, shards = running.states.len(), "arrakis gateway listening");
    on_ready(addr);
    shutdown.await;
    tracing::info!("shutting down: closing shards");
    running.stop().await;
    server.abort();
    Ok(())
}
