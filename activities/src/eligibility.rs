//! A member's eligibility, end to end: their linked wallets, the chain reads, the ranks with
//! their degradation, and the engine's verdict per role; cached in Redis for 5 minutes under
//! the manifest version, and dropped when the member links a wallet.

use crate::failure::{ActivityFailure, FailureKind};
use crate::{
    CommunityId, Store, StoreError,
    chain::Chains,
    score::{ScoreLookup, ScoreStore},
};
use alloy::primitives::Address;
use arrakis_schemas::{
    CommunityManifest, Condition, GuildId, RoleGrant, UserId,
    eligibility::{BadgeCriterion, MemberFacts, RankFact, RoleVerdict, Verdict, evaluate_roles},
    score::asset_ref,
    workflows::{
        eligibility_check::{EligibilityCheckInput, EligibilityReport},
        wallet_link::{ChallengeView, IssueChallenge, LinkOutcome, LinkWallet},
    },
};
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, sync::Arc};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tokio::sync::Mutex;

/// How long a cached answer is served.
pub const CACHE_TTL_SECS: u64 = 5 * 60;

/// One member's answer for every role of the manifest version it was computed under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberEligibility {
    /// The guild.
    pub guild_id: GuildId,
    /// The member.
    pub user_id: UserId,
    /// The manifest version the roles come from.
    pub manifest_version: i32,
    /// The wallets read, checksummed.
    pub wallets: Vec<String>,
    /// The block read per chain id.
    pub blocks: BTreeMap<u64, u64>,
    /// Chains no RPC URL answered, with why (their checks are `unknown`).
    #[serde(default)]
    pub unreachable: BTreeMap<u64, String>,
    /// Every role's verdict, in manifest order.
    pub roles: Vec<RoleVerdict>,
    /// Unix seconds when computed.
    pub checked_at: i64,
}

/// One member's verdicts in a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberVerdicts {
    /// Every role's verdict, in manifest order.
    pub roles: Vec<RoleVerdict>,
    /// The best (lowest) rank over the ranked assets, if any.
    pub best_rank: Option<u32>,
}

/// Many members' verdicts, read at one block per chain.
#[derive(Clone, Debug, Default)]
pub struct BatchVerdicts {
    /// The block read per chain id.
    pub blocks: BTreeMap<u64, u64>,
    /// Chains no RPC URL answered, with why.
    pub unreachable: BTreeMap<u64, String>,
    /// Per member.
    pub members: BTreeMap<String, MemberVerdicts>,
}

/// Why a check could not be made at all (as opposed to an `unknown` verdict).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The guild has no community or no manifest yet.
    #[error("this server has no published manifest yet")]
    NoManifest,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The Redis cache of [`MemberEligibility`], keyed by guild and member; an entry of another
/// manifest version is a miss. Redis failures degrade to "no cache", never to an error.
pub struct EligibilityCache {
    client: Option<redis::Client>,
    connection: Mutex<Option<MultiplexedConnection>>,
}

impl EligibilityCache {
    /// A cache on `redis_url` (connects on first use).
    pub fn new(redis_url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self { client: Some(redis::Client::open(redis_url)?), connection: Mutex::new(None) })
    }

    /// No cache (no `REDIS_URL`): every check reads the chain.
    pub fn disabled() -> Self {
        Self { client: None, connection: Mutex::new(None) }
    }

    fn key(guild: GuildId, user: UserId) -> String {
        format!("arrakis:eligibility:{guild}:{user}")
    }

    async fn connection(&self) -> Result<MultiplexedConnection, redis::RedisError> {
        let mut slot = self.connection.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let Some(client) = &self.client else {
            return Err(redis::RedisError::from((redis::ErrorKind::Client, "no REDIS_URL: the cache is off")));
        };
        let c = client.get_multiplexed_async_connection().await?;
        *slot = Some(c.clone());
        Ok(c)
    }

    async fn forget_connection(&self) {
        *self.connection.lock().await = None;
    }

    /// The cached answer under `version`, if any.
    pub async fn get(&self, guild: GuildId, user: UserId, version: i32) -> Option<MemberEligibility> {
        let mut c = self.connection().await.ok()?;
        let raw: Result<Option<String>, _> = redis::cmd("GET").arg(Self::key(guild, user)).query_async(&mut c).await;
        match raw {
            Ok(raw) => raw
                .and_then(|s| serde_json::from_str::<MemberEligibility>(&s).ok())
                .filter(|e| e.manifest_version == version),
            Err(e) => {
                tracing::warn!(error = %e, "eligibility cache unavailable");
                self.forget_connection().await;
                None
            }
        }
    }

    /// Stores an answer for [`CACHE_TTL_SECS`].
    pub async fn put(&self, answer: &MemberEligibility) {
        let Ok(mut c) = self.connection().await else { return };
        let Ok(json) = serde_json::to_string(answer) else { return };
        let set: Result<(), _> = redis::cmd("SET")
            .arg(Self::key(answer.guild_id, answer.user_id))
            .arg(json)
            .arg("EX")
            .arg(CACHE_TTL_SECS)
            .query_async(&mut c)
            .await;
        if set.is_err() {
            self.forget_connection().await;
        }
    }

    /// Drops a member's answer (they linked or unlinked a wallet).
    pub async fn invalidate(&self, guild: GuildId, user: UserId) -> Result<(), redis::RedisError> {
        if self.client.is_none() {
            return Ok(());
        }
        let mut c = self.connection().await?;
        redis::cmd("DEL").arg(Self::key(guild, user)).query_async(&mut c).await
    }
}

