//! Wallet linking by EIP-191 `personal_sign`: the member asks for a challenge, signs its text
//! in their wallet, and submits the signature; the address recovered from it must be the one
//! they claimed. Nonces are single-use and expire; a rejection changes nothing.

use crate::storage::{CommunityId, Store, StoreError};
use alloy::primitives::{Address, Signature};
use arrakis_schemas::{
    GuildId, UserId,
    workflows::wallet_link::{check_address, check_signature},
};
use chrono::{DateTime, Duration, Utc};

/// How long a challenge may be signed for.
pub const CHALLENGE_TTL: Duration = Duration::minutes(10);

/// The text to sign and its nonce.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Challenge {
    /// Single-use.
    pub nonce: String,
    /// Exactly what the wallet signs.
    pub message: String,
    /// After this the signature is refused.
    pub expires_at: DateTime<Utc>,
}

/// Why a link was refused, in words for the member.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The claimed address is not an address.
    #[error("address: expected 0x followed by 40 hex digits")]
    BadAddress,
    /// The server has not set Arrakis up.
    #[error("this server has not set up Arrakis yet")]
    NoCommunity,
    /// No challenge with that nonce was issued to this member.
    #[error("nonce: no such challenge was issued to you; run /verify again")]
    UnknownNonce,
    /// The nonce was already used.
    #[error("nonce: this challenge was already used; run /verify again")]
    Reused,
    /// Too late.
    #[error("nonce: this challenge expired at {0}; run /verify again")]
    Expired(DateTime<Utc>),
    /// Not a 65-byte signature.
    #[error("signature: expected 0x followed by 130 hex digits (r, s, v)")]
    BadSignature,
    /// Signed by another key than the claimed address.
    #[error("signature: signed by {recovered}, not by {claimed}; sign with the wallet you claimed")]
    WrongSigner {
        /// Who signed.
        recovered: Address,
        /// Who was claimed.
        claimed: Address,
    },
    /// The database failed; retry.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LinkError {
    /// True when retrying the same request may succeed (the database failed).
    pub fn is_retryable(&self) -> bool {
        matches!(self, LinkError::Store(_))
    }
}

/// A wallet linked to a member.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkedWallet {
    /// The guild.
    pub guild_id: GuildId,
    /// The member.
    pub user_id: UserId,
    /// EIP-55 checksummed.
    pub address: String,
}

/// The exact challenge text: domain, guild, member, address, nonce, issue and expiry times.
pub fn challenge_text(
    domain: &str,
    guild: GuildId,
    user: UserId,
    address: &Address,
    nonce: &str,
    issued: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> String {
    format!(
        "{domain} asks you to link this wallet to your Discord account.\n\n\
         Signing is free and sends no transaction.\n\n\
         Address: {address}\nDiscord server: {guild}\nDiscord user: {user}\nNonce: {nonce}\n\
         Issued at: {}\nExpires at: {}",
        issued.to_rfc3339(),
        expires.to_rfc3339()
    )
}

/// The address that signed `message` (EIP-191 prefix, keccak, ecrecover).
pub fn recover_signer(message: &str, signature: &str) -> Result<Address, LinkError> {
    let hex = signature.trim();
    check_signature(hex).map_err(|_| LinkError::BadSignature)?;
    let sig: Signature = hex.parse().map_err(|_| LinkError::BadSignature)?;
    sig.recover_address_from_msg(message.as_bytes()).map_err(|_| LinkError::BadSignature)
}

/// A `wallet_nonces` row: claimed address, challenge text, expiry, use.
type NonceRow = (String, String, DateTime<Utc>, Option<DateTime<Utc>>);

/// Issues challenges and links wallets for every guild.
#[derive(Clone, Debug)]
pub struct WalletLinker {
    store: Store,
    domain: String,
}

impl WalletLinker {
    /// `domain` names Arrakis in the challenge text (e.g. `arrakis.example`).
    pub fn new(store: Store, domain: impl Into<String>) -> Self {
        Self { store, domain: domain.into() }
    }

    async fn community(&self, guild: GuildId) -> Result<CommunityId, LinkError> {
        self.store.community_of(guild).await?.ok_or(LinkError::NoCommunity)
    }

    /// A fresh challenge for `user` claiming `address`, valid for [`CHALLENGE_TTL`] from `now`.
    pub async fn challenge(
        &self,
        guild: GuildId,
        user: UserId,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<Challenge, LinkError> {
        let claimed = parse_address(address)?;
        let community = self.community(guild).await?;
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let expires_at = now + CHALLENGE_TTL;
        let message = challenge_text(&self.domain, guild, user, &claimed, &nonce, now, expires_at);
        let mut tx = self.store.tenant(community).await?;
        sqlx::query(
            "INSERT INTO wallet_nonces (community_id, nonce, discord_user_id, address, expires_at, message, issued_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(community.0)
        .bind(&nonce)
        .bind(user.as_i64())
        .bind(claimed.to_checksum(None))
        .bind(expires_at)
        .bind(&message)
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(StoreError::from)?;
        tx.commit().await?;
        Ok(Challenge { nonce, message, expires_at })
    }

    /// Links the wallet if `signature` over the challenge `nonce` recovers to the claimed
    /// address; consumes the nonce only then.
    pub async fn link(
        &self,
        guild: GuildId,
        user: UserId,
        nonce: &str,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<LinkedWallet, LinkError> {
        let community = self.community(guild).await?;
        let mut tx = self.store.tenant(community).await?;
        let row: Option<NonceRow> = sqlx::query_as(
            "SELECT address, message, expires_at, used_at FROM wallet_nonces
             WHERE nonce = $1 AND discord_user_id = $2 FOR UPDATE",
        )
        .bind(nonce)
        .bind(user.as_i64())
        .fetch_optional(tx.conn())
        .await
        .map_err(StoreError::from)?;
        let (address, message, expires_at, used_at) = row.ok_or(LinkError::UnknownNonce)?;
        if used_at.is_some() {
            return Err(LinkError::Reused);
        }
        if now > expires_at {
            return Err(LinkError::Expired(expires_at));
        }
        let claimed = parse_address(&address)?;
        let recovered = recover_signer(&message, signature)?;
        if recovered != claimed {
            return Err(LinkError::WrongSigner { recovered, claimed });
        }
        sqlx::query("UPDATE wallet_nonces SET used_at = $2 WHERE nonce = $1")
            .bind(nonce)
            .bind(now)
            .execute(tx.conn())
            .await
            .map_err(StoreError::from)?;
        sqlx::query(
            "INSERT INTO wallet_links (community_id, discord_user_id, address) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(community.0)
        .bind(user.as_i64())
        .bind(&address)
        .execute(tx.conn())
        .await
        .map_err(StoreError::from)?;
        tx.audit(&format!("user:{user}"), "wallet.linked", serde_json::json!({ "address": address }), None).await?;
        tx.commit().await?;
        Ok(LinkedWallet { guild_id: guild, user_id: user, address })
    }

    /// The wallets `user` linked in `guild`.
    pub async fn wallets(&self, guild: GuildId, user: UserId) -> Result<Vec<Address>, LinkError> {
        let community = self.community(guild).await?;
        let mut tx = self.store.tenant(community).await?;
        let wallets = tx.linked_wallets(user).await?;
        tx.commit().await?;
        Ok(wallets.iter().filter_map(|a| a.parse().ok()).collect())
    }
}

fn parse_address(address: &str) -> Result<Address, LinkError> {
    let a = address.trim();
    check_address(a).map_err(|_| LinkError::BadAddress)?;
    a.parse().map_err(|_| LinkError::BadAddress)
}
