//! Who qualifies for which role: tri-state verdicts over what the chain and the Score Service
//! said about a member, and the themes' tiers and badges. Pure and deterministic, so workflows
//! may evaluate it and replays agree.

mod amount;
mod engine;
mod themes;

pub use amount::{AmountError, BaseUnits};
pub use engine::{Evaluation, RoleVerdict, evaluate, evaluate_roles};
pub use themes::{BadgeCriterion, BadgeFacts, BadgeSpec, ThemeSpec, TierBand, badges_for};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The answer to "does this member qualify?": `unknown` is a real answer, and nothing
/// downstream ever revokes a role on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The condition holds.
    Eligible,
    /// The condition does not hold, on complete information.
    NotEligible,
    /// Some input needed to decide is missing; `reason` says which.
    Unknown {
        /// What could not be read, in an operator's words.
        reason: String,
    },
}

impl Verdict {
    /// True only for a definite yes.
    pub fn is_eligible(&self) -> bool {
        matches!(self, Verdict::Eligible)
    }

    /// The stable lower-case name (`eligible`, `not_eligible`, `unknown`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Eligible => "eligible",
            Verdict::NotEligible => "not_eligible",
            Verdict::Unknown { .. } => "unknown",
        }
    }
}

/// Where a score-derived answer came from; every answer says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScoreSource {
    /// A live answer of the Score Service.
    ScoreService,
    /// The last answer the Score Service gave, from the score store.
    Cache,
    /// The Score Service and the cache were unavailable; a chain-only fallback decided.
    NativeDegraded,
}

impl ScoreSource {
    /// The stable name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            ScoreSource::ScoreService => "score_service",
            ScoreSource::Cache => "cache",
            ScoreSource::NativeDegraded => "native_degraded",
        }
    }
}

/// How much of one asset a member holds over all their linked wallets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Holding {
    /// The sum over the wallets that could be read.
    pub known: Option<BaseUnits>,
    /// Why some wallet could not be read; `None` when all were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

impl Holding {
    /// A complete reading.
    pub fn known(units: BaseUnits) -> Self {
        Holding { known: Some(units), unknown: None }
    }

    /// Nothing could be read.
    pub fn unknown(reason: impl Into<String>) -> Self {
        Holding { known: None, unknown: Some(reason.into()) }
    }

    /// Adds another wallet's reading of the same asset.
    pub fn merge(&mut self, other: &Holding) {
        self.known = match (&self.known, &other.known) {
            (Some(a), Some(b)) => Some(a.add(b)),
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        if self.unknown.is_none() {
            self.unknown.clone_from(&other.unknown);
        }
    }

    /// Tri-state `held >= min`: a known part that already reaches it decides even if some
    /// wallet is unknown.
    pub fn at_least(&self, min: &BaseUnits) -> Verdict {
        let known = self.known.clone().unwrap_or_else(BaseUnits::zero);
        if &known >= min {
            Verdict::Eligible
        } else if let Some(reason) = &self.unknown {
            Verdict::Unknown { reason: reason.clone() }
        } else {
            Verdict::NotEligible
        }
    }
}

/// What the Score Service (or its fallbacks) said about a member's rank for one asset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "rank", rename_all = "snake_case")]
pub enum RankFact {
    /// Ranked `position` (1 is the top holder).
    Ranked {
        /// The position.
        position: u32,
        /// Where it came from.
        source: ScoreSource,
        /// The score the rank orders by (a decimal string), when the answer carried it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        score: Option<String>,
    },
    /// Not among the ranked holders.
    Unranked {
        /// Where that came from.
        source: ScoreSource,
    },
    /// The member has no linked wallet, so nothing to rank (and nobody was asked).
    NoWallet,
    /// Neither the Score Service nor the cache could say.
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// Everything the engine may look at for one member: holdings by asset key, NFT ownership by
/// (asset key, token id), ranks by asset key. A missing entry reads as unknown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MemberFacts {
    /// Balance (ERC20, ERC1155) or token count (ERC721) per asset key.
    pub holdings: BTreeMap<String, Holding>,
    /// Ownership of specific ERC721 tokens: key `"{asset}#{token_id}"`, 1 when owned.
    #[serde(default)]
    pub tokens: BTreeMap<String, Holding>,
    /// Rank per asset key.
    #[serde(default)]
    pub ranks: BTreeMap<String, RankFact>,
    /// The theme's badges decided for the member (key → earned); a missing badge is unknown.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub badges: BTreeMap<String, bool>,
}

impl MemberFacts {
    /// The key of a specific token in [`MemberFacts::tokens`].
    pub fn token_key(asset: &str, token_id: &str) -> String {
        format!("{asset}#{token_id}")
    }
}
