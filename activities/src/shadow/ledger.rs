//! Shadow mode's rows: the incumbent on record, each sync, each member as last seen, the
//! divergences and the predictions. Every write is keyed so that a retried page records
//! nothing twice, and every count a page reports is read back by key, so a retry reports
//! the same numbers as the attempt it replaces.

use crate::{StoreError, TenantTx};
use arrakis_schemas::{
    Mode,
    workflows::{
        incumbent::{FindingSource, Incumbent, IncumbentFinding},
        shadow_sync::SyncTally,
    },
};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// The community's shadow standing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Standing {
    /// The community's mode (`None` when there is no community row).
    pub mode: Option<Mode>,
    /// The incumbent on record.
    pub incumbent: Option<Incumbent>,
    /// Its confidence.
    pub confidence: Option<f64>,
    /// Who made the finding on record.
    pub source: Option<FindingSource>,
    /// Evidence, in words.
    pub evidence: Vec<String>,
    /// When detection last ran.
    pub checked_at: Option<DateTime<Utc>>,
    /// Since when the community is in shadow mode with an incumbent.
    pub shadow_since: Option<DateTime<Utc>>,
    /// True when the operator opted in to the digest.
    pub digest: bool,
}

type StandingRow = (
    String,
    Option<String>,
    Option<f64>,
    Option<String>,
    serde_json::Value,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    bool,
);

/// A member as one page saw them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberRow {
    /// Discord user id.
    pub user_id: i64,
    /// Manifest role keys whose incumbent role they hold.
    pub incumbent_roles: Vec<String>,
    /// Role keys Arrakis would grant.
    pub arrakis_roles: Vec<String>,
    /// Role keys Arrakis could not decide.
    pub unknown_roles: Vec<String>,
    /// Linked wallets.
    pub wallets: i32,
    /// Best rank, if ranked.
    pub best_rank: Option<i32>,
}

/// One (member, role) pair of a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// Discord user id.
    pub user_id: i64,
    /// Manifest role key.
    pub role_key: String,
    /// True when the member holds the incumbent's role / should hold it.
    pub holds: bool,
}

/// A closed sync: when it finished, and the community's accuracy at that moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClosedSync {
    /// When the sync finished (`None`: no such sync).
    pub finished_at: Option<DateTime<Utc>>,
    /// Share of the predictions validated in the last 30 days that came true (none: `None`).
    pub accuracy: Option<f64>,
    /// How many predictions that is.
    pub validated: u64,
}

/// What a page wrote, read back by key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageCounts {
    /// Predictions this sync validated for the page's members.
    pub validated: u64,
    /// Of those, the correct ones.
    pub correct: u64,
}

impl TenantTx {
    /// The community's shadow standing.
    pub async fn shadow_standing(&mut self) -> Result<Standing, StoreError> {
        let row: Option<StandingRow> = sqlx::query_as(
            "SELECT mode, incumbent, incumbent_confidence, incumbent_source, incumbent_evidence,
                    incumbent_checked_at, shadow_since, shadow_digest
             FROM communities",
        )
        .fetch_optional(self.conn())
        .await?;
        let Some((mode, incumbent, confidence, source, evidence, checked_at, shadow_since, digest)) = row else {
            return Ok(Standing::default());
        };
        Ok(Standing {
            mode: Some(
                Mode::parse(&mode).ok_or_else(|| StoreError::Corrupt { what: "communities.mode", detail: mode })?,
            ),
            incumbent: incumbent.as_deref().and_then(Incumbent::parse),
            confidence,
            source: source.as_deref().and_then(FindingSource::parse),
            evidence: serde_json::from_value(evidence).unwrap_or_default(),
            checked_at,
            shadow_since,
            digest,
        })
    }

