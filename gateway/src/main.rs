//! `arrakis-gateway`: the "ear" that turns Discord events into Temporal calls. Until the
//! gateway work lands it only proves its Temporal connection and serves `/healthz`, so the
//! deployment shape (process, port, health check) is already in place.

use anyhow::Context;
use std::net::SocketAddr;
use temporalio_client::{Connection, ConnectionOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new("info")).init();
    let address = std::env::var("TEMPORAL_ADDRESS").unwrap_or_else(|_| "http://127.0.0.1:7233".into());
    let address = if address.contains("://") { address } else { format!("http://{address}") };
    let url = url::Url::parse(&address).with_context(|| format!("TEMPORAL_ADDRESS: not a URL: {address:?}"))?;
    let http: SocketAddr = std::env::var("ARRAKIS_GATEWAY_HTTP_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:9465".into())
        .parse()
        .context("ARRAKIS_GATEWAY_HTTP_ADDR: an ip:port such as 127.0.0.1:9465")?;
    Connection::connect(ConnectionOptions::new(url.clone()).build())
        .await
        .with_context(|| format!("cannot reach Temporal at {url}"))?;
    let router = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(http).await.with_context(|| format!("{http} is not free"))?;
    tracing::info!(%http, "arrakis gateway up (no Discord connection yet)");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
