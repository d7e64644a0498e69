//! Chain reads through alloy: the configured chains, their failover clients, batched balance
//! and ownership probes, and the conversion of what came back into the tri-state holdings the
//! eligibility engine decides on.

mod config;
mod inspect;
mod reader;
mod rpc;
mod watch;

pub use config::{ChainConfig, limits, parse_chains};
pub use reader::{MULTICALL3, Probe, ProbeResult};
pub use rpc::{CallAnswer, ChainClient, ChainError};
pub use watch::{movers, transfer_topics};

use crate::circuit::CircuitConfig;
use alloy::primitives::{Address, U256};
use arrakis_schemas::{
    AssetKind, CommunityManifest, Condition,
    eligibility::{BaseUnits, Holding, MemberFacts},
};
use std::{collections::BTreeMap, sync::Arc};

/// What one read of many members' holdings found.
#[derive(Clone, Debug, Default)]
pub struct Readout {
    /// The block read per chain id.
    pub blocks: BTreeMap<u64, u64>,
    /// Each member's facts.
    pub facts: BTreeMap<String, MemberFacts>,
    /// Chains that could not be read at all, with why; their assets are `unknown` in `facts`.
    pub unreachable: BTreeMap<u64, String>,
}

/// Every configured chain, by id.
#[derive(Clone, Debug, Default)]
pub struct Chains {
    clients: BTreeMap<u64, Arc<ChainClient>>,
}

impl Chains {
    /// Clients for validated configs.
    pub fn new(configs: Vec<ChainConfig>, breaker: CircuitConfig) -> Self {
        let clients = configs.into_iter().map(|c| (c.id, Arc::new(ChainClient::new(c, breaker)))).collect();
        Self { clients }
    }

    /// Reads and validates the `ARRAKIS_CHAINS` file at `path`.
    pub fn from_file(path: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("ARRAKIS_CHAINS: cannot read {path}: {e}"))?;
        Ok(Self::new(parse_chains(&text)?, CircuitConfig::default()))
    }

    /// The client of chain `id`.
    pub fn client(&self, id: u64) -> Result<&ChainClient, ChainError> {
        self.clients.get(&id).map(Arc::as_ref).ok_or(ChainError::NotConfigured(id))
    }

    /// Requests sent to every chain so far.
    pub fn round_trips(&self) -> u64 {
        self.clients.values().map(|c| c.round_trips()).sum()
    }

    /// What each member's wallets hold of every asset of `manifest`, read in batches at one
    /// block per chain (`pinned`, or the newest, which is then returned). A chain that cannot
    /// be read makes its assets `unknown` for everyone, with the reason; it never reads as 0.
    pub async fn holdings(
        &self,
        manifest: &CommunityManifest,
        members: &BTreeMap<String, Vec<Address>>,
        pinned: &BTreeMap<u64, u64>,
    ) -> Readout {
        let mut facts: BTreeMap<String, MemberFacts> =
            members.keys().map(|m| (m.clone(), MemberFacts::default())).collect();
        let mut blocks = BTreeMap::new();
        let mut unreachable = BTreeMap::new();
        // (member, fact slot, probe) per chain; the slot says where the answer goes.
        let mut plan: BTreeMap<u64, Vec<(String, Slot, Probe)>> = BTreeMap::new();
        for asset in &manifest.assets {
            let Ok(token) = asset.address.parse::<Address>() else {
                for f in facts.values_mut() {
                    f.holdings
                        .insert(asset.key.clone(), Holding::unknown(format!("'{}' has no valid address", asset.key)));
                }
                continue;
            };
            let erc1155_id = asset.token_id.as_deref().and_then(|id| id.parse::<U256>().ok());
            let owned_ids = specific_tokens(manifest, &asset.key);
            for (member, wallets) in members {
                let entry = facts.entry(member.clone()).or_default();
                entry.holdings.insert(asset.key.clone(), Holding::known(BaseUnits::zero()));
                for id in &owned_ids {
                    entry.tokens.insert(MemberFacts::token_key(&asset.key, id), Holding::known(BaseUnits::zero()));
                }
                for &holder in wallets {
                    let probe = match (asset.kind, erc1155_id) {
                        (AssetKind::Erc1155, Some(id)) => Probe::Erc1155BalanceOf { token, id, holder },
                        (AssetKind::Erc1155, None) => continue,
                        _ => Probe::BalanceOf { token, holder },
                    };
                    let slot = Slot::Holding(asset.key.clone());
                    plan.entry(asset.chain_id).or_default().push((member.clone(), slot, probe));
                    if asset.kind == AssetKind::Erc721 {
                        for id in &owned_ids {
                            let Ok(token_id) = id.parse::<U256>() else { continue };
                            let slot = Slot::Token(MemberFacts::token_key(&asset.key, id));
                            let probe = Probe::OwnerOf { token, token_id, holder };
                            plan.entry(asset.chain_id).or_default().push((member.clone(), slot, probe));
                        }
                    }
                }
            }
        }
        for (chain_id, entries) in plan {
            let probes: Vec<Probe> = entries.iter().map(|(_, _, p)| *p).collect();
            let read = async {
                let client = self.client(chain_id)?;
                let block = match pinned.get(&chain_id) {
                    Some(b) => *b,
                    None => client.block_number().await?,
                };
                Ok::<_, ChainError>((block, client.read_batched(&probes, block).await?))
            };
            match read.await {
                Ok((block, results)) => {
                    blocks.insert(chain_id, block);
                    for ((member, slot, _), result) in entries.into_iter().zip(results) {
                        let reading = match result {
                            Ok(units) => Holding::known(units),
                            Err(reason) => Holding::unknown(reason),
                        };
                        if let Some(f) = facts.get_mut(&member) {
                            slot.merge(f, &reading);
                        }
                    }
                }
                Err(e) => {
                    let reason = e.to_string();
                    unreachable.insert(chain_id, reason.clone());
                    for (member, slot, _) in entries {
                        if let Some(f) = facts.get_mut(&member) {
                            slot.set(f, Holding::unknown(reason.clone()));
                        }
                    }
                }
            }
        }
        Readout { blocks, facts, unreachable }
    }
}

/// Where a probe's answer lands in [`MemberFacts`].
#[derive(Clone, Debug)]
enum Slot {
    Holding(String),
    Token(String),
}

impl Slot {
    fn target<'a>(&self, f: &'a mut MemberFacts) -> &'a mut Holding {
        match self {
            Slot::Holding(k) => f.holdings.entry(k.clone()).or_default(),
            Slot::Token(k) => f.tokens.entry(k.clone()).or_default(),
        }
    }

    fn merge(&self, f: &mut MemberFacts, reading: &Holding) {
        self.target(f).merge(reading);
    }

    fn set(&self, f: &mut MemberFacts, reading: Holding) {
        *self.target(f) = reading;
    }
}

/// The ERC721 token ids that `owns_nft` conditions name for `asset`, sorted.
fn specific_tokens(manifest: &CommunityManifest, asset: &str) -> Vec<String> {
    let mut out = Vec::new();
    for rule in manifest.rules.values() {
        rule.for_each_leaf(&mut |leaf| {
            if let Condition::OwnsNft { asset: a, token_id: Some(id) } = leaf
                && a == asset
            {
                out.push(id.clone());
            }
        });
    }
    out.sort();
    out.dedup();
    out
}