/// Computes members' eligibility from their wallets, the chain and the scores.
pub struct EligibilityChecker<S> {
    store: Store,
    chains: Chains,
    scores: ScoreLookup<S>,
    cache: EligibilityCache,
}

impl<S: ScoreStore> EligibilityChecker<S> {
    /// A checker over its parts.
    pub fn new(store: Store, chains: Chains, scores: ScoreLookup<S>, cache: EligibilityCache) -> Self {
        Self { store, chains, scores, cache }
    }

    /// The chains, for their counters and the wizard's asset lookups.
    pub fn chains(&self) -> &Chains {
        &self.chains
    }

    /// The cache, for invalidation.
    pub fn cache(&self) -> &EligibilityCache {
        &self.cache
    }

    /// The member's eligibility; `true` with it when it came from the cache.
    pub async fn check(&self, guild: GuildId, user: UserId, now: i64) -> Result<(MemberEligibility, bool), CheckError> {
        let community = self.store.community_of(guild).await?.ok_or(CheckError::NoManifest)?;
        let mut tx = self.store.tenant(community).await?;
        let record = tx.latest_manifest().await?.ok_or(CheckError::NoManifest)?;
        if let Some(hit) = self.cache.get(guild, user, record.version).await {
            tx.commit().await?;
            return Ok((hit, true));
        }
        let wallets: Vec<Address> = tx.linked_wallets(user).await?.iter().filter_map(|a| a.parse().ok()).collect();
        tx.commit().await?;
        let member = user.to_string();
        let mut readout = self
            .chains
            .holdings(&record.manifest, &BTreeMap::from([(member.clone(), wallets.clone())]), &BTreeMap::new())
            .await;
        let mut facts = readout.facts.remove(&member).unwrap_or_default();
        self.add_ranks(community, &record.manifest, &wallets, &mut facts, now).await;
        self.add_badges(community, &record.manifest, &wallets, &mut facts, now).await;
        let answer = MemberEligibility {
            guild_id: guild,
            user_id: user,
            manifest_version: record.version,
            wallets: wallets.iter().map(|a| a.to_checksum(None)).collect(),
            blocks: readout.blocks,
            unreachable: readout.unreachable,
            roles: evaluate_roles(&record.manifest, &facts),
            checked_at: now,
        };
        // An unknown is not an answer worth keeping: the next check reads again.
        if !answer.roles.iter().any(|r| matches!(r.evaluation.verdict, Verdict::Unknown { .. })) {
            self.cache.put(&answer).await;
        }
        Ok((answer, false))
    }

    /// Many members' verdicts for every role of `manifest`, read together at the `pinned`
    /// blocks (Multicall3 batches) and never cached: the shadow sync's path.
    pub async fn verdicts(
        &self,
        community: CommunityId,
        manifest: &CommunityManifest,
        wallets: &BTreeMap<String, Vec<Address>>,
        pinned: &BTreeMap<u64, u64>,
        now: i64,
    ) -> BatchVerdicts {
        let mut readout = self.chains.holdings(manifest, wallets, pinned).await;
        let mut members = BTreeMap::new();
        for (member, member_wallets) in wallets {
            let mut facts = readout.facts.remove(member).unwrap_or_default();
            self.add_ranks(community, manifest, member_wallets, &mut facts, now).await;
            self.add_badges(community, manifest, member_wallets, &mut facts, now).await;
            let best_rank = facts
                .ranks
                .values()
                .filter_map(|r| match r {
                    RankFact::Ranked { position, .. } => Some(*position),
                    _ => None,
                })
                .min();
            members.insert(member.clone(), MemberVerdicts { roles: evaluate_roles(manifest, &facts), best_rank });
        }
        BatchVerdicts { blocks: readout.blocks, unreachable: readout.unreachable, members }
    }

