//! The `ARRAKIS_CHAINS` file: which chains Arrakis reads and through which RPC URLs, in order
//! of preference. YAML:
//!
//! ```yaml
//! chains:
//!   - id: 1
//!     name: ethereum
//!     rpc_urls: ["https://eth.example/v2/KEY", "https://backup.example"]
//!     multicall_batch: 500       # calls per aggregate3 (default 500)
//!     max_in_flight: 8           # concurrent requests per URL before shedding (default 8)
//!     request_timeout_ms: 5000   # per request (default 5000)
//! ```
//!
//! RPC URLs often carry API keys: they are never logged or put in errors; endpoints are named
//! by chain and position (`ethereum#1`) instead.

use serde::Deserialize;
use std::collections::BTreeSet;
use url::Url;

/// One chain's settings, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainConfig {
    /// EVM chain id.
    pub id: u64,
    /// A short name for logs and errors.
    pub name: String,
    /// RPC URLs, tried in this order.
    pub rpc_urls: Vec<Url>,
    /// Calls per Multicall3 `aggregate3`.
    pub multicall_batch: usize,
    /// Concurrent requests per URL; more are shed to the next URL.
    pub max_in_flight: usize,
    /// Per-request timeout.
    pub request_timeout_ms: u64,
}

/// Limits on the file's values, so a typo cannot ask a node for a 100k-call batch.
pub mod limits {
    /// Most URLs per chain.
    pub const URLS_MAX: usize = 8;
    /// Largest multicall batch (anvil's 2 MB body limit fits about 4,600 calls).
    pub const BATCH_MAX: usize = 4000;
    /// Most concurrent requests per URL.
    pub const IN_FLIGHT_MAX: usize = 256;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    chains: Vec<RawChain>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChain {
    id: u64,
    name: String,
    rpc_urls: Vec<String>,
    multicall_batch: Option<usize>,
    max_in_flight: Option<usize>,
    request_timeout_ms: Option<u64>,
}

/// Parses and validates the file's text; every problem is reported with its field path.
pub fn parse_chains(text: &str) -> Result<Vec<ChainConfig>, String> {
    let file: File = serde_yaml_ng::from_str(text).map_err(|e| format!("ARRAKIS_CHAINS: {e}"))?;
    let mut errors = Vec::new();
    let mut ids = BTreeSet::new();
    let mut chains = Vec::new();
    if file.chains.is_empty() {
        errors.push("chains: list at least one chain".to_string());
    }
    for (i, raw) in file.chains.into_iter().enumerate() {
        let at = |f: &str| format!("chains[{i}].{f}");
        if raw.id == 0 {
            errors.push(format!("{}: a positive EVM chain id", at("id")));
        } else if !ids.insert(raw.id) {
            errors.push(format!("{}: chain {} is listed twice", at("id"), raw.id));
        }
        if raw.name.trim().is_empty() || raw.name.len() > 64 {
            errors.push(format!("{}: 1 to 64 characters", at("name")));
        }
        if raw.rpc_urls.is_empty() || raw.rpc_urls.len() > limits::URLS_MAX {
            errors.push(format!("{}: 1 to {} URLs", at("rpc_urls"), limits::URLS_MAX));
        }
        let mut urls = Vec::new();
        for (j, u) in raw.rpc_urls.iter().enumerate() {
            match Url::parse(u) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => urls.push(url),
                // The URL itself may hold a key: name the position, not the text.
                _ => errors.push(format!("{}[{j}]: an http(s) URL with a host", at("rpc_urls"))),
            }
        }
        let batch = raw.multicall_batch.unwrap_or(500);
        if !(1..=limits::BATCH_MAX).contains(&batch) {
            errors.push(format!("{}: 1 to {}", at("multicall_batch"), limits::BATCH_MAX));
        }
        let in_flight = raw.max_in_flight.unwrap_or(8);
        if !(1..=limits::IN_FLIGHT_MAX).contains(&in_flight) {
            errors.push(format!("{}: 1 to {}", at("max_in_flight"), limits::IN_FLIGHT_MAX));
        }
        let timeout = raw.request_timeout_ms.unwrap_or(5000);
        if !(100..=120_000).contains(&timeout) {
            errors.push(format!("{}: 100 to 120000", at("request_timeout_ms")));
        }
        chains.push(ChainConfig {
            id: raw.id,
            name: raw.name,
            rpc_urls: urls,
            multicall_batch: batch,
            max_in_flight: in_flight,
            request_timeout_ms: timeout,
        });
    }
    if errors.is_empty() { Ok(chains) } else { Err(format!("ARRAKIS_CHAINS: {}", errors.join("; "))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_file_parses_with_defaults() {
        let chains = parse_chains(
            "chains:\n  - id: 31337\n    name: anvil\n    rpc_urls: [\"http://127.0.0.1:8545\", \"http://127.0.0.1:8546\"]\n",
        )
        .expect("valid");
        assert_eq!(chains.len(), 1);
        assert_eq!((chains[0].multicall_batch, chains[0].max_in_flight, chains[0].request_timeout_ms), (500, 8, 5000));
        assert_eq!(chains[0].rpc_urls.len(), 2);
    }

    #[test]
    fn every_bad_field_is_named_and_urls_are_not_echoed() {
        let err = parse_chains(
            "chains:\n  - id: 0\n    name: ''\n    rpc_urls: [\"ftp://secret-key@x\"]\n    multicall_batch: 0\n  - id: 5\n    name: b\n    rpc_urls: []\n  - id: 5\n    name: c\n    rpc_urls: [\"http://a\"]\n",
        )
        .expect_err("invalid");
        for field in [
            "chains[0].id",
            "chains[0].name",
            "chains[0].rpc_urls[0]",
            "chains[0].multicall_batch",
            "chains[1].rpc_urls",
            "chains[2].id: chain 5 is listed twice",
        ] {
            assert!(err.contains(field), "{field} missing from: {err}");
        }
        assert!(!err.contains("secret-key"), "{err}");
        assert!(parse_chains("chains: []").is_err());
        assert!(parse_chains("chains:\n  - id: 1\n    name: a\n    rpc_urls: [\"http://a\"]\n    typo: 1\n").is_err());
    }
}
