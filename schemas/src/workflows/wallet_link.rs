//! Wallet linking (`wallet-link-{guild_id}-{user_id}`): `/verify` asks for a challenge (an
//! update, started with the workflow), the member signs it in their wallet and submits the
//! signature (a second update). The run ends once linked, or when the challenge expires.

use crate::{GuildId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Workflow type.
pub const WORKFLOW_TYPE: &str = "WalletLink";
/// `ArrakisKind`.
pub const KIND: &str = "wallet_link";
/// Update: a fresh challenge for a claimed address.
pub const CHALLENGE_UPDATE: &str = "challenge";
/// Update: the signature over the current challenge.
pub const SUBMIT_UPDATE: &str = "submit_signature";
/// Query: where the link stands.
pub const STATUS_QUERY: &str = "status";

/// One member's linking session in one guild.
pub fn workflow_id(guild_id: GuildId, user_id: UserId) -> String {
    format!("wallet-link-{guild_id}-{user_id}")
}

/// Workflow input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WalletLinkInput {
    /// The guild.
    pub guild_id: GuildId,
    /// The member.
    pub user_id: UserId,
}

/// The `challenge` update: the address the member claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// `0x` and 40 hex digits.
    pub address: String,
}

/// The `submit_signature` update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureSubmission {
    /// The `personal_sign` signature: `0x` and 130 hex digits.
    pub signature: String,
    /// The member's Discord roles as the submitting interaction showed them, passed on to
    /// member sync with the link so that it need not read the member again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles_seen: Option<crate::workflows::members::RolesSeen>,
}

/// What the member signs (the activities' challenge, as the workflow keeps it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChallengeView {
    /// The claimed address, checksummed.
    pub address: String,
    /// Single-use.
    pub nonce: String,
    /// The exact text to sign.
    pub message: String,
    /// RFC 3339; after it the signature is refused.
    pub expires_at: String,
}

/// The session's state: the `status` query and both updates' answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WalletLinkStatus {
    /// The current challenge, if one was issued.
    pub challenge: Option<ChallengeView>,
    /// The linked address, once linked.
    pub linked: Option<String>,
    /// Why the last signature was refused, in the member's words.
    pub refused: Option<String>,
    /// True when the challenge expired unsigned.
    pub expired: bool,
}

/// Valid `0x` + 40 hex digits, or the field's rule.
pub fn check_address(address: &str) -> Result<(), String> {
    let a = address.trim();
    if a.len() == 42 && a.starts_with("0x") && a[2..].bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err("address: expected 0x followed by 40 hex digits".into())
    }
}

/// Valid `0x` + 130 hex digits, or the field's rule.
pub fn check_signature(signature: &str) -> Result<(), String> {
    let s = signature.trim();
    if s.len() == 132 && s.starts_with("0x") && s[2..].bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err("signature: expected 0x followed by 130 hex digits (r, s, v), as your wallet's personal_sign gives".into())
    }
}

/// The `wallet.challenge` activity's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IssueChallenge {
    /// The guild.
    pub guild_id: GuildId,
    /// The member.
    pub user_id: UserId,
    /// The claimed address.
    pub address: String,
}

/// The `wallet.link` activity's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LinkWallet {
    /// The guild.
    pub guild_id: GuildId,
    /// The member.
    pub user_id: UserId,
    /// The challenge's nonce.
    pub nonce: String,
    /// The signature over the challenge.
    pub signature: String,
}

/// The `wallet.link` activity's answer: linked, or refused with the reason (a refusal is an
/// answer, not a failure to retry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkOutcome {
    /// Linked; the checksummed address.
    Linked(String),
    /// Refused; why, in the member's words.
    Refused(String),
}
