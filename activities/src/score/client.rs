//! The Score Service client: its v1 contract (`arrakis_schemas::score`), behind a circuit
//! breaker, with the score store as the cached fallback. Every answer says where it came from.

use super::store::{ScoreStore, StoredScore};
use crate::{
    circuit::{CircuitBreaker, CircuitConfig},
    storage::CommunityId,
};
use arrakis_schemas::{
    eligibility::{RankFact, ScoreSource},
    score::{ActionHistory, HolderScore, ScoreApiError},
};
use serde::de::DeserializeOwned;
use std::time::Duration;
use url::Url;

/// Why the Score Service gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// The breaker is open: the service failed too often lately.
    #[error("the Score Service circuit is open (too many recent failures)")]
    CircuitOpen,
    /// No answer or a 5xx/429.
    #[error("the Score Service is unavailable: {0}")]
    Unavailable(String),
    /// A 4xx other than "not ranked": our request or our key is wrong.
    #[error("the Score Service refused the request: {0}")]
    Refused(String),
}

/// The HTTP client. The API key is kept out of `Debug` and every error.
pub struct ScoreClient {
    base: Url,
    api_key: String,
    http: reqwest::Client,
    breaker: CircuitBreaker,
}

impl std::fmt::Debug for ScoreClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScoreClient").field("base", &self.base.origin().ascii_serialization()).finish()
    }
}

impl ScoreClient {
    /// A client of `SCORE_API_URL` with `SCORE_API_KEY`.
    pub fn new(base: Url, api_key: String, breaker: CircuitConfig, timeout: Duration) -> Self {
        crate::install_tls_provider();
        let http = reqwest::Client::builder().timeout(timeout).build().unwrap_or_default();
        Self { base, api_key, http, breaker: CircuitBreaker::named(breaker, "score") }
    }

    /// The breaker, for health reporting.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<Option<T>, ScoreError> {
        if !self.breaker.try_acquire() {
            return Err(ScoreError::CircuitOpen);
        }
        let url = self.base.join(path).map_err(|_| ScoreError::Refused("bad path".into()))?;
        let sent = self.http.get(url).query(query).bearer_auth(&self.api_key).send().await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                self.breaker.record(false);
                let what = if e.is_timeout() { "timed out" } else { "no connection" };
                return Err(ScoreError::Unavailable(what.into()));
            }
        };
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 {
            self.breaker.record(false);
            return Err(ScoreError::Unavailable(format!("HTTP {status}")));
        }
        // A 4xx is an answer from a healthy service.
        self.breaker.record(true);
        if status.is_success() {
            return response
                .json::<T>()
                .await
                .map(Some)
                .map_err(|e| ScoreError::Refused(format!("unreadable answer: {e}")));
        }
        let error = response.json::<ScoreApiError>().await.ok();
        match error {
            Some(e) if status.as_u16() == 404 && e.error.code == "not_ranked" => Ok(None),
            Some(e) => Err(ScoreError::Refused(format!("HTTP {status} {}: {}", e.error.code, e.error.message))),
            None => Err(ScoreError::Refused(format!("HTTP {status}"))),
        }
    }

    /// The standing of `address` for `asset`; `None` when not ranked.
    pub async fn holder(&self, asset: &str, address: &str) -> Result<Option<HolderScore>, ScoreError> {
        self.get(&format!("v1/assets/{asset}/holders/{address}"), &[]).await
    }

    /// The action history of `address` for `asset`.
    pub async fn actions(&self, asset: &str, address: &str) -> Result<ActionHistory, ScoreError> {
        self.get(&format!("v1/addresses/{address}/actions"), &[("asset", asset)])
            .await?
            .ok_or_else(|| ScoreError::Refused("no history answer".into()))
    }
}

/// Ranks with the degradation the architecture asks for: the service, else the stored last
/// answer (`cache`), else `unavailable` (the engine then falls back to the chain).
pub struct ScoreLookup<S> {
    client: Option<ScoreClient>,
    store: S,
}

impl<S: ScoreStore> ScoreLookup<S> {
    /// `client` is `None` when no `SCORE_API_URL` is configured: only the cache answers.
    pub fn new(client: Option<ScoreClient>, store: S) -> Self {
        Self { client, store }
    }

    /// The client, if configured.
    pub fn client(&self) -> Option<&ScoreClient> {
        self.client.as_ref()
    }

    /// The activity score and "never redeemed" of `address` for `asset`, each with its
    /// source: the service (its answer is cached), else the cached answer, else `None` (the
    /// engine then counts activity as 0 and "never redeemed" as no).
    pub async fn history_facts(
        &self,
        community: CommunityId,
        asset: &str,
        address: &str,
        now: i64,
    ) -> (Option<(u32, ScoreSource)>, Option<(bool, ScoreSource)>) {
        if let Some(client) = &self.client
            && let Ok(history) = client.actions(asset, address).await
        {
            let previous = self.store.get(community, asset, address).await.ok().flatten();
            let stored = StoredScore {
                activity_score: Some(history.activity_score),
                never_redeemed: Some(history.never_redeemed()),
                fetched_at: now,
                ..previous.unwrap_or(StoredScore {
                    asset: asset.to_string(),
                    address: address.to_string(),
                    rank: None,
                    score: None,
                    activity_score: None,
                    never_redeemed: None,
                    fetched_at: now,
                })
            };
            if let Err(e) = self.store.save(community, &[stored]).await {
                tracing::warn!(error = %e, "could not cache a Score Service history");
            }
            let live = ScoreSource::ScoreService;
            return (Some((history.activity_score, live)), Some((history.never_redeemed(), live)));
        }
        match self.store.get(community, asset, address).await {
            Ok(Some(cached)) => (
                cached.activity_score.map(|a| (a, ScoreSource::Cache)),
                cached.never_redeemed.map(|n| (n, ScoreSource::Cache)),
            ),
            _ => (None, None),
        }
    }

    /// The rank of `address` (lower-case) for `asset`, with its source.
    pub async fn rank(&self, community: CommunityId, asset: &str, address: &str, now: i64) -> RankFact {
        let failure = match &self.client {
            Some(client) => match client.holder(asset, address).await {
                Ok(answer) => {
                    let stored = StoredScore {
                        asset: asset.to_string(),
                        address: address.to_string(),
                        rank: answer.as_ref().map(|h| h.rank),
                        score: answer.as_ref().map(|h| h.score.clone()),
                        activity_score: None,
                        never_redeemed: None,
                        fetched_at: now,
                    };
                    if let Err(e) = self.store.save(community, &[stored]).await {
                        tracing::warn!(error = %e, "could not cache a Score Service answer");
                    }
                    return match answer {
                        Some(h) => RankFact::Ranked {
                            position: h.rank,
                            source: ScoreSource::ScoreService,
                            score: Some(h.score),
                        },
                        None => RankFact::Unranked { source: ScoreSource::ScoreService },
                    };
                }
                Err(e) => e.to_string(),
            },
            None => "no SCORE_API_URL is configured".to_string(),
        };
        match self.store.get(community, asset, address).await {
            Ok(Some(cached)) => match cached.rank {
                Some(position) => RankFact::Ranked { position, source: ScoreSource::Cache, score: cached.score },
                None => RankFact::Unranked { source: ScoreSource::Cache },
            },
            Ok(None) => RankFact::Unavailable { reason: format!("{failure}, and no cached rank") },
            Err(e) => RankFact::Unavailable { reason: format!("{failure}, and the cache failed: {e}") },
        }
    }
}