    /// Ranks for the assets that rank rules and tiers use: the member's best over wallets.
    async fn add_ranks(
        &self,
        community: CommunityId,
        manifest: &CommunityManifest,
        wallets: &[Address],
        facts: &mut MemberFacts,
        now: i64,
    ) {
        for asset in ranked_assets(manifest) {
            let Some(spec) = manifest.assets.iter().find(|a| a.key == asset) else { continue };
            let reference = asset_ref(spec.chain_id, &spec.address, spec.token_id.as_deref());
            let mut best: Option<RankFact> = None;
            for wallet in wallets {
                let address = format!("{wallet:#x}");
                let fact = self.scores.rank(community, &reference, &address, now).await;
                best = Some(match (best, fact) {
                    (None, f) => f,
                    (Some(best @ RankFact::Ranked { position: a, .. }), RankFact::Ranked { position: b, .. })
                        if a <= b =>
                    {
                        best
                    }
                    (
                        Some(best @ RankFact::Ranked { .. }),
                        RankFact::Unranked { .. } | RankFact::Unavailable { .. },
                    ) => best,
                    (Some(_), f) => f,
                });
            }
            let fact =
                best.unwrap_or(RankFact::Unranked { source: arrakis_schemas::eligibility::ScoreSource::ScoreService });
            facts.ranks.insert(asset, fact);
        }
    }
}

impl<S: ScoreStore> EligibilityChecker<S> {
    /// The theme badges that badge roles need, decided where the facts allow: a rank badge
    /// from the first asset's rank, activity and "never redeemed" from the Score Service's
    /// history (or its cached answer). A badge whose facts nobody could read (or that rests on
    /// data Arrakis does not have yet: holding time, contributions, lineage) stays undecided,
    /// so its role is never taken away on it.
    async fn add_badges(
        &self,
        community: CommunityId,
        manifest: &CommunityManifest,
        wallets: &[Address],
        facts: &mut MemberFacts,
        now: i64,
    ) {
        let wanted: Vec<&str> = manifest
            .roles
            .iter()
            .filter_map(|r| match &r.grant {
                RoleGrant::Badge(b) => Some(b.as_str()),
                _ => None,
            })
            .collect();
        let Some(first) = manifest.assets.first() else { return };
        if wanted.is_empty() {
            return;
        }
        let spec = manifest.theme.spec();
        let needs_history = spec.badges.iter().any(|b| {
            wanted.contains(&b.key)
                && matches!(b.criterion, BadgeCriterion::ActivityAtLeast(_) | BadgeCriterion::NeverRedeemed)
        });
        let (mut activity, mut never_redeemed) = (None, None);
        if needs_history && !wallets.is_empty() {
            let reference = asset_ref(first.chain_id, &first.address, first.token_id.as_deref());
            let (mut best_activity, mut all_never) = (Some(0u32), Some(true));
            for wallet in wallets {
                let (a, n) = self.scores.history_facts(community, &reference, &format!("{wallet:#x}"), now).await;
                best_activity = best_activity.zip(a).map(|(x, (y, _))| x.max(y));
                all_never = all_never.zip(n).map(|(x, (y, _))| x && y);
            }
            (activity, never_redeemed) = (best_activity, all_never);
        } else if wallets.is_empty() {
            (activity, never_redeemed) = (Some(0), Some(false));
        }
        let rank = facts.ranks.get(&first.key);
        for badge in spec.badges.iter().filter(|b| wanted.contains(&b.key)) {
            let earned = match badge.criterion {
                BadgeCriterion::RankAtMost(at_most) => match rank {
                    Some(RankFact::Ranked { position, .. }) => Some(*position <= at_most),
                    Some(RankFact::Unranked { .. } | RankFact::NoWallet) => Some(false),
                    Some(RankFact::Unavailable { .. }) | None => None,
                },
                BadgeCriterion::ActivityAtLeast(min) => activity.map(|a| a >= min),
                BadgeCriterion::NeverRedeemed => never_redeemed,
                _ => None,
            };
            if let Some(earned) = earned {
                facts.badges.insert(badge.key.to_string(), earned);
            }
        }
    }
}