    /// Records a finding. An incumbent in a community in shadow mode starts its shadow
    /// days (kept across later findings); none ends them. `digest` opts in or out. A detected
    /// finding never replaces the operator's: if an override was recorded meanwhile (while
    /// detection read Discord), only `digest` is applied and the second value is false.
    pub async fn record_finding(
        &mut self,
        finding: &IncumbentFinding,
        digest: Option<bool>,
    ) -> Result<(Standing, bool), StoreError> {
        let recorded = sqlx::query(
            "UPDATE communities SET
                incumbent = $1, incumbent_confidence = $2, incumbent_evidence = $3, incumbent_source = $4,
                incumbent_checked_at = now(),
                shadow_since = CASE WHEN $1 IS NULL OR mode <> 'shadow' THEN NULL ELSE coalesce(shadow_since, now()) END,
                shadow_digest = coalesce($5, shadow_digest),
                updated_at = now()
             WHERE $4 = 'operator' OR incumbent_source IS DISTINCT FROM 'operator'",
        )
        .bind(finding.incumbent.map(Incumbent::as_str))
        .bind(finding.confidence)
        .bind(serde_json::json!(finding.evidence))
        .bind(finding.source.map(FindingSource::as_str))
        .bind(digest)
        .execute(self.conn())
        .await?
        .rows_affected()
            > 0;
        match (recorded, digest) {
            (false, Some(digest)) => Ok((self.set_digest(digest).await?, false)),
            _ => Ok((self.shadow_standing().await?, recorded)),
        }
    }

    /// Opts in to (true) or out of (false) the shadow digest, changing nothing else.
    pub async fn set_digest(&mut self, digest: bool) -> Result<Standing, StoreError> {
        sqlx::query("UPDATE communities SET shadow_digest = $1, updated_at = now() WHERE community_id = $2")
            .bind(digest)
            .bind(self.community().0)
            .execute(self.conn())
            .await?;
        self.shadow_standing().await
    }

    /// Opens a sync's row (idempotent).
    pub async fn begin_sync(
        &mut self,
        sync_id: &str,
        version: i32,
        blocks: &BTreeMap<u64, u64>,
    ) -> Result<(), StoreError> {
        let community = self.community().0;
        sqlx::query(
            "INSERT INTO shadow_syncs (community_id, sync_id, manifest_version, blocks) VALUES ($1, $2, $3, $4)
             ON CONFLICT (community_id, sync_id) DO NOTHING",
        )
        .bind(community)
        .bind(sync_id)
        .bind(version)
        .bind(serde_json::json!(blocks))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Writes one page: the members' state, the divergences, the validation of earlier
    /// predictions against `holdings` (what the incumbent gave, per member and role), and
    /// this sync's predictions. Returns the validations of the page's members, read back.
    pub async fn record_page(
        &mut self,
        sync_id: &str,
        members: &[MemberRow],
        divergences: &[(i64, String, &'static str)],
        holdings: &[Pair],
        predictions: &[Pair],
    ) -> Result<PageCounts, StoreError> {
        let community = self.community().0;
        let ids: Vec<i64> = members.iter().map(|m| m.user_id).collect();
        let join = |v: &Vec<String>| v.join("\u{1f}");
        sqlx::query(
            "INSERT INTO shadow_member_state
                (community_id, discord_user_id, sync_id, incumbent_roles, arrakis_roles, unknown_roles, wallets, best_rank)
             SELECT $1, m.id, $2, coalesce(string_to_array(nullif(m.inc, ''), chr(31)), '{}'),
                    coalesce(string_to_array(nullif(m.arr, ''), chr(31)), '{}'),
                    coalesce(string_to_array(nullif(m.unk, ''), chr(31)), '{}'), m.wallets, m.best_rank
             FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[])
                  AS m(id, inc, arr, unk, wallets, best_rank)
             ON CONFLICT (community_id, discord_user_id) DO UPDATE SET
                sync_id = EXCLUDED.sync_id, incumbent_roles = EXCLUDED.incumbent_roles,
                arrakis_roles = EXCLUDED.arrakis_roles, unknown_roles = EXCLUDED.unknown_roles,
                wallets = EXCLUDED.wallets, best_rank = EXCLUDED.best_rank, synced_at = now()",
        )
        .bind(community)
        .bind(sync_id)
        .bind(&ids)
        .bind(members.iter().map(|m| join(&m.incumbent_roles)).collect::<Vec<_>>())
        .bind(members.iter().map(|m| join(&m.arrakis_roles)).collect::<Vec<_>>())
        .bind(members.iter().map(|m| join(&m.unknown_roles)).collect::<Vec<_>>())
        .bind(members.iter().map(|m| m.wallets).collect::<Vec<_>>())
        .bind(members.iter().map(|m| m.best_rank).collect::<Vec<_>>())
        .execute(self.conn())
        .await?;
        sqlx::query(
            "INSERT INTO shadow_divergences (community_id, sync_id, discord_user_id, role_key, kind)
             SELECT $1, $2, d.id, d.role_key, d.kind FROM unnest($3::bigint[], $4::text[], $5::text[]) AS d(id, role_key, kind)
             ON CONFLICT DO NOTHING",
        )
        .bind(community)
        .bind(sync_id)
        .bind(divergences.iter().map(|d| d.0).collect::<Vec<_>>())
        .bind(divergences.iter().map(|d| d.1.clone()).collect::<Vec<_>>())
        .bind(divergences.iter().map(|d| d.2.to_string()).collect::<Vec<_>>())
        .execute(self.conn())
        .await?;
        let (users, roles, holds) = columns(holdings);
        sqlx::query(
            "UPDATE shadow_predictions p SET validated_sync = $1, validated_at = now(), correct = (p.should_hold = h.holds)
             FROM unnest($2::bigint[], $3::text[], $4::bool[]) AS h(id, role_key, holds)
             WHERE p.discord_user_id = h.id AND p.role_key = h.role_key
               AND p.validated_at IS NULL AND p.sync_id <> $1",
        )
        .bind(sync_id)
        .bind(&users)
        .bind(&roles)
        .bind(&holds)
        .execute(self.conn())
        .await?;
        let (users, roles, holds) = columns(predictions);
        sqlx::query(
            "INSERT INTO shadow_predictions (community_id, sync_id, discord_user_id, role_key, should_hold)
             SELECT $1, $2, p.id, p.role_key, p.should_hold FROM unnest($3::bigint[], $4::text[], $5::bool[])
                  AS p(id, role_key, should_hold)
             ON CONFLICT DO NOTHING",
        )
        .bind(community)
        .bind(sync_id)
        .bind(&users)
        .bind(&roles)
        .bind(&holds)
        .execute(self.conn())
        .await?;
        let (validated, correct): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE correct) FROM shadow_predictions
             WHERE validated_sync = $1 AND discord_user_id = ANY($2)",
        )
        .bind(sync_id)
        .bind(&ids)
        .fetch_one(self.conn())
        .await?;
        Ok(PageCounts { validated: validated.unsigned_abs(), correct: correct.unsigned_abs() })
    }

