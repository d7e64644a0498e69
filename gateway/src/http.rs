//! `/healthz` (ready only while every shard of this process has a session) and `/metrics`.

use crate::metrics::Metrics;
use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde_json::{Value, json};
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

type Shards = Arc<Vec<(u32, AtomicBool)>>;

async fn healthz(State((shards, _)): State<(Shards, Metrics)>) -> (StatusCode, Json<Value>) {
    let list: Vec<Value> =
        shards.iter().map(|(id, up)| json!({"shard": id, "connected": up.load(Ordering::Relaxed)})).collect();
    let ready = !shards.is_empty() && shards.iter().all(|(_, up)| up.load(Ordering::Relaxed));
    let code = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(json!({"ready": ready, "shards": list})))
}

async fn metrics(State((_, metrics)): State<(Shards, Metrics)>) -> String {
    metrics.render()
}

/// The router.
pub fn router(shards: Shards, metrics: Metrics) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(self::metrics)).with_state((shards, metrics))
}
