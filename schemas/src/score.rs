//! The Score Service's HTTP contract (version 1): ranks and scores of holders per asset, and
//! the action history of an address. Shared by the client in `activities` and the stand-in in
//! `sim`, so the two cannot drift apart.
//!
//! | request | answer |
//! |---|---|
//! | `GET /v1/assets/{asset}/holders/{address}` | 200 [`HolderScore`]; 404 [`ScoreApiError`] `not_ranked` |
//! | `GET /v1/assets/{asset}/holders?limit=N&after=RANK` | 200 [`RankedHolders`] (limit 1–1000, default 100) |
//! | `GET /v1/addresses/{address}/actions?asset={asset}` | 200 [`ActionHistory`] |
//!
//! Every request carries `Authorization: Bearer {SCORE_API_KEY}` (401 `unauthorized` without).
//! `{asset}` is an [`asset_ref`]; addresses are lower-case `0x` hex.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The largest page of ranked holders one request may ask for.
pub const HOLDERS_PAGE_MAX: u32 = 1000;

/// How an asset is named in the API: `{chain_id}:{address}` or, for one ERC-1155 token,
/// `{chain_id}:{address}:{token_id}`, with the address in lower case.
pub fn asset_ref(chain_id: u64, address: &str, token_id: Option<&str>) -> String {
    match token_id {
        Some(id) => format!("{chain_id}:{}:{id}", address.to_ascii_lowercase()),
        None => format!("{chain_id}:{}", address.to_ascii_lowercase()),
    }
}

/// One holder's standing for one asset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HolderScore {
    /// Lower-case `0x` address.
    pub address: String,
    /// The asset, as [`asset_ref`].
    pub asset: String,
    /// 1 is the top holder.
    pub rank: u32,
    /// The score the rank orders by, a decimal string.
    pub score: String,
}

/// A page of ranked holders, best first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RankedHolders {
    /// The asset.
    pub asset: String,
    /// Holders ranked after the requested rank.
    pub holders: Vec<HolderScore>,
    /// The `after` of the next page, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u32>,
}

/// What an address did with an asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Bought, minted or received.
    Acquired,
    /// Sold, burned or otherwise redeemed.
    Redeemed,
    /// Shared water with another holder (the Water Sharer lineage).
    SharedWater,
    /// A contribution recognised by the community.
    Contributed,
    /// Counted towards the activity score.
    Active,
}

/// One entry of an address's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Action {
    /// What happened.
    pub kind: ActionKind,
    /// When, as Unix seconds.
    pub at: i64,
    /// The other address, for `shared_water`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterparty: Option<String>,
}

/// An address's history for one asset, oldest first, with its activity score.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ActionHistory {
    /// Lower-case `0x` address.
    pub address: String,
    /// The asset.
    pub asset: String,
    /// The activity score over the history.
    pub activity_score: u32,
    /// The actions, oldest first.
    pub actions: Vec<Action>,
}

impl ActionHistory {
    /// True when no action redeemed the asset.
    pub fn never_redeemed(&self) -> bool {
        !self.actions.iter().any(|a| a.kind == ActionKind::Redeemed)
    }
}

/// The error body of every non-2xx answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScoreApiError {
    /// The error.
    pub error: ScoreApiErrorBody,
}

/// The code and message of an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScoreApiErrorBody {
    /// `not_ranked`, `unauthorized`, `bad_request`, `unavailable`.
    pub code: String,
    /// For people.
    pub message: String,
}
