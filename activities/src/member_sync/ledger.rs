//! Member sync's Postgres state, through the tenant transaction (RLS applies): the write queue,
//! the negatives waiting for their second read, the breaker's held batch, each member's desired
//! roles, the last write Discord accepted per (member, role), the removals the operator kept,
//! and the chain watcher's cursors.

use crate::{StoreError, TenantTx};
use arrakis_schemas::workflows::member_sync::{Backlog, ChainCursor, LastWrite, Sighting, WriteAction};
use std::collections::BTreeMap;

/// The tables that hold member sync's work per member and role; `member_sync_members` last,
/// because it is keyed by member alone.
const LEDGER_TABLES: [&str; 6] = [
    "member_sync_writes",
    "member_sync_negatives",
    "member_sync_held",
    "member_sync_written",
    "member_sync_kept",
    "member_sync_members",
];

/// One queued write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedWrite {
    /// The member.
    pub user_id: i64,
    /// The Discord role.
    pub role_id: i64,
    /// The manifest role key.
    pub role_key: String,
    /// Grant or revoke.
    pub action: WriteAction,
    /// Why, for Discord's audit log.
    pub why: String,
}

/// One negative read waiting for its second.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negative {
    /// The member.
    pub user_id: i64,
    /// The Discord role.
    pub role_id: i64,
    /// The manifest role key.
    pub role_key: String,
    /// The first negative read.
    pub first: Sighting,
}

/// One held batch, role by role.
pub type HeldRoles = Vec<(String, String, i64)>;