/// Asset keys whose rank some rule or tier role needs, sorted.
fn ranked_assets(manifest: &CommunityManifest) -> Vec<String> {
    let mut out = Vec::new();
    for rule in manifest.rules.values() {
        rule.for_each_leaf(&mut |leaf| {
            if let Condition::RankAtMost { asset, .. } | Condition::ScoreAtLeast { asset, .. } = leaf {
                out.push(asset.clone());
            }
        });
    }
    if manifest.roles.iter().any(|r| matches!(r.grant, RoleGrant::Tier(_) | RoleGrant::Badge(_))) {
        out.extend(manifest.assets.first().map(|a| a.key.clone()));
    }
    out.sort();
    out.dedup();
    out
}

/// The member-facing activities on the main task queue: eligibility checks and wallet links.
pub struct MemberActivities {
    checker: Arc<EligibilityChecker<crate::score::PgScoreStore>>,
    linker: crate::wallet::WalletLinker,
}

impl MemberActivities {
    /// Activities over a checker and a linker.
    pub fn new(
        checker: Arc<EligibilityChecker<crate::score::PgScoreStore>>,
        linker: crate::wallet::WalletLinker,
    ) -> Self {
        Self { checker, linker }
    }
}

/// How many attempts a check with an unreachable chain gets before it answers `unknown`.
pub const CHAIN_ATTEMPTS: u32 = 3;

#[activities]
impl MemberActivities {
    /// A member's eligibility for every role. A chain that no RPC URL answers fails the
    /// attempt (Temporal retries it) until the last attempt, which answers `unknown` for what
    /// depends on it.
    #[activity(name = "eligibility.check")]
    pub async fn check(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: EligibilityCheckInput,
    ) -> Result<EligibilityReport, ActivityError> {
        let now = chrono::Utc::now().timestamp();
        let (answer, cached) = match self.checker.check(input.guild_id, input.user_id, now).await {
            Ok(found) => found,
            Err(CheckError::NoManifest) => {
                return Err(ActivityFailure::new(FailureKind::NoManifest, CheckError::NoManifest.to_string()).into());
            }
            Err(CheckError::Store(e)) => {
                return Err(ActivityFailure::new(FailureKind::StorageUnavailable, e.to_string()).into());
            }
        };
        if let Some((chain, why)) = answer.unreachable.iter().next()
            && ctx.info().attempt < CHAIN_ATTEMPTS
        {
            return Err(ActivityFailure::new(
                FailureKind::ChainUnavailable,
                format!("chain {chain} unreadable, retrying: {why}"),
            )
            .into());
        }
        Ok(EligibilityReport {
            manifest_version: Some(answer.manifest_version),
            wallets: answer.wallets,
            blocks: answer.blocks,
            roles: answer.roles,
            cached,
            error: None,
            done: true,
        })
    }

    /// Issues a challenge to sign.
    #[activity(name = "wallet.challenge")]
    pub async fn challenge(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: IssueChallenge,
    ) -> Result<ChallengeView, ActivityError> {
        let challenge =
            self.linker.challenge(input.guild_id, input.user_id, &input.address, chrono::Utc::now()).await.map_err(
                |e| ActivityFailure::new(FailureKind::ChallengeRefused, e.to_string()).retry_if(e.is_retryable()),
            )?;
        let address = input.address.parse::<Address>().map(|a| a.to_checksum(None)).unwrap_or(input.address);
        Ok(ChallengeView {
            address,
            nonce: challenge.nonce,
            message: challenge.message,
            expires_at: challenge.expires_at.to_rfc3339(),
        })
    }

    /// Links the wallet if the signature is right, and drops the member's cached eligibility.
    #[activity(name = "wallet.link")]
    pub async fn link(self: Arc<Self>, _ctx: ActivityContext, input: LinkWallet) -> Result<LinkOutcome, ActivityError> {
        match self.linker.link(input.guild_id, input.user_id, &input.nonce, &input.signature, chrono::Utc::now()).await
        {
            Ok(linked) => {
                if let Err(e) = self.checker.cache().invalidate(input.guild_id, input.user_id).await {
                    tracing::warn!(error = %e, "could not drop the cached eligibility after a link");
                }
                Ok(LinkOutcome::Linked(linked.address))
            }
            Err(e) if e.is_retryable() => {
                Err(ActivityFailure::new(FailureKind::StorageUnavailable, e.to_string()).into())
            }
            Err(e) => Ok(LinkOutcome::Refused(e.to_string())),
        }
    }
}
