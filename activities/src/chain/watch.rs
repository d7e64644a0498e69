//! Chain watching: the Transfer-family logs of the manifest's token contracts in a block range,
//! and the wallets they moved tokens from or to. ERC-20 and ERC-721 emit
//! `Transfer(from, to, …)`; ERC-1155 emits `TransferSingle` and `TransferBatch` with the
//! operator first. The block hash at the cursor tells when the chain reorganised under it.

use super::rpc::{ChainClient, ChainError};
use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
    providers::Provider,
    rpc::types::{Filter, Log},
    sol,
    sol_types::SolEvent,
};
use std::collections::BTreeSet;

sol! {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event TransferSingle(address indexed operator, address indexed from, address indexed to, uint256 id, uint256 value);
    event TransferBatch(address indexed operator, address indexed from, address indexed to, uint256[] ids, uint256[] values);
}

/// The event signatures watched (topic 0).
pub fn transfer_topics() -> Vec<B256> {
    vec![Transfer::SIGNATURE_HASH, TransferSingle::SIGNATURE_HASH, TransferBatch::SIGNATURE_HASH]
}

/// The wallets a log moved tokens from and to (the zero address of a mint or burn excluded).
pub fn movers(log: &Log) -> Vec<Address> {
    let topics = log.inner.data.topics();
    let (from, to) = match topics.first() {
        Some(t) if *t == Transfer::SIGNATURE_HASH => (topics.get(1), topics.get(2)),
        Some(t) if *t == TransferSingle::SIGNATURE_HASH || *t == TransferBatch::SIGNATURE_HASH => {
            (topics.get(2), topics.get(3))
        }
        _ => (None, None),
    };
    [from, to].into_iter().flatten().map(|t| Address::from_word(*t)).filter(|a| *a != Address::ZERO).collect()
}

impl ChainClient {
    /// The hash of block `number`, if the node has it.
    pub async fn block_hash(&self, number: u64) -> Result<Option<B256>, ChainError> {
        let answer = self
            .request(|p| async move { p.get_block_by_number(BlockNumberOrTag::Number(number)).await })
            .await?
            .map_err(|rejected| self.unavailable(format!("eth_getBlockByNumber: {rejected}")))?;
        Ok(answer.map(|block| block.header.hash))
    }

    /// The wallets the watched events of `contracts` moved in `from..=to`, asked for in ranges
    /// of at most `max_range` blocks; also how many logs there were.
    pub async fn transfers(
        &self,
        contracts: &[Address],
        from: u64,
        to: u64,
        max_range: u64,
    ) -> Result<(BTreeSet<Address>, u64), ChainError> {
        let mut moved = BTreeSet::new();
        let mut logs = 0;
        let mut start = from;
        while start <= to {
            let end = to.min(start.saturating_add(max_range.max(1) - 1));
            let filter = Filter::new()
                .address(contracts.to_vec())
                .event_signature(transfer_topics())
                .from_block(start)
                .to_block(end);
            let found = self
                .request(|p| {
                    let filter = filter.clone();
                    async move { p.get_logs(&filter).await }
                })
                .await?
                .map_err(|rejected| self.unavailable(format!("eth_getLogs: {rejected}")))?;
            logs += found.len() as u64;
            moved.extend(found.iter().flat_map(movers));
            start = end + 1;
        }
        Ok((moved, logs))
    }
}
