//! Assets by address: the operator names a chain and pastes a contract address, the worker
//! reads what the contract says about itself (`wizard.inspect_asset`), and the wizard shows
//! "SPICE (Spice), ERC-20, 18 decimals — right?" before the asset joins the draft.
//!
//! The reads happen in an activity; what they mean (which standard, which key, what to say)
//! is decided here, so the decision has unit tests and the workflow stays free of I/O.

use crate::{Asset, AssetKind, ValidationErrors, validate_checksum_address};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Update name: look up, confirm, discard or remove an asset of the draft.
pub const ASSET_UPDATE: &str = "asset";

/// A chain the worker can read (`ARRAKIS_CHAINS`): what the chain select offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainOption {
    /// EVM chain id.
    pub id: u64,
    /// The name the chains file gives it.
    pub name: String,
}

/// The `asset` update's payload: one edit of the draft's assets, at ASSET_CONFIG.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "edit", deny_unknown_fields)]
pub enum AssetEdit {
    /// Read the contract at `address` on `chain_id`; what was found waits for a confirmation.
    LookUp {
        /// One of the draft's chains.
        chain_id: u64,
        /// The contract, in any case (a one-case address takes its EIP-55 form).
        address: String,
        /// For an ERC-1155 contract: which token of it (a decimal string).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token_id: Option<String>,
    },
    /// Add the asset that was found to the draft.
    Confirm,
    /// Drop what was found (the operator pressed Change or Cancel).
    Discard,
    /// Remove an asset from the draft, by key.
    Remove {
        /// The asset's key.
        key: String,
    },
}

impl AssetEdit {
    /// Checks what can be checked without the chain: the chain is one of the draft's, the
    /// address is a well-formed address, a token id is a number. Returns the lookup with the
    /// address in its EIP-55 form.
    pub fn checked(&self, chains: &[u64]) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let Self::LookUp { chain_id, address, token_id } = self else { return Ok(self.clone()) };
        if !chains.contains(chain_id) {
            let listed = chains.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
            errors.push("chain_id", format!("chain {chain_id} is not one of this community's chains ({listed})"));
        }
        let address = crate::normalize_address(address.trim());
        if let Err(rule) = validate_checksum_address(&address) {
            errors.push("address", rule);
        }
        let token_id = token_id.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
        if let Some(t) = &token_id
            && (t.len() > 78 || !t.bytes().all(|b| b.is_ascii_digit()))
        {
            errors.push("token_id", format!("'{t}' is not a whole number of at most 78 digits"));
        }
        errors.into_result().map(|()| Self::LookUp { chain_id: *chain_id, address, token_id })
    }
}

/// The `wizard.inspect_asset` activity's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetLookup {
    /// The chain.
    pub chain_id: u64,
    /// The contract, EIP-55.
    pub address: String,
    /// For ERC-1155, the token asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
}

/// What the chain answered about a contract: the raw facts, before they are judged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContractFacts {
    /// Bytes of code at the address (0: an account, not a contract).
    pub code_len: u64,
    /// ERC-165 `supportsInterface(0x80ac58cd)`: `None` when the call reverted or made no sense.
    #[serde(default)]
    pub erc721: Option<bool>,
    /// ERC-165 `supportsInterface(0xd9b67a26)`.
    #[serde(default)]
    pub erc1155: Option<bool>,
    /// ERC-20 `decimals()`, when it answered with a number that fits.
    #[serde(default)]
    pub decimals: Option<u8>,
    /// ERC-20 `totalSupply()` answered (a token that omits `decimals` still has this).
    #[serde(default)]
    pub total_supply: bool,
    /// `name()`, when it answered a string (or a bytes32, as some old tokens do).
    #[serde(default)]
    pub name: Option<String>,
    /// `symbol()`, likewise.
    #[serde(default)]
    pub symbol: Option<String>,
}

/// A contract the operator can confirm: its standard and what it calls itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FoundAsset {
    /// The chain.
    pub chain_id: u64,
    /// The contract, EIP-55.
    pub address: String,
    /// The standard it answered to.
    pub kind: AssetKind,
    /// `name()`, cleaned for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `symbol()`, cleaned for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// ERC-20 decimals (18 when the token omits `decimals()`, as most wallets assume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
    /// ERC-1155: the token of the contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// True when `decimals()` was missing and 18 was assumed: the confirmation says so.
    #[serde(default)]
    pub decimals_assumed: bool,
}

