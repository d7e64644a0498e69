//! `/healthz` and `/metrics`: one scrape target with Arrakis's metrics and the Temporal SDK's
//! (relayed into the same registry by `sdk_metrics`).

use arrakis_activities::Store;
use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

/// What the endpoints report on.
#[derive(Clone)]
pub(crate) struct Health {
    pub(crate) store: Store,
    pub(crate) polling: Arc<AtomicBool>,
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

async fn metrics() -> impl IntoResponse {
    ([("content-type", "text/plain; version=0.0.4")], arrakis_activities::metrics::metrics().render())
}
