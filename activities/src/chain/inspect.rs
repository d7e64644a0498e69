//! What a contract says about itself, for the wizard's "assets by address": its code, the
//! ERC-165 interfaces of the two collection standards, and the ERC-20 metadata calls. Every
//! call is read at one block; a call that reverts or answers nonsense is a fact ("does not
//! say"), not a failure. Only an unreachable chain fails the read.

use super::{CallAnswer, ChainClient, ChainError, Chains};
use alloy::{
    eips::BlockId,
    primitives::{Address, Bytes, FixedBytes},
    providers::Provider,
    sol,
    sol_types::SolCall,
};
use arrakis_schemas::workflows::wizard::assets::{ChainOption, ContractFacts};

sol! {
    interface IERC165 { function supportsInterface(bytes4 interfaceId) external view returns (bool); }
    interface IERC20Metadata {
        function name() external view returns (string);
        function symbol() external view returns (string);
        function decimals() external view returns (uint8);
        function totalSupply() external view returns (uint256);
    }
    /// Old tokens (MKR, SAI) answer `name`/`symbol` as bytes32.
    interface IERC20Bytes32 { function name() external view returns (bytes32); }
}

/// ERC-165 interface ids: ERC-721 and ERC-1155.
const ERC721_ID: [u8; 4] = [0x80, 0xac, 0x58, 0xcd];
const ERC1155_ID: [u8; 4] = [0xd9, 0xb6, 0x7a, 0x26];

impl Chains {
    /// The configured chains, for the wizard's chain select.
    pub fn options(&self) -> Vec<ChainOption> {
        self.clients.values().map(|c| ChainOption { id: c.config().id, name: c.config().name.clone() }).collect()
    }

    /// Reads what the contract at `address` on chain `chain_id` says about itself.
    pub async fn inspect(&self, chain_id: u64, address: Address) -> Result<ContractFacts, ChainError> {
        self.client(chain_id)?.inspect(address).await
    }
}

impl ChainClient {
    async fn returned(&self, to: Address, data: Bytes, block: u64) -> Result<Option<Bytes>, ChainError> {
        Ok(match self.call(to, data, block).await? {
            CallAnswer::Returned(bytes) if !bytes.is_empty() => Some(bytes),
            CallAnswer::Returned(_) | CallAnswer::Rejected(_) => None,
        })
    }

    async fn supports(&self, to: Address, id: [u8; 4], block: u64) -> Result<Option<bool>, ChainError> {
        let data = IERC165::supportsInterfaceCall { interfaceId: FixedBytes(id) }.abi_encode().into();
        let answer = self.returned(to, data, block).await?;
        Ok(answer.and_then(|b| IERC165::supportsInterfaceCall::abi_decode_returns(&b).ok()))
    }

    /// A `string` answer, or a `bytes32` one (old tokens), of the call `data`.
    async fn text(&self, to: Address, data: Bytes, block: u64) -> Result<Option<String>, ChainError> {
        let Some(bytes) = self.returned(to, data, block).await? else { return Ok(None) };
        // `name()` and `symbol()` return the same types: either decoder reads either answer.
        if let Ok(text) = IERC20Metadata::nameCall::abi_decode_returns(&bytes) {
            return Ok(Some(text));
        }
        Ok(IERC20Bytes32::nameCall::abi_decode_returns(&bytes).ok().map(|word| {
            let end = word.iter().position(|b| *b == 0).unwrap_or(32);
            String::from_utf8_lossy(&word[..end]).into_owned()
        }))
    }

    /// The facts about one contract, read at the newest block.
    pub async fn inspect(&self, address: Address) -> Result<ContractFacts, ChainError> {
        let block = self.block_number().await?;
        let code = self
            .request(|p| async move { p.get_code_at(address).block_id(BlockId::number(block)).await })
            .await?
            .map_err(|rejected| self.unavailable(format!("eth_getCode: {rejected}")))?;
        let mut facts = ContractFacts { code_len: code.len() as u64, ..ContractFacts::default() };
        if code.is_empty() {
            return Ok(facts);
        }
        facts.erc721 = self.supports(address, ERC721_ID, block).await?;
        facts.erc1155 = self.supports(address, ERC1155_ID, block).await?;
        let decimals = self.returned(address, IERC20Metadata::decimalsCall {}.abi_encode().into(), block).await?;
        // `uint8` decoding refuses a word above 255: a contract answering that has no decimals.
        facts.decimals = decimals.and_then(|b| IERC20Metadata::decimalsCall::abi_decode_returns(&b).ok());
        let supply = self.returned(address, IERC20Metadata::totalSupplyCall {}.abi_encode().into(), block).await?;
        facts.total_supply = supply.is_some_and(|b| IERC20Metadata::totalSupplyCall::abi_decode_returns(&b).is_ok());
        facts.name = self.text(address, IERC20Metadata::nameCall {}.abi_encode().into(), block).await?;
        facts.symbol = self.text(address, IERC20Metadata::symbolCall {}.abi_encode().into(), block).await?;
        Ok(facts)
    }
}