    /// Closes a sync with its counts; returns when it finished (the first close wins, so a
    /// retried call keeps the time) and the accuracy over the last 30 days' validations.
    pub async fn finish_sync(&mut self, sync_id: &str, tally: &SyncTally) -> Result<ClosedSync, StoreError> {
        let finished: Option<(DateTime<Utc>,)> = sqlx::query_as(
            "UPDATE shadow_syncs SET finished_at = coalesce(finished_at, now()), tally = $2 WHERE sync_id = $1
             RETURNING finished_at",
        )
        .bind(sync_id)
        .bind(serde_json::json!(tally))
        .fetch_optional(self.conn())
        .await?;
        let (accuracy, validated) = self.accuracy().await?;
        Ok(ClosedSync { finished_at: finished.map(|(at,)| at), accuracy, validated })
    }

    /// The share of the predictions validated in the last 30 days that came true (`None`
    /// before any was validated), and how many were validated.
    pub async fn accuracy(&mut self) -> Result<(Option<f64>, u64), StoreError> {
        let (validated, correct): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE correct) FROM shadow_predictions
             WHERE validated_at > now() - interval '30 days'",
        )
        .fetch_one(self.conn())
        .await?;
        Ok(((validated > 0).then(|| correct as f64 / validated as f64), validated.unsigned_abs()))
    }

    /// The linked wallets of `users`, by user.
    pub async fn wallets_of(&mut self, users: &[i64]) -> Result<BTreeMap<i64, Vec<String>>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT discord_user_id, address FROM wallet_links WHERE discord_user_id = ANY($1)
             ORDER BY discord_user_id, linked_at, address",
        )
        .bind(users)
        .fetch_all(self.conn())
        .await?;
        let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (user, address) in rows {
            out.entry(user).or_default().push(address);
        }
        Ok(out)
    }
}

fn columns(pairs: &[Pair]) -> (Vec<i64>, Vec<String>, Vec<bool>) {
    (
        pairs.iter().map(|p| p.user_id).collect(),
        pairs.iter().map(|p| p.role_key.clone()).collect(),
        pairs.iter().map(|p| p.holds).collect(),
    )
}
