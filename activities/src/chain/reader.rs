//! Balance and ownership reads for many (wallet, asset) pairs: batched into Multicall3
//! `aggregate3` calls of at most `multicall_batch` each, all at one pinned block, or one
//! `eth_call` per pair (the baseline the benchmark compares against).

use super::rpc::{CallAnswer, ChainClient, ChainError};
use alloy::{
    primitives::{Address, Bytes, U256, address},
    sol,
    sol_types::SolCall,
};
use arrakis_schemas::eligibility::BaseUnits;
use futures::future::try_join_all;

/// Multicall3's canonical address, the same on every chain that has it.
pub const MULTICALL3: Address = address!("cA11bde05977b3631167028862bE2a173976CA11");

/// Chunks of one read sent at once (each still passes the endpoint's bulkhead).
const CHUNKS_IN_FLIGHT: usize = 4;

sol! {
    interface IMulticall3 {
        struct Call3 { address target; bool allowFailure; bytes callData; }
        struct Result { bool success; bytes returnData; }
        function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory returnData);
    }
    interface IERC20 { function balanceOf(address owner) external view returns (uint256); }
    interface IERC721 { function ownerOf(uint256 tokenId) external view returns (address); }
    interface IERC1155 { function balanceOf(address owner, uint256 id) external view returns (uint256); }
}

/// One question for the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// ERC20 `balanceOf(holder)`, or an ERC721 collection's token count of `holder`.
    BalanceOf {
        /// The contract.
        token: Address,
        /// The wallet.
        holder: Address,
    },
    /// Whether `holder` owns ERC721 token `token_id` (1 or 0).
    OwnerOf {
        /// The collection.
        token: Address,
        /// The token.
        token_id: U256,
        /// The wallet.
        holder: Address,
    },
    /// ERC1155 `balanceOf(holder, id)`.
    Erc1155BalanceOf {
        /// The contract.
        token: Address,
        /// The token id.
        id: U256,
        /// The wallet.
        holder: Address,
    },
}

/// The answer to one probe: a quantity, or why this one could not be read.
pub type ProbeResult = Result<BaseUnits, String>;

impl Probe {
    fn target(&self) -> Address {
        match self {
            Probe::BalanceOf { token, .. } | Probe::OwnerOf { token, .. } | Probe::Erc1155BalanceOf { token, .. } => {
                *token
            }
        }
    }

    fn calldata(&self) -> Bytes {
        match *self {
            Probe::BalanceOf { holder, .. } => IERC20::balanceOfCall { owner: holder }.abi_encode().into(),
            Probe::OwnerOf { token_id, .. } => IERC721::ownerOfCall { tokenId: token_id }.abi_encode().into(),
            Probe::Erc1155BalanceOf { id, holder, .. } => {
                IERC1155::balanceOfCall { owner: holder, id }.abi_encode().into()
            }
        }
    }

    /// Decodes the call's outcome. `ownerOf` of a token that does not exist reverts (ERC721):
    /// that is a definite "does not own", not an unknown.
    fn decode(&self, success: bool, data: &[u8]) -> ProbeResult {
        match self {
            Probe::OwnerOf { holder, .. } => {
                if !success {
                    return Ok(BaseUnits::zero());
                }
                let owner = IERC721::ownerOfCall::abi_decode_returns(data).map_err(|_| undecodable(self))?;
                Ok(if owner == *holder { units(U256::from(1)) } else { BaseUnits::zero() })
            }
            Probe::BalanceOf { .. } | Probe::Erc1155BalanceOf { .. } => {
                if !success {
                    return Err(format!("the call to {} reverted", self.target()));
                }
                IERC20::balanceOfCall::abi_decode_returns(data).map(units).map_err(|_| undecodable(self))
            }
        }
    }
}

fn units(value: U256) -> BaseUnits {
    BaseUnits::parse(&value.to_string()).unwrap_or_else(|_| BaseUnits::zero())
}

fn undecodable(probe: &Probe) -> String {
    format!("{} returned data that is not a balance (not a token contract?)", probe.target())
}

impl ChainClient {
    /// Reads every probe through Multicall3 at `block`, in chunks of `multicall_batch`. A
    /// probe that reverts fails alone; an endpoint failure fails the whole read.
    pub async fn read_batched(&self, probes: &[Probe], block: u64) -> Result<Vec<ProbeResult>, ChainError> {
        let chunks: Vec<&[Probe]> = probes.chunks(self.config().multicall_batch.max(1)).collect();
        let mut out = Vec::with_capacity(probes.len());
        // Waves of concurrent chunks; answers keep the probes' order.
        for wave in chunks.chunks(CHUNKS_IN_FLIGHT) {
            let answers = try_join_all(wave.iter().map(|chunk| self.aggregate(chunk, block))).await?;
            out.extend(answers.into_iter().flatten());
        }
        Ok(out)
    }

    async fn aggregate(&self, chunk: &[Probe], block: u64) -> Result<Vec<ProbeResult>, ChainError> {
        let calls = chunk
            .iter()
            .map(|p| IMulticall3::Call3 { target: p.target(), allowFailure: true, callData: p.calldata() })
            .collect();
        let data: Bytes = IMulticall3::aggregate3Call { calls }.abi_encode().into();
        let whole_chunk = |reason: String| chunk.iter().map(|_| Err(reason.clone())).collect();
        match self.call(MULTICALL3, data, block).await? {
            CallAnswer::Rejected(reason) => Ok(whole_chunk(format!("the multicall was rejected: {reason}"))),
            CallAnswer::Returned(bytes) => match IMulticall3::aggregate3Call::abi_decode_returns(&bytes) {
                Ok(results) if results.len() == chunk.len() => {
                    Ok(chunk.iter().zip(results).map(|(p, r)| p.decode(r.success, &r.returnData)).collect())
                }
                _ => Ok(whole_chunk(format!(
                    "Multicall3 is not deployed at {MULTICALL3} on chain {} (or answered garbage)",
                    self.config().id
                ))),
            },
        }
    }

    /// Reads every probe with its own `eth_call` at `block`, `in_flight` at a time: the
    /// baseline for the benchmark, and the path for a chain without Multicall3.
    pub async fn read_one_by_one(
        &self,
        probes: &[Probe],
        block: u64,
        in_flight: usize,
    ) -> Result<Vec<ProbeResult>, ChainError> {
        let mut out = Vec::with_capacity(probes.len());
        for wave in probes.chunks(in_flight.max(1)) {
            out.extend(try_join_all(wave.iter().map(|p| self.read_one(p, block))).await?);
        }
        Ok(out)
    }

    async fn read_one(&self, probe: &Probe, block: u64) -> Result<ProbeResult, ChainError> {
        Ok(match self.call(probe.target(), probe.calldata(), block).await? {
            CallAnswer::Returned(bytes) => probe.decode(true, &bytes),
            CallAnswer::Rejected(reason) if reason.contains("revert") => probe.decode(false, &[]),
            CallAnswer::Rejected(reason) => Err(reason),
        })
    }
}