/// Longest name or symbol shown (a contract may answer anything).
const SHOWN_MAX: usize = 40;

fn clean(text: Option<&str>) -> Option<String> {
    let text: String = text?.chars().filter(|c| !c.is_control() && !crate::is_invisible(*c)).collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(SHOWN_MAX).collect())
}

/// Judges what the chain said: which standard the contract is, or why it cannot be used,
/// in words that say what was found.
pub fn identify(lookup: &AssetLookup, facts: &ContractFacts) -> Result<FoundAsset, String> {
    let at = format!("{} on chain {}", lookup.address, lookup.chain_id);
    if facts.code_len == 0 {
        return Err(format!("there is no contract at {at}: it is an account (or not deployed on this chain)"));
    }
    let kind = match (facts.erc721, facts.erc1155) {
        (Some(true), _) => AssetKind::Erc721,
        (_, Some(true)) => AssetKind::Erc1155,
        _ if facts.decimals.is_some() || facts.total_supply => AssetKind::Erc20,
        _ => {
            return Err(format!(
                "the contract at {at} ({} bytes of code) is not ERC-20, ERC-721 or ERC-1155: it reports neither \
                 interface through ERC-165 and answers neither decimals() nor totalSupply()",
                facts.code_len
            ));
        }
    };
    let token_id = match kind {
        AssetKind::Erc1155 => match &lookup.token_id {
            Some(t) => Some(t.clone()),
            None => return Err(format!("the contract at {at} is an ERC-1155 collection: say which token id gates")),
        },
        _ => None,
    };
    let (decimals, decimals_assumed) = match kind {
        AssetKind::Erc20 => (Some(facts.decimals.unwrap_or(18)), facts.decimals.is_none()),
        _ => (None, false),
    };
    Ok(FoundAsset {
        chain_id: lookup.chain_id,
        address: lookup.address.clone(),
        kind,
        name: clean(facts.name.as_deref()),
        symbol: clean(facts.symbol.as_deref()),
        decimals,
        token_id,
        decimals_assumed,
    })
}

impl FoundAsset {
    /// "SPICE (Spice), ERC-20, 18 decimals".
    pub fn describe(&self) -> String {
        let title = match (&self.symbol, &self.name) {
            (Some(s), Some(n)) if s != n => format!("{s} ({n})"),
            (Some(s), _) => s.clone(),
            (None, Some(n)) => n.clone(),
            (None, None) => "An unnamed contract".to_string(),
        };
        let standard = match self.kind {
            AssetKind::Erc20 => "ERC-20",
            AssetKind::Erc721 => "ERC-721 collection",
            AssetKind::Erc1155 => "ERC-1155 collection",
        };
        let mut out = format!("{title}, {standard}");
        if let Some(d) = self.decimals {
            out.push_str(&format!(", {d} decimals"));
            if self.decimals_assumed {
                out.push_str(" (it does not say; 18 assumed)");
            }
        }
        if let Some(t) = &self.token_id {
            out.push_str(&format!(", token {t}"));
        }
        out
    }

    /// The draft asset, its key derived from the symbol (or name, or standard) and made
    /// unique among `taken`.
    pub fn to_asset(&self, taken: &[String]) -> Asset {
        Asset {
            key: asset_key(self.symbol.as_deref().or(self.name.as_deref()), self.kind, taken),
            chain_id: self.chain_id,
            kind: self.kind,
            address: self.address.clone(),
            token_id: self.token_id.clone(),
            decimals: self.decimals,
        }
    }
}

