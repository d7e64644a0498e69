//! The Scylla adapter of the score store (`SCYLLA_URI`), for deployments whose score volume
//! outgrows Postgres. Schema: `migrations/cql/`, applied idempotently at connect. The same
//! contract suite as the Postgres adapter runs against it whenever `SCYLLA_URI` is set.

use super::store::{Row, ScoreChange, ScoreStore, StoredScore, change_from_row, from_row, to_i32};
use crate::storage::{CommunityId, StoreError};
use scylla::{
    client::{session::Session, session_builder::SessionBuilder},
    statement::prepared::PreparedStatement,
};

const SCHEMA: &str = include_str!("../../../migrations/cql/0001_scores.cql");

fn scylla_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Scylla(e.to_string())
}

/// Prepared statements, made once at connect.
struct Statements {
    current: PreparedStatement,
    upsert: PreparedStatement,
    unrank: PreparedStatement,
    rank: PreparedStatement,
    history: PreparedStatement,
    ranked: PreparedStatement,
    read_history: PreparedStatement,
}

/// The Scylla score store.
pub struct ScyllaScoreStore {
    session: Session,
    statements: Statements,
}

impl std::fmt::Debug for ScyllaScoreStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScyllaScoreStore")
    }
}

impl ScyllaScoreStore {
    /// Connects to `uri` (host:port), creates `keyspace` and the tables if missing, prepares.
    pub async fn connect(uri: &str, keyspace: &str) -> Result<Self, StoreError> {
        if keyspace.is_empty() || !keyspace.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(scylla_error("keyspace: letters, digits and '_' only"));
        }
        let session = SessionBuilder::new().known_node(uri).build().await.map_err(scylla_error)?;
        for statement in SCHEMA
            .split("\n\n")
            .map(|s| s.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n"))
        {
            let statement = statement.trim().replace("{keyspace}", keyspace);
            if !statement.is_empty() {
                session.query_unpaged(statement, &[]).await.map_err(scylla_error)?;
            }
        }
        let k = keyspace;
        let prepare = |cql: String| {
            let session = &session;
            async move { session.prepare(cql).await.map_err(scylla_error) }
        };
        let statements = Statements {
            current: prepare(format!(
                "SELECT asset, address, rank, score, activity_score, never_redeemed, fetched_at FROM {k}.scores \
                 WHERE community_id = ? AND asset = ? AND address = ?"
            ))
            .await?,
            upsert: prepare(format!(
                "INSERT INTO {k}.scores (community_id, asset, address, rank, score, activity_score, never_redeemed, fetched_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            unrank: prepare(format!(
                "DELETE FROM {k}.scores_by_rank WHERE community_id = ? AND asset = ? AND rank = ? AND address = ?"
            ))
            .await?,
            rank: prepare(format!(
                "INSERT INTO {k}.scores_by_rank (community_id, asset, rank, address) VALUES (?, ?, ?, ?)"
            ))
            .await?,
            history: prepare(format!(
                "INSERT INTO {k}.score_history (community_id, asset, address, at, rank, score) VALUES (?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            ranked: prepare(format!(
                "SELECT address FROM {k}.scores_by_rank WHERE community_id = ? AND asset = ? AND rank > ? LIMIT ?"
            ))
            .await?,
            read_history: prepare(format!(
                "SELECT at, rank, score FROM {k}.score_history WHERE community_id = ? AND asset = ? AND address = ?"
            ))
            .await?,
        };
        Ok(Self { session, statements })
    }

    async fn read(
        &self,
        community: CommunityId,
        asset: &str,
        address: &str,
    ) -> Result<Option<StoredScore>, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.statements.current, (community.0, asset, address))
            .await
            .map_err(scylla_error)?
            .into_rows_result()
            .map_err(scylla_error)?;
        let mut rows = result.rows::<Row>().map_err(scylla_error)?;
        rows.next().transpose().map_err(scylla_error).map(|row| row.map(from_row))
    }
}

impl ScoreStore for ScyllaScoreStore {
    async fn save(&self, community: CommunityId, scores: &[StoredScore]) -> Result<(), StoreError> {
        for s in scores {
            let previous = self.read(community, &s.asset, &s.address).await?;
            let changed = previous.as_ref().is_none_or(|p| p.rank != s.rank || p.score != s.score);
            // Activity facts survive an update that does not carry them, as in Postgres.
            let activity = s.activity_score.or(previous.as_ref().and_then(|p| p.activity_score));
            let never = s.never_redeemed.or(previous.as_ref().and_then(|p| p.never_redeemed));
            // History and the rank index first, the standing last: a failure part way is
            // repaired by saving again (every write is an idempotent upsert or delete).
            let (asset, address) = (s.asset.as_str(), s.address.as_str());
            if changed {
                let row = (community.0, asset, address, s.fetched_at, to_i32(s.rank), s.score.as_deref());
                self.session.execute_unpaged(&self.statements.history, row).await.map_err(scylla_error)?;
            }
            if let Some(old) = previous.as_ref().and_then(|p| p.rank) {
                let row = (community.0, asset, to_i32(Some(old)), address);
                self.session.execute_unpaged(&self.statements.unrank, row).await.map_err(scylla_error)?;
            }
            if let Some(rank) = s.rank {
                let row = (community.0, asset, to_i32(Some(rank)), address);
                self.session.execute_unpaged(&self.statements.rank, row).await.map_err(scylla_error)?;
            }
            let row = (
                community.0,
                asset,
                address,
                to_i32(s.rank),
                s.score.as_deref(),
                to_i32(activity),
                never,
                s.fetched_at,
            );
            self.session.execute_unpaged(&self.statements.upsert, row).await.map_err(scylla_error)?;
        }
        Ok(())
    }

    async fn get(&self, community: CommunityId, asset: &str, address: &str) -> Result<Option<StoredScore>, StoreError> {
        self.read(community, asset, address).await
    }

    async fn ranked(
        &self,
        community: CommunityId,
        asset: &str,
        after_rank: u32,
        limit: u32,
    ) -> Result<Vec<StoredScore>, StoreError> {
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let result = self
            .session
            .execute_unpaged(&self.statements.ranked, (community.0, asset, to_i32(Some(after_rank)), limit))
            .await
            .map_err(scylla_error)?
            .into_rows_result()
            .map_err(scylla_error)?;
        let addresses: Vec<(String,)> =
            result.rows::<(String,)>().map_err(scylla_error)?.collect::<Result<_, _>>().map_err(scylla_error)?;
        let mut out = Vec::with_capacity(addresses.len());
        for (address,) in addresses {
            if let Some(score) = self.read(community, asset, &address).await? {
                out.push(score);
            }
        }
        Ok(out)
    }

    async fn history(
        &self,
        community: CommunityId,
        asset: &str,
        address: &str,
    ) -> Result<Vec<ScoreChange>, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.statements.read_history, (community.0, asset, address))
            .await
            .map_err(scylla_error)?
            .into_rows_result()
            .map_err(scylla_error)?;
        let rows: Vec<(i64, Option<i32>, Option<String>)> =
            result.rows().map_err(scylla_error)?.collect::<Result<_, _>>().map_err(scylla_error)?;
        Ok(rows.into_iter().map(change_from_row).collect())
    }
}