impl TenantTx {
    /// The chain watcher's saved cursors.
    pub async fn sync_cursors(&mut self) -> Result<BTreeMap<u64, ChainCursor>, StoreError> {
        let rows: Vec<(i64, i64, String)> =
            sqlx::query_as("SELECT chain_id, last_block, block_hash FROM member_sync_cursors ORDER BY chain_id")
                .fetch_all(self.conn())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(chain, block, hash)| (chain as u64, ChainCursor { block: block as u64, hash }))
            .collect())
    }

    /// Saves the chain watcher's cursors.
    pub async fn save_cursors(&mut self, cursors: &BTreeMap<u64, ChainCursor>) -> Result<(), StoreError> {
        for (chain, cursor) in cursors {
            sqlx::query(
                "INSERT INTO member_sync_cursors (community_id, chain_id, last_block, block_hash) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (community_id, chain_id) DO UPDATE
                 SET last_block = EXCLUDED.last_block, block_hash = EXCLUDED.block_hash, updated_at = now()",
            )
            .bind(self.community().0)
            .bind(*chain as i64)
            .bind(cursor.block as i64)
            .bind(&cursor.hash)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// The negatives waiting for a second read of these members.
    pub async fn negatives_of(&mut self, users: &[i64]) -> Result<Vec<Negative>, StoreError> {
        let rows: Vec<(i64, i64, String, chrono::DateTime<chrono::Utc>, serde_json::Value)> = sqlx::query_as(
            "SELECT discord_user_id, role_id, role_key, first_seen_at, first_blocks FROM member_sync_negatives
             WHERE discord_user_id = ANY($1) AND staged_batch IS NULL",
        )
        .bind(users)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(user_id, role_id, role_key, at, blocks)| Negative {
                user_id,
                role_id,
                role_key,
                first: Sighting {
                    at_ms: u64::try_from(at.timestamp_millis()).unwrap_or_default(),
                    blocks: serde_json::from_value::<BTreeMap<String, u64>>(blocks)
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|(chain, block)| Some((chain.parse().ok()?, block)))
                        .collect(),
                },
            })
            .collect())
    }

    /// Members with a waiting negative first seen, and last read again, at or before `due_ms`.
    pub async fn due_negatives(&mut self, due_ms: u64) -> Result<Vec<i64>, StoreError> {
        let due = chrono::DateTime::from_timestamp_millis(due_ms as i64).unwrap_or_default();
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT discord_user_id FROM member_sync_negatives
             WHERE staged_batch IS NULL AND greatest(first_seen_at, checked_at) <= $1
             ORDER BY discord_user_id LIMIT 1000",
        )
        .bind(due)
        .fetch_all(self.conn())
        .await?)
    }

    /// When the earliest waiting negative was first seen or last read again (Unix ms): the
    /// next re-check is due `revoke_confirm` after it.
    pub async fn oldest_negative_ms(&mut self) -> Result<Option<u64>, StoreError> {
        let at: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
            "SELECT min(greatest(first_seen_at, checked_at)) FROM member_sync_negatives WHERE staged_batch IS NULL",
        )
        .fetch_one(self.conn())
        .await?;
        Ok(at.and_then(|at| u64::try_from(at.timestamp_millis()).ok()))
    }

    /// Notes that these negatives were read again and not confirmed yet.
    pub async fn check_negatives(&mut self, rows: &[(i64, i64)]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE member_sync_negatives n SET checked_at = now()
             FROM unnest($1::bigint[], $2::bigint[]) AS t(u, r)
             WHERE n.discord_user_id = t.u AND n.role_id = t.r",
        )
        .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1).collect::<Vec<_>>())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records first negative reads (a read already on record keeps its first sighting).
    pub async fn add_negatives(&mut self, rows: &[(i64, i64, String)], seen: &Sighting) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let at = chrono::DateTime::from_timestamp_millis(seen.at_ms as i64).unwrap_or_default();
        let blocks: BTreeMap<String, u64> = seen.blocks.iter().map(|(c, b)| (c.to_string(), *b)).collect();
        sqlx::query(
            "INSERT INTO member_sync_negatives (community_id, discord_user_id, role_id, role_key, first_seen_at, first_blocks)
             SELECT $1, u, r, k, $5, $6 FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS t(u, r, k)
             ON CONFLICT (community_id, discord_user_id, role_id) DO NOTHING",
        )
        .bind(self.community().0)
        .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>())
        .bind(at)
        .bind(serde_json::json!(blocks))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Stages confirmed negatives under `batch`: they go past the breaker together.
    pub async fn stage_negatives(&mut self, rows: &[(i64, i64)], batch: &str) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE member_sync_negatives n SET staged_batch = $4
             FROM unnest($2::bigint[], $3::bigint[]) AS t(u, r)
             WHERE n.community_id = $1 AND n.discord_user_id = t.u AND n.role_id = t.r",
        )
        .bind(self.community().0)
        .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1).collect::<Vec<_>>())
        .bind(batch)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Drops what no longer holds for these (member, role) pairs: their negatives, held
    /// revocations and queued revocations (the member qualifies again), or their queued grants
    /// (`grants`: the member no longer qualifies).
    pub async fn cancel(&mut self, rows: &[(i64, i64)], grants: bool) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let users: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let roles: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let statements: &[&'static str] = if grants {
            &["DELETE FROM member_sync_writes w USING unnest($1::bigint[], $2::bigint[]) AS t(u, r)
               WHERE w.discord_user_id = t.u AND w.role_id = t.r AND w.action = 'grant'"]
        } else {
            &[
                "DELETE FROM member_sync_negatives n USING unnest($1::bigint[], $2::bigint[]) AS t(u, r)
                 WHERE n.discord_user_id = t.u AND n.role_id = t.r",
                // A positive read ends a keep: a later negative is a new change, asked about again.
                "DELETE FROM member_sync_kept k USING unnest($1::bigint[], $2::bigint[]) AS t(u, r)
                 WHERE k.discord_user_id = t.u AND k.role_id = t.r",
                "DELETE FROM member_sync_held h USING unnest($1::bigint[], $2::bigint[]) AS t(u, r)
                 WHERE h.discord_user_id = t.u AND h.role_id = t.r",
                "DELETE FROM member_sync_writes w USING unnest($1::bigint[], $2::bigint[]) AS t(u, r)
                 WHERE w.discord_user_id = t.u AND w.role_id = t.r AND w.action = 'revoke'",
            ]
        };
        for sql in statements {
            sqlx::query(*sql).bind(&users).bind(&roles).execute(self.conn()).await?;
        }
        Ok(())
    }

    /// Queues writes; a newer decision for the same (member, role) replaces the older one.
    pub async fn queue_writes(&mut self, writes: &[QueuedWrite], priority: i16) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO member_sync_writes (community_id, discord_user_id, role_id, role_key, action, priority, why)
             SELECT $1, u, r, k, a, $7, w FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[])
                 AS t(u, r, k, a, w)
             ON CONFLICT (community_id, discord_user_id, role_id) DO UPDATE
             SET action = EXCLUDED.action, why = EXCLUDED.why,
                 priority = LEAST(member_sync_writes.priority, EXCLUDED.priority),
                 enqueued_at = CASE WHEN member_sync_writes.action = EXCLUDED.action
                                    THEN member_sync_writes.enqueued_at ELSE now() END",
        )
        .bind(self.community().0)
        .bind(writes.iter().map(|w| w.user_id).collect::<Vec<_>>())
        .bind(writes.iter().map(|w| w.role_id).collect::<Vec<_>>())
        .bind(writes.iter().map(|w| w.role_key.clone()).collect::<Vec<_>>())
        .bind(writes.iter().map(|w| w.action.as_str().to_string()).collect::<Vec<_>>())
        .bind(writes.iter().map(|w| w.why.clone()).collect::<Vec<_>>())
        .bind(priority)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The next writes to send, most urgent first.
    pub async fn next_writes(&mut self, max: u32) -> Result<Vec<QueuedWrite>, StoreError> {
        let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as(
            "SELECT discord_user_id, role_id, role_key, action, why FROM member_sync_writes
             ORDER BY priority, enqueued_at, discord_user_id, role_id LIMIT $1",
        )
        .bind(i64::from(max))
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(user_id, role_id, role_key, action, why)| QueuedWrite {
                user_id,
                role_id,
                role_key,
                action: if action == "revoke" { WriteAction::Revoke } else { WriteAction::Grant },
                why,
            })
            .collect())
    }

    /// Removes a write that was sent (or that can never be); `accepted` records what Discord
    /// now holds for the pair, as of now.
    pub async fn write_done(&mut self, user: i64, role: i64, accepted: Option<WriteAction>) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM member_sync_writes WHERE discord_user_id = $1 AND role_id = $2")
            .bind(user)
            .bind(role)
            .execute(self.conn())
            .await?;
        if let Some(action) = accepted {
            sqlx::query(
                "INSERT INTO member_sync_written (community_id, discord_user_id, role_id, action) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (community_id, discord_user_id, role_id) DO UPDATE
                 SET action = EXCLUDED.action, written_at = clock_timestamp()",
            )
            .bind(self.community().0)
            .bind(user)
            .bind(role)
            .bind(action.as_str())
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// The last accepted write per role of these members.
    pub async fn written_of(&mut self, users: &[i64]) -> Result<BTreeMap<i64, Vec<LastWrite>>, StoreError> {
        let rows: Vec<(i64, i64, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
            "SELECT discord_user_id, role_id, action, written_at FROM member_sync_written
             WHERE discord_user_id = ANY($1) ORDER BY discord_user_id, role_id",
        )
        .bind(users)
        .fetch_all(self.conn())
        .await?;
        let mut out: BTreeMap<i64, Vec<LastWrite>> = BTreeMap::new();
        for (user, role, action, at) in rows {
            out.entry(user).or_default().push(LastWrite {
                role_id: role as u64,
                action: if action == "revoke" { WriteAction::Revoke } else { WriteAction::Grant },
                at_ms: u64::try_from(at.timestamp_millis()).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// The roles (Discord ids) whose revocation is decided for these members: queued, or held.
    pub async fn revoking_of(&mut self, users: &[i64]) -> Result<BTreeMap<i64, Vec<u64>>, StoreError> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT discord_user_id, role_id FROM member_sync_writes WHERE discord_user_id = ANY($1) AND action = 'revoke'
             UNION SELECT discord_user_id, role_id FROM member_sync_held WHERE discord_user_id = ANY($1)
             ORDER BY 1, 2",
        )
        .bind(users)
        .fetch_all(self.conn())
        .await?;
        Ok(roles_by_member(rows))
    }

    /// The roles (Discord ids) the operator kept for these members under `version`.
    pub async fn kept_of(&mut self, users: &[i64], version: i32) -> Result<BTreeMap<i64, Vec<u64>>, StoreError> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT discord_user_id, role_id FROM member_sync_kept
             WHERE discord_user_id = ANY($1) AND manifest_version = $2 ORDER BY discord_user_id, role_id",
        )
        .bind(users)
        .bind(version)
        .fetch_all(self.conn())
        .await?;
        Ok(roles_by_member(rows))
    }

    /// Writes still queued (and when the oldest was), and negatives still waiting for their
    /// second read.
    pub async fn pending(&mut self) -> Result<Backlog, StoreError> {
        let (writes, oldest, negatives): (i64, Option<chrono::DateTime<chrono::Utc>>, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM member_sync_writes), (SELECT min(enqueued_at) FROM member_sync_writes),
                    (SELECT count(*) FROM member_sync_negatives WHERE staged_batch IS NULL)",
        )
        .fetch_one(self.conn())
        .await?;
        Ok(Backlog {
            writes: writes as u64,
            oldest_write_at_ms: oldest.and_then(|at| u64::try_from(at.timestamp_millis()).ok()),
            negatives: negatives as u64,
        })
    }

    /// A staged batch's revocations per role key.
    pub async fn staged_counts(&mut self, batch: &str) -> Result<BTreeMap<String, u64>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT role_key, count(*) FROM member_sync_negatives WHERE staged_batch = $1 GROUP BY role_key",
        )
        .bind(batch)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.into_iter().map(|(k, n)| (k, n as u64)).collect())
    }

    /// Holders per role key of a staged batch's roles as Arrakis last decided them: members
    /// whose desired roles hold it, and the members the batch would take it from. Grants
    /// since the last sweep count, so the breaker's base is never a stale zero.
    pub async fn decided_holders(&mut self, batch: &str) -> Result<BTreeMap<String, u64>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "WITH staged AS (SELECT role_key, role_id, count(*) AS n FROM member_sync_negatives
                             WHERE staged_batch = $1 GROUP BY role_key, role_id)
             SELECT s.role_key, s.n + (SELECT count(*) FROM member_sync_members m WHERE s.role_id = ANY(m.desired_roles))
             FROM staged s",
        )
        .bind(batch)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.into_iter().map(|(k, n)| (k, n as u64)).collect())
    }

    /// The members a staged batch takes a role from (each counted once).
    pub async fn staged_members(&mut self, batch: &str) -> Result<u64, StoreError> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT count(DISTINCT discord_user_id) FROM member_sync_negatives WHERE staged_batch = $1")
                .bind(batch)
                .fetch_one(self.conn())
                .await?;
        Ok(n.unsigned_abs())
    }

    /// Moves a staged batch into the write queue (the breaker let it pass).
    pub async fn release_staged(&mut self, batch: &str, why: &str) -> Result<u64, StoreError> {
        let moved = self.queue_revokes("member_sync_negatives WHERE staged_batch = $1", batch, why).await?;
        sqlx::query("DELETE FROM member_sync_negatives WHERE staged_batch = $1")
            .bind(batch)
            .execute(self.conn())
            .await?;
        Ok(moved)
    }

    /// Moves a staged batch to the breaker's hold.
    pub async fn hold_staged(&mut self, batch: &str) -> Result<u64, StoreError> {
        let held = sqlx::query(
            "INSERT INTO member_sync_held (community_id, batch, discord_user_id, role_id, role_key)
             SELECT community_id, $1, discord_user_id, role_id, role_key FROM member_sync_negatives WHERE staged_batch = $1
             ON CONFLICT (community_id, discord_user_id, role_id) DO UPDATE SET batch = EXCLUDED.batch, held_at = now()",
        )
        .bind(batch)
        .execute(self.conn())
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM member_sync_negatives WHERE staged_batch = $1")
            .bind(batch)
            .execute(self.conn())
            .await?;
        Ok(held)
    }

    /// The held revocations per (batch, role key).
    pub async fn held(&mut self) -> Result<HeldRoles, StoreError> {
        Ok(sqlx::query_as(
            "SELECT batch, role_key, count(*) FROM member_sync_held GROUP BY batch, role_key ORDER BY batch, role_key",
        )
        .fetch_all(self.conn())
        .await?)
    }

    /// Applies (queues) or drops a held batch; returns how many revocations it held. A dropped
    /// batch's members keep their roles under manifest `version` (see `member_sync_kept`).
    pub async fn decide_held(
        &mut self,
        batch: &str,
        confirm: bool,
        why: &str,
        version: i32,
    ) -> Result<u64, StoreError> {
        if confirm {
            self.queue_revokes("member_sync_held WHERE batch = $1", batch, why).await?;
        } else {
            sqlx::query(
                "INSERT INTO member_sync_kept (community_id, discord_user_id, role_id, manifest_version, batch)
                 SELECT community_id, discord_user_id, role_id, $2, $1 FROM member_sync_held WHERE batch = $1
                 ON CONFLICT (community_id, discord_user_id, role_id) DO UPDATE
                 SET manifest_version = EXCLUDED.manifest_version, batch = EXCLUDED.batch, kept_at = now()",
            )
            .bind(batch)
            .bind(version)
            .execute(self.conn())
            .await?;
        }
        // Decided: the same pairs staged by a later batch (a sweep while this one was held) or
        // waiting for a second read are not asked about again.
        sqlx::query(
            "DELETE FROM member_sync_negatives n USING member_sync_held h
             WHERE h.batch = $1 AND n.discord_user_id = h.discord_user_id AND n.role_id = h.role_id",
        )
        .bind(batch)
        .execute(self.conn())
        .await?;
        let done =
            sqlx::query("DELETE FROM member_sync_held WHERE batch = $1").bind(batch).execute(self.conn()).await?;
        Ok(done.rows_affected())
    }

    /// The desired manifest roles (Discord ids) last decided for these members.
    pub async fn desired_of(&mut self, users: &[i64]) -> Result<BTreeMap<i64, Vec<i64>>, StoreError> {
        let rows: Vec<(i64, Vec<i64>)> = sqlx::query_as(
            "SELECT discord_user_id, desired_roles FROM member_sync_members WHERE discord_user_id = ANY($1)",
        )
        .bind(users)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// Records what these members should hold; an empty set is the default and is not stored.
    pub async fn set_desired(&mut self, rows: &[(i64, Vec<i64>)]) -> Result<(), StoreError> {
        let empty: Vec<i64> = rows.iter().filter(|r| r.1.is_empty()).map(|r| r.0).collect();
        if !empty.is_empty() {
            sqlx::query("DELETE FROM member_sync_members WHERE discord_user_id = ANY($1)")
                .bind(empty)
                .execute(self.conn())
                .await?;
        }
        for (user, roles) in rows.iter().filter(|r| !r.1.is_empty()) {
            sqlx::query(
                "INSERT INTO member_sync_members (community_id, discord_user_id, desired_roles) VALUES ($1, $2, $3)
                 ON CONFLICT (community_id, discord_user_id) DO UPDATE
                 SET desired_roles = EXCLUDED.desired_roles, decided_at = now()
                 WHERE member_sync_members.desired_roles IS DISTINCT FROM EXCLUDED.desired_roles",
            )
            .bind(self.community().0)
            .bind(user)
            .bind(roles)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// Forgets members who left: nothing is written for them any more.
    pub async fn forget_members(&mut self, users: &[i64]) -> Result<(), StoreError> {
        self.forget(&LEDGER_TABLES, "discord_user_id", users).await
    }

    /// Forgets roles that were deleted (a rollback): nothing is written for them any more.
    pub async fn forget_roles(&mut self, roles: &[i64]) -> Result<(), StoreError> {
        // `member_sync_members` keeps the member; only the roles leave its desired set, below.
        self.forget(&LEDGER_TABLES[..LEDGER_TABLES.len() - 1], "role_id", roles).await?;
        sqlx::query(
            "UPDATE member_sync_members SET desired_roles = array(SELECT unnest(desired_roles) EXCEPT SELECT unnest($1::bigint[]))
             WHERE desired_roles && $1::bigint[]",
        )
            .bind(roles)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Deletes the rows of `tables` whose `column` is one of `ids`.
    async fn forget(&mut self, tables: &[&str], column: &str, ids: &[i64]) -> Result<(), StoreError> {
        for table in tables {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE {column} = ANY($1)")))
                .bind(ids)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    /// Queues as revocations (top priority, `why` and the role's key as the reason) the pairs
    /// of `source`, a table and its filter on `$1 = batch`; returns how many.
    async fn queue_revokes(&mut self, source: &str, batch: &str, why: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO member_sync_writes (community_id, discord_user_id, role_id, role_key, action, priority, why)
             SELECT community_id, discord_user_id, role_id, role_key, 'revoke', 0, $2 || role_key
             FROM {source}
             ON CONFLICT (community_id, discord_user_id, role_id) DO UPDATE
             SET action = 'revoke', priority = 0, why = EXCLUDED.why, enqueued_at = now()"
        )))
        .bind(batch)
        .bind(why)
        .execute(self.conn())
        .await?
        .rows_affected())
    }

    /// Roles the sync still has work recorded for that are not `managed` any more (deleted in
    /// Discord, recreated under a new id, or dropped from the manifest).
    pub async fn dead_roles(&mut self, managed: &[i64]) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT role_id FROM member_sync_writes WHERE role_id <> ALL($1)
             UNION SELECT role_id FROM member_sync_negatives WHERE role_id <> ALL($1)
             UNION SELECT role_id FROM member_sync_held WHERE role_id <> ALL($1)
             ORDER BY 1",
        )
        .bind(managed)
        .fetch_all(self.conn())
        .await?)
    }

    /// Remembers the alert posted for a held batch.
    pub async fn save_alert(
        &mut self,
        batch: &str,
        channel: u64,
        message: u64,
        content: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO member_sync_alerts (community_id, batch, channel_id, message_id, content)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (community_id, batch) DO UPDATE
             SET channel_id = EXCLUDED.channel_id, message_id = EXCLUDED.message_id, content = EXCLUDED.content",
        )
        .bind(self.community().0)
        .bind(batch)
        .bind(channel as i64)
        .bind(message as i64)
        .bind(content)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Takes the alerts of `batch` (or, with `None`, of every batch nothing is held for any
    /// more): channel, message and what it said.
    pub async fn take_alerts(&mut self, batch: Option<&str>) -> Result<Vec<(u64, u64, String)>, StoreError> {
        let rows: Vec<(i64, i64, String)> = sqlx::query_as(
            "DELETE FROM member_sync_alerts a WHERE ($1::text IS NULL OR a.batch = $1)
               AND ($1::text IS NOT NULL OR NOT EXISTS (SELECT 1 FROM member_sync_held h WHERE h.batch = a.batch))
             RETURNING channel_id, message_id, content",
        )
        .bind(batch)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.into_iter().map(|(c, m, t)| (c as u64, m as u64, t)).collect())
    }

    /// The members who linked any of `addresses` (compared case-insensitively).
    pub async fn members_with_wallets(&mut self, addresses: &[String]) -> Result<Vec<i64>, StoreError> {
        let lowered: Vec<String> = addresses.iter().map(|a| a.to_lowercase()).collect();
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT discord_user_id FROM wallet_links WHERE lower(address) = ANY($1) ORDER BY discord_user_id",
        )
        .bind(lowered)
        .fetch_all(self.conn())
        .await?)
    }
}

/// (member, role) rows as each member's Discord role ids.
fn roles_by_member(rows: Vec<(i64, i64)>) -> BTreeMap<i64, Vec<u64>> {
    let mut out: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    for (user, role) in rows {
        out.entry(user).or_default().push(role as u64);
    }
    out
}