/// A manifest key from a symbol: lowercase letters and digits, other characters as '-',
/// a `-2`, `-3`… suffix when the key is taken. "SPICE" → `spice`, "w$ETH" → `w-eth`.
pub fn asset_key(symbol: Option<&str>, kind: AssetKind, taken: &[String]) -> String {
    let fallback = match kind {
        AssetKind::Erc20 => "token",
        AssetKind::Erc721 | AssetKind::Erc1155 => "collection",
    };
    crate::key_from(symbol, fallback, |k| taken.iter().any(|t| t == k))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPICE: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

    fn lookup(token_id: Option<&str>) -> AssetLookup {
        AssetLookup { chain_id: 31337, address: SPICE.into(), token_id: token_id.map(str::to_string) }
    }

    fn erc20() -> ContractFacts {
        ContractFacts {
            code_len: 1200,
            decimals: Some(18),
            total_supply: true,
            name: Some("Spice".into()),
            symbol: Some("SPICE".into()),
            ..ContractFacts::default()
        }
    }

    #[test]
    fn an_erc20_is_named_by_its_symbol_and_keyed_from_it() {
        let found = identify(&lookup(None), &erc20()).expect("an ERC-20");
        assert_eq!(found.describe(), "SPICE (Spice), ERC-20, 18 decimals");
        let asset = found.to_asset(&[]);
        assert_eq!((asset.key.as_str(), asset.kind, asset.decimals), ("spice", AssetKind::Erc20, Some(18)));
        assert_eq!(found.to_asset(&["spice".into(), "spice-2".into()]).key, "spice-3");
    }

    #[test]
    fn erc165_decides_between_the_collections_and_an_erc1155_needs_its_token() {
        let nft = ContractFacts { erc721: Some(true), erc1155: Some(false), ..erc20() };
        assert_eq!(identify(&lookup(None), &nft).expect("721").kind, AssetKind::Erc721);
        let multi = ContractFacts { code_len: 900, erc721: Some(false), erc1155: Some(true), ..Default::default() };
        let e = identify(&lookup(None), &multi).expect_err("no token id");
        assert!(e.contains("ERC-1155") && e.contains("token id"), "{e}");
        let found = identify(&lookup(Some("7")), &multi).expect("with its token");
        assert_eq!((found.kind, found.token_id.as_deref()), (AssetKind::Erc1155, Some("7")));
        assert_eq!(found.to_asset(&[]).key, "collection", "no symbol: keyed by its standard");
    }

    #[test]
    fn no_code_or_no_standard_is_refused_with_what_was_found() {
        let e = identify(&lookup(None), &ContractFacts::default()).expect_err("an account");
        assert!(e.contains("no contract") && e.contains(SPICE), "{e}");
        let e = identify(&lookup(None), &ContractFacts { code_len: 77, ..Default::default() }).expect_err("unknown");
        assert!(e.contains("77 bytes") && e.contains("not ERC-20, ERC-721 or ERC-1155"), "{e}");
    }

    #[test]
    fn a_token_without_decimals_is_taken_as_18_and_says_so() {
        let facts = ContractFacts { decimals: None, name: None, ..erc20() };
        let found = identify(&lookup(None), &facts).expect("totalSupply answered");
        assert_eq!(found.decimals, Some(18));
        assert_eq!(found.describe(), "SPICE, ERC-20, 18 decimals (it does not say; 18 assumed)");
    }

    #[test]
    fn what_a_contract_calls_itself_is_cleaned_and_keys_are_always_valid() {
        let facts = ContractFacts { symbol: Some("\u{200b}w$ETH\u{0007}".into()), name: Some(" ".into()), ..erc20() };
        let found = identify(&lookup(None), &facts).expect("ok");
        assert_eq!((found.symbol.as_deref(), found.name.as_deref()), (Some("w$ETH"), None));
        assert_eq!(found.to_asset(&[]).key, "w-eth");
        for symbol in ["🐛🐛", "$$$", "", "A".repeat(200).as_str(), "Ünï", "-x-"] {
            let key = asset_key(Some(symbol), AssetKind::Erc20, &[]);
            assert!(
                !key.is_empty()
                    && key.len() <= crate::Limits::KEY_MAX
                    && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && key.as_bytes()[0].is_ascii_alphanumeric(),
                "{symbol:?} → {key:?}"
            );
        }
    }

    #[test]
    fn a_lookup_is_checked_before_the_chain_is_asked() {
        let edit = |chain_id, address: &str, token_id: Option<&str>| AssetEdit::LookUp {
            chain_id,
            address: address.into(),
            token_id: token_id.map(str::to_string),
        };
        let ok = edit(31337, &SPICE.to_lowercase(), Some(" ")).checked(&[31337]).expect("lowercase is fine");
        assert_eq!(ok, edit(31337, SPICE, None), "EIP-55 form, blank token id dropped");
        let e = edit(1, "0x1234", Some("1.5")).checked(&[31337]).expect_err("three faults");
        assert!(e.has("chain_id") && e.has("address") && e.has("token_id"), "{e}");
        assert_eq!(AssetEdit::Confirm.checked(&[]).expect("nothing to check"), AssetEdit::Confirm);
    }
}
