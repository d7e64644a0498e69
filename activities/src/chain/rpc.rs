//! One chain's RPC endpoints with **sequential** failover: each request goes to the first URL
//! whose circuit is closed and whose bulkhead has room, and moves on to the next only when
//! that one fails at the transport level. (alloy's `FallbackLayer` races URLs in parallel and
//! keeps a dead first URL on top; it is not used.) When every URL fails the error is returned,
//! not hidden: Temporal's activity retries own the waiting.

use super::config::ChainConfig;
use crate::circuit::{CircuitBreaker, CircuitConfig};
use alloy::{
    eips::BlockId,
    primitives::{Address, Bytes},
    providers::{Provider, RootProvider},
    rpc::{client::RpcClient, types::TransactionRequest},
    transports::{RpcError, TransportErrorKind},
};
use std::{
    future::Future,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};
use tokio::sync::Semaphore;

/// Why a chain read failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// Every endpoint refused, failed, was shed or had its circuit open.
    #[error("chain {chain}: no RPC endpoint answered ({attempts})")]
    Unavailable {
        /// The chain's name.
        chain: String,
        /// What happened at each endpoint, by label (never the URL).
        attempts: String,
    },
    /// The chain id is not in `ARRAKIS_CHAINS`.
    #[error("chain {0} is not configured in ARRAKIS_CHAINS")]
    NotConfigured(u64),
}

/// An `eth_call` the node answered: returned data, or a JSON-RPC error such as a revert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallAnswer {
    /// The call returned.
    Returned(Bytes),
    /// The node answered with an error (a revert, an invalid request); the text is the node's.
    Rejected(String),
}

struct Endpoint {
    label: String,
    provider: RootProvider,
    breaker: CircuitBreaker,
    bulkhead: Semaphore,
}

/// A chain's endpoints and counters.
pub struct ChainClient {
    config: ChainConfig,
    endpoints: Vec<Endpoint>,
    round_trips: AtomicU64,
}

impl std::fmt::Debug for ChainClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainClient")
            .field("chain", &self.config.name)
            .field("endpoints", &self.endpoints.len())
            .finish()
    }
}

impl ChainClient {
    /// Builds the endpoints (no connection is made until the first request).
    pub fn new(config: ChainConfig, breaker: CircuitConfig) -> Self {
        crate::install_tls_provider();
        let timeout = Duration::from_millis(config.request_timeout_ms);
        let endpoints = config
            .rpc_urls
            .iter()
            .enumerate()
            .map(|(i, url)| {
                let http = reqwest::Client::builder()
                    .timeout(timeout)
                    .connect_timeout(timeout.min(Duration::from_secs(2)))
                    .build()
                    .unwrap_or_default();
                let client = RpcClient::new_http_with_client(http, url.clone());
                let label = format!("{}#{}", config.name, i + 1);
                Endpoint {
                    breaker: CircuitBreaker::named(breaker, format!("chain:{label}")),
                    label,
                    provider: RootProvider::new(client),
                    bulkhead: Semaphore::new(config.max_in_flight),
                }
            })
            .collect();
        Self { config, endpoints, round_trips: AtomicU64::new(0) }
    }

    /// The chain's settings.
    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// Requests sent so far (every attempt at every endpoint).
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// The newest block number: reads of one sweep pin it so retries see the same state.
    pub async fn block_number(&self) -> Result<u64, ChainError> {
        self.request(|p| async move { p.get_block_number().await })
            .await?
            .map_err(|rejected| self.unavailable(format!("eth_blockNumber: {rejected}")))
    }

    /// A node's refusal of a request every healthy node should answer, as the chain's failure.
    pub(super) fn unavailable(&self, attempts: String) -> ChainError {
        ChainError::Unavailable { chain: self.config.name.clone(), attempts }
    }

    /// `eth_call` of `data` at `to`, at block `block`.
    pub async fn call(&self, to: Address, data: Bytes, block: u64) -> Result<CallAnswer, ChainError> {
        let answer = self
            .request(|p| {
                let tx = TransactionRequest::default().to(to).input(data.clone().into());
                async move { p.call(tx).block(BlockId::number(block)).await }
            })
            .await?;
        Ok(match answer {
            Ok(bytes) => CallAnswer::Returned(bytes),
            Err(rejected) => CallAnswer::Rejected(rejected),
        })
    }

    /// Runs `op` against the endpoints in order. `Ok(Err(text))` is a JSON-RPC error answer
    /// from a healthy node; transport failures and rate limits move on to the next endpoint.
    pub(super) async fn request<T, F, Fut>(&self, op: F) -> Result<Result<T, String>, ChainError>
    where
        F: Fn(RootProvider) -> Fut,
        Fut: Future<Output = Result<T, RpcError<TransportErrorKind>>>,
    {
        let mut attempts = Vec::new();
        let calls = &crate::metrics::metrics().chain_calls;
        for endpoint in &self.endpoints {
            let count = |outcome: &str| calls.with_label_values(&[&self.config.name, &endpoint.label, outcome]).inc();
            // Bulkhead first, so a shed request never holds the half-open probe.
            let Ok(_permit) = endpoint.bulkhead.try_acquire() else {
                count("shed");
                attempts.push(format!("{}: shed ({} in flight)", endpoint.label, self.config.max_in_flight));
                continue;
            };
            if !endpoint.breaker.try_acquire() {
                count("circuit_open");
                attempts.push(format!("{}: circuit open", endpoint.label));
                continue;
            }
            self.round_trips.fetch_add(1, Ordering::Relaxed);
            match op(endpoint.provider.clone()).await {
                Ok(value) => {
                    count("ok");
                    endpoint.breaker.record(true);
                    return Ok(Ok(value));
                }
                Err(RpcError::ErrorResp(payload)) if !is_rate_limit(payload.code, &payload.message) => {
                    count("rejected");
                    endpoint.breaker.record(true);
                    return Ok(Err(format!("{} ({})", payload.message, payload.code)));
                }
                Err(e) => {
                    count("failed");
                    endpoint.breaker.record(false);
                    tracing::warn!(endpoint = %endpoint.label, failure = %describe(&e), "RPC endpoint failed; trying the next");
                    attempts.push(format!("{}: {}", endpoint.label, describe(&e)));
                }
            }
        }
        Err(ChainError::Unavailable { chain: self.config.name.clone(), attempts: attempts.join("; ") })
    }
}

/// JSON-RPC error codes and messages providers use for "slow down" (Infura, QuickNode, …).
fn is_rate_limit(code: i64, message: &str) -> bool {
    matches!(code, 429 | -32005 | -32007 | -32012 | -32016) || message.to_ascii_lowercase().contains("rate limit")
}

/// A failure in words that never include the URL (it may hold an API key).
fn describe(e: &RpcError<TransportErrorKind>) -> String {
    match e {
        RpcError::Transport(TransportErrorKind::HttpError(h)) => format!("HTTP {}", h.status),
        RpcError::Transport(TransportErrorKind::Custom(inner)) => match inner.downcast_ref::<reqwest::Error>() {
            Some(r) if r.is_timeout() => "timed out".into(),
            Some(r) if r.is_connect() => "connection refused or unreachable".into(),
            Some(r) => match r.status() {
                Some(s) => format!("HTTP {s}"),
                None => "request failed".into(),
            },
            None => "transport failed".into(),
        },
        RpcError::Transport(_) => "transport failed".into(),
        RpcError::ErrorResp(p) => format!("rate limited ({})", p.code),
        RpcError::NullResp => "null response".into(),
        RpcError::DeserError { .. } => "unreadable response".into(),
        _ => "request failed".into(),
    }
}
