//! `/healthz` and `/metrics`. The SDK's Prometheus exporter binds its own loopback port and
//! its registry is private, so `/metrics` relays that exporter's page: one scrape target has
//! the SDK's metrics and ours.

use arrakis_activities::Store;
use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the endpoints report on.
#[derive(Clone)]
pub(crate) struct Health {
    pub(crate) store: Store,
    pub(crate) polling: Arc<AtomicBool>,
    pub(crate) sdk_metrics: SocketAddr,
}

pub(crate) fn router(health: Health) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(metrics)).with_state(health)
}

async fn healthz(State(h): State<Health>) -> impl IntoResponse {
    let polling = h.polling.load(Ordering::Relaxed);
    let database = h.store.ping().await;
    let body = serde_json::json!({ "worker": if polling { "polling" } else { "stopped" }, "database": database });
    let status = if polling && database { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body))
}

async fn metrics(State(h): State<Health>) -> impl IntoResponse {
    match tokio::time::timeout(Duration::from_secs(5), scrape(h.sdk_metrics)).await {
        Ok(Ok(body)) => {
            let ours = arrakis_activities::metrics::metrics().render();
            (StatusCode::OK, [("content-type", "text/plain; version=0.0.4")], format!("{body}{ours}"))
        }
        Ok(Err(e)) => (StatusCode::BAD_GATEWAY, [("content-type", "text/plain")], format!("metrics exporter: {e}\n")),
        Err(_) => {
            (StatusCode::GATEWAY_TIMEOUT, [("content-type", "text/plain")], "metrics exporter timed out\n".into())
        }
    }
}

/// One HTTP/1.0 GET to the SDK exporter on loopback; it answers and closes.
async fn scrape(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) =
        text.split_once("\r\n\r\n").ok_or_else(|| std::io::Error::other("malformed response from the exporter"))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(std::io::Error::other(head.lines().next().unwrap_or_default().to_string()));
    }
    Ok(body.to_string())
}
