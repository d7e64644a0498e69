//! The Score Service stand-in: serves the contract of `arrakis_schemas::score` from seeded
//! scores and histories, and can be switched to an outage (503) to exercise the client's
//! circuit breaker and the eligibility engine's degradation.
//!
//! Control API: `PUT /_sim/scores/{asset}` (body `[{address, score}]`, replaces the asset's
//! scores), `PUT /_sim/history/{asset}/{address}` (body [`ActionHistory`]), `PUT /_sim/outage`
//! (body `{"status": 503}` or `{"status": null}`), `GET /_sim/requests` (API requests served).

use arrakis_schemas::eligibility::BaseUnits;
use arrakis_schemas::score::{
    ActionHistory, HOLDERS_PAGE_MAX, HolderScore, RankedHolders, ScoreApiError, ScoreApiErrorBody,
};
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, put},
};
use serde::Deserialize;
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
};
use tokio::{net::TcpListener, task::JoinHandle};

/// A seeded score of one address.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct ScoreSeed {
    /// Any-case `0x` address.
    pub address: String,
    /// A non-negative integer as a decimal string.
    pub score: String,
}

#[derive(Default)]
struct World {
    /// asset → holders ranked best first.
    ranked: BTreeMap<String, Vec<HolderScore>>,
    history: BTreeMap<(String, String), ActionHistory>,
    outage: Option<u16>,
    requests: u64,
}

struct Shared {
    api_key: String,
    world: Mutex<World>,
}

impl Shared {
    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running Score Service stand-in.
pub struct ScoreSim {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ScoreSim {
    /// Where it listens; `SCORE_API_URL` is `http://{addr}`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL clients are configured with.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections (connections already open may still be served).
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Starts the stand-in on `addr` (port 0 picks one), accepting `api_key`.
pub async fn start_score_sim(addr: SocketAddr, api_key: &str) -> std::io::Result<ScoreSim> {
    crate::install_tls();
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared { api_key: api_key.to_string(), world: Mutex::default() });
    let app = Router::new()
        .route("/v1/assets/{asset}/holders/{address}", get(holder))
        .route("/v1/assets/{asset}/holders", get(holders))
        .route("/v1/addresses/{address}/actions", get(actions))
        .route("/_sim/scores/{asset}", put(seed_scores))
        .route("/_sim/history/{asset}/{address}", put(seed_history))
        .route("/_sim/outage", put(set_outage))
        .route("/_sim/requests", get(requests))
        .with_state(shared);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(ScoreSim { addr, task })
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ScoreApiError { error: ScoreApiErrorBody { code: code.into(), message: message.into() } };
    (status, Json(body)).into_response()
}

/// Authentication, the outage switch and the request counter, for every API request: the
/// refusal to send, if any.
fn refusal(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let mut world = shared.world();
    world.requests += 1;
    if let Some(status) = world.outage {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return Some(error(status, "unavailable", "the Score Service is unavailable"));
    }
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(shared.api_key.as_str()) {
        return Some(error(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong bearer token"));
    }
    None
}

async fn holder(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((asset, address)): Path<(String, String)>,
) -> Response {
    if let Some(r) = refusal(&shared, &headers) {
        return r;
    }
    let address = address.to_ascii_lowercase();
    let world = shared.world();
    match world.ranked.get(&asset).and_then(|h| h.iter().find(|s| s.address == address)) {
        Some(score) => Json(score.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_ranked", format!("{address} holds no rank for {asset}")),
    }
}

#[derive(Deserialize)]
struct Page {
    limit: Option<u32>,
    after: Option<u32>,
}

async fn holders(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(asset): Path<String>,
    Query(page): Query<Page>,
) -> Response {
    if let Some(r) = refusal(&shared, &headers) {
        return r;
    }
    let limit = page.limit.unwrap_or(100);
    if !(1..=HOLDERS_PAGE_MAX).contains(&limit) {
        return error(StatusCode::BAD_REQUEST, "bad_request", format!("limit: 1 to {HOLDERS_PAGE_MAX}"));
    }
    let after = page.after.unwrap_or(0);
    let world = shared.world();
    let all = world.ranked.get(&asset).map(Vec::as_slice).unwrap_or_default();
    let holders: Vec<_> = all.iter().filter(|h| h.rank > after).take(limit as usize).cloned().collect();
    let next_after = holders.last().filter(|last| all.iter().any(|h| h.rank > last.rank)).map(|last| last.rank);
    Json(RankedHolders { asset, holders, next_after }).into_response()
}

#[derive(Deserialize)]
struct AssetQuery {
    asset: String,
}

async fn actions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(address): Path<String>,
    Query(q): Query<AssetQuery>,
) -> Response {
    if let Some(r) = refusal(&shared, &headers) {
        return r;
    }
    let address = address.to_ascii_lowercase();
    let world = shared.world();
    let history = world.history.get(&(q.asset.clone(), address.clone())).cloned().unwrap_or(ActionHistory {
        address,
        asset: q.asset,
        activity_score: 0,
        actions: Vec::new(),
    });
    Json(history).into_response()
}

async fn seed_scores(
    State(shared): State<Arc<Shared>>,
    Path(asset): Path<String>,
    Json(seeds): Json<Vec<ScoreSeed>>,
) -> Response {
    let mut scored = Vec::with_capacity(seeds.len());
    for (i, seed) in seeds.into_iter().enumerate() {
        match BaseUnits::parse(&seed.score) {
            Ok(score) => scored.push((score, seed.address.to_ascii_lowercase())),
            Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", format!("[{i}].score: {e}")),
        }
    }
    // Best score first; ties by address, so ranks are stable.
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let ranked = scored
        .into_iter()
        .enumerate()
        .map(|(i, (score, address))| HolderScore {
            address,
            asset: asset.clone(),
            rank: u32::try_from(i + 1).unwrap_or(u32::MAX),
            score: score.to_string(),
        })
        .collect();
    shared.world().ranked.insert(asset, ranked);
    StatusCode::NO_CONTENT.into_response()
}

async fn seed_history(
    State(shared): State<Arc<Shared>>,
    Path((asset, address)): Path<(String, String)>,
    Json(history): Json<ActionHistory>,
) -> Response {
    shared.world().history.insert((asset, address.to_ascii_lowercase()), history);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct Outage {
    status: Option<u16>,
}

async fn set_outage(State(shared): State<Arc<Shared>>, Json(outage): Json<Outage>) -> Response {
    shared.world().outage = outage.status;
    StatusCode::NO_CONTENT.into_response()
}

async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    Json(serde_json::json!({ "requests": shared.world().requests })).into_response()
}
