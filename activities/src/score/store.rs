//! The score store port: the last Score Service answer per (asset, address) and the history of
//! changes, per community. Postgres is the default adapter; the contract tests in
//! `tests/tests/score_store.rs` are what any other adapter must pass.

use crate::storage::{CommunityId, Store, StoreError};
use std::future::Future;

/// One address's stored standing for one asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredScore {
    /// The asset, as `arrakis_schemas::score::asset_ref`.
    pub asset: String,
    /// Lower-case `0x` address.
    pub address: String,
    /// 1 is the top holder; `None` when the Score Service said "not ranked".
    pub rank: Option<u32>,
    /// The score, a decimal string.
    pub score: Option<String>,
    /// The activity score, when the history was read.
    pub activity_score: Option<u32>,
    /// Whether the address never redeemed, when the history was read.
    pub never_redeemed: Option<bool>,
    /// When the Score Service said so, Unix seconds.
    pub fetched_at: i64,
}

/// One recorded change of rank or score.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoreChange {
    /// When, Unix seconds.
    pub at: i64,
    /// The rank then.
    pub rank: Option<u32>,
    /// The score then.
    pub score: Option<String>,
}

/// Where scores are kept between Score Service answers.
pub trait ScoreStore: Send + Sync {
    /// Upserts the standings; a changed rank or score is appended to the history.
    fn save(
        &self,
        community: CommunityId,
        scores: &[StoredScore],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The stored standing, if any.
    fn get(
        &self,
        community: CommunityId,
        asset: &str,
        address: &str,
    ) -> impl Future<Output = Result<Option<StoredScore>, StoreError>> + Send;
    /// Ranked standings after `after_rank`, best first, at most `limit`.
    fn ranked(
        &self,
        community: CommunityId,
        asset: &str,
        after_rank: u32,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredScore>, StoreError>> + Send;
    /// The history of one address, oldest first.
    fn history(
        &self,
        community: CommunityId,
        asset: &str,
        address: &str,
    ) -> impl Future<Output = Result<Vec<ScoreChange>, StoreError>> + Send;
}

/// The Postgres adapter (tables `scores` and `score_history`, under row-level security).
#[derive(Clone, Debug)]
pub struct PgScoreStore {
    store: Store,
}

impl PgScoreStore {
    /// Uses the shared pool.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// A stored standing as both adapters read it: asset, address, rank, score, activity,
/// never redeemed, fetched at.
pub(super) type Row = (String, String, Option<i32>, Option<String>, Option<i32>, Option<bool>, i64);

/// A row as a standing (negative numbers, impossible by the schemas' checks, read as absent).
pub(super) fn from_row((asset, address, rank, score, activity, never, at): Row) -> StoredScore {
    StoredScore {
        asset,
        address,
        rank: rank.and_then(|r| u32::try_from(r).ok()),
        score,
        activity_score: activity.and_then(|a| u32::try_from(a).ok()),
        never_redeemed: never,
        fetched_at: at,
    }
}

/// A history row (at, rank, score) as a change.
pub(super) fn change_from_row((at, rank, score): (i64, Option<i32>, Option<String>)) -> ScoreChange {
    ScoreChange { at, rank: rank.and_then(|r| u32::try_from(r).ok()), score }
}

/// A count as the stores' `int` (saturating).
pub(super) fn to_i32(v: Option<u32>) -> Option<i32> {
    v.map(|v| i32::try_from(v).unwrap_or(i32::MAX))
}

impl ScoreStore for PgScoreStore {
    async fn save(&self, community: CommunityId, scores: &[StoredScore]) -> Result<(), StoreError> {
        let mut tx = self.store.tenant(community).await?;
        for s in scores {
            // The history row first, compared with what is stored, in the same transaction.
            sqlx::query(
                "INSERT INTO score_history (community_id, asset, address, at, rank, score)
                 SELECT $1, $2, $3, to_timestamp($6), $4, $5
                 WHERE NOT EXISTS (SELECT 1 FROM scores WHERE community_id = $1 AND asset = $2 AND address = $3
                                   AND rank IS NOT DISTINCT FROM $4 AND score IS NOT DISTINCT FROM $5)
                 ON CONFLICT DO NOTHING",
            )
            .bind(community.0)
            .bind(&s.asset)
            .bind(&s.address)
            .bind(to_i32(s.rank))
            .bind(&s.score)
            .bind(s.fetched_at as f64)
            .execute(tx.conn())
            .await?;
            sqlx::query(
                "INSERT INTO scores (community_id, asset, address, rank, score, activity_score, never_redeemed, fetched_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8))
                 ON CONFLICT (community_id, asset, address) DO UPDATE SET
                   rank = EXCLUDED.rank, score = EXCLUDED.score,
                   activity_score = COALESCE(EXCLUDED.activity_score, scores.activity_score),
                   never_redeemed = COALESCE(EXCLUDED.never_redeemed, scores.never_redeemed),
                   fetched_at = EXCLUDED.fetched_at",
            )
            .bind(community.0)
            .bind(&s.asset)
            .bind(&s.address)
            .bind(to_i32(s.rank))
            .bind(&s.score)
            .bind(to_i32(s.activity_score))
            .bind(s.never_redeemed)
            .bind(s.fetched_at as f64)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await
    }

    async fn get(&self, community: CommunityId, asset: &str, address: &str) -> Result<Option<StoredScore>, StoreError> {
        let mut tx = self.store.tenant(community).await?;
        let row: Option<Row> = sqlx::query_as(
            "SELECT asset, address, rank, score, activity_score, never_redeemed, extract(epoch FROM fetched_at)::bigint FROM scores WHERE asset = $1 AND address = $2",
        )
            .bind(asset)
            .bind(address)
            .fetch_optional(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(row.map(from_row))
    }

    async fn ranked(
        &self,
        community: CommunityId,
        asset: &str,
        after_rank: u32,
        limit: u32,
    ) -> Result<Vec<StoredScore>, StoreError> {
        let mut tx = self.store.tenant(community).await?;
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT asset, address, rank, score, activity_score, never_redeemed, extract(epoch FROM fetched_at)::bigint FROM scores WHERE asset = $1 AND rank > $2 ORDER BY rank LIMIT $3",
        )
        .bind(asset)
        .bind(to_i32(Some(after_rank)))
        .bind(i64::from(limit))
        .fetch_all(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    async fn history(
        &self,
        community: CommunityId,
        asset: &str,
        address: &str,
    ) -> Result<Vec<ScoreChange>, StoreError> {
        let mut tx = self.store.tenant(community).await?;
        let rows: Vec<(i64, Option<i32>, Option<String>)> = sqlx::query_as(
            "SELECT extract(epoch FROM at)::bigint, rank, score FROM score_history
             WHERE asset = $1 AND address = $2 ORDER BY at",
        )
        .bind(asset)
        .bind(address)
        .fetch_all(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(change_from_row).collect())
    }
}
