//! Row-level security on every tenant table: tenant A can neither read nor write tenant B's
//! rows, and a transaction with no tenant sees zero rows.

use arrakis_activities::CommunityId;
use arrakis_tests::fresh_database;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

/// Every tenant table, with an INSERT for one row of a given community ($1).
const TENANT_TABLES: &[(&str, &str)] = &[
    (
        "communities",
        "INSERT INTO communities (community_id, guild_id, name) VALUES ($1, (random() * 1e15)::bigint + 1, 'c')",
    ),
    (
        "manifests",
        "INSERT INTO manifests (community_id, version, document, checksum, created_by) VALUES ($1, 99, '{}', repeat('a', 64), 't')",
    ),
    (
        "shadow_states",
        "INSERT INTO shadow_states (community_id, kind, manifest_key, discord_id, applied_hash, applied_version) VALUES ($1, 'role', 'k' || random(), 1, 'h', 1)",
    ),
    ("audit_logs", "INSERT INTO audit_logs (community_id, actor, action) VALUES ($1, 't', 'a')"),
    (
        "wizard_funnel",
        "INSERT INTO wizard_funnel (community_id, session_id, step) VALUES ($1, 's' || random(), 'INIT')",
    ),
    (
        "wallet_links",
        "INSERT INTO wallet_links (community_id, discord_user_id, address) VALUES ($1, (random() * 1e15)::bigint, '0x' || repeat('1', 40))",
    ),
    (
        "wallet_nonces",
        "INSERT INTO wallet_nonces (community_id, nonce, discord_user_id, address, expires_at, message) VALUES ($1, 'n' || random(), 1, '0x' || repeat('1', 40), now(), 'sign me')",
    ),
    (
        "scores",
        "INSERT INTO scores (community_id, asset, address, rank, score, fetched_at) VALUES ($1, '1:0xa', '0x' || repeat('2', 40), 1, '10', now())",
    ),
    (
        "score_history",
        "INSERT INTO score_history (community_id, asset, address, at, rank, score) VALUES ($1, '1:0xa', '0x' || repeat('2', 40), now(), 1, '10')",
    ),
    (
        "shadow_syncs",
        "INSERT INTO shadow_syncs (community_id, sync_id, manifest_version) VALUES ($1, 's' || random(), 1)",
    ),
    (
        "shadow_member_state",
        "INSERT INTO shadow_member_state (community_id, discord_user_id, sync_id) VALUES ($1, (random() * 1e15)::bigint + 1, 's')",
    ),
    (
        "shadow_divergences",
        "INSERT INTO shadow_divergences (community_id, sync_id, discord_user_id, role_key, kind) VALUES ($1, 's' || random(), 1, 'r', 'would_grant')",
    ),
    (
        "shadow_predictions",
        "INSERT INTO shadow_predictions (community_id, sync_id, discord_user_id, role_key, should_hold) VALUES ($1, 's' || random(), 1, 'r', true)",
    ),
    (
        "member_sync_cursors",
        "INSERT INTO member_sync_cursors (community_id, chain_id, last_block) VALUES ($1, (random() * 1e9)::bigint, 1)",
    ),
    (
        "member_sync_writes",
        "INSERT INTO member_sync_writes (community_id, discord_user_id, role_id, role_key, action) VALUES ($1, (random() * 1e15)::bigint, 1, 'r', 'grant')",
    ),
    (
        "member_sync_negatives",
        "INSERT INTO member_sync_negatives (community_id, discord_user_id, role_id, role_key, first_seen_at) VALUES ($1, (random() * 1e15)::bigint, 1, 'r', now())",
    ),
    (
        "member_sync_held",
        "INSERT INTO member_sync_held (community_id, batch, discord_user_id, role_id, role_key) VALUES ($1, 'b', (random() * 1e15)::bigint, 1, 'r')",
    ),
    (
        "member_sync_members",
        "INSERT INTO member_sync_members (community_id, discord_user_id) VALUES ($1, (random() * 1e15)::bigint)",
    ),
    (
        "migrations",
        "INSERT INTO migrations (community_id, migration_id, workflow_id, strategy, stage, from_mode, previous_version, started_by) VALUES ($1, 'm', 'w', 'instant', 'preparing', 'shadow', 1, 'a')",
    ),
    (
        "rollback_events",
        "INSERT INTO rollback_events (community_id, migration_id, reason, actor, automatic, started_at) VALUES ($1, 'm', 'r', 'a', false, now())",
    ),
];

#[tokio::test]
async fn every_table_with_a_tenant_is_covered_here_and_forces_row_level_security() {
    let db = fresh_database().await;
    let mut admin = db.admin().await;
    let tables: Vec<(String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, c.relforcerowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'community_id' AND NOT a.attisdropped
         WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1",
    )
    .fetch_all(&mut admin)
    .await
    .expect("catalog");
    let mut covered: Vec<&str> = TENANT_TABLES.iter().map(|(t, _)| *t).collect();
    covered.sort_unstable();
    let found: Vec<&str> = tables.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(found, covered, "a tenant table is missing from TENANT_TABLES (or gone)");
    assert!(tables.iter().all(|(_, forced)| *forced), "{tables:?}");
}

async fn seed_community(admin: &mut PgConnection, id: Uuid) {
    let guild = i64::from_le_bytes(id.as_bytes()[..8].try_into().expect("8 bytes")).unsigned_abs() as i64 / 2 + 1;
    sqlx::query("INSERT INTO communities (community_id, guild_id, name) VALUES ($1, $2, 'seed')")
        .bind(id)
        .bind(guild)
        .execute(&mut *admin)
        .await
        .expect("seed community");
    for (table, insert) in TENANT_TABLES.iter().skip(1) {
        sqlx::query(sqlx::AssertSqlSafe(insert.to_string()))
            .bind(id)
            .execute(&mut *admin)
            .await
            .unwrap_or_else(|e| panic!("seed {table}: {e}"));
    }
}

async fn count(conn: &mut PgConnection, table: &str, community: Option<Uuid>) -> i64 {
    let sql = match community {
        Some(_) => format!("SELECT count(*) FROM {table} WHERE community_id = $1"),
        None => format!("SELECT count(*) FROM {table}"),
    };
    let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
    if let Some(id) = community {
        query = query.bind(id);
    }
    query.fetch_one(conn).await.unwrap_or_else(|e| panic!("count {table}: {e}"))
}

#[tokio::test]
async fn tenants_see_and_touch_only_their_own_rows() {
    let db = fresh_database().await;
    let mut admin = db.admin().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    seed_community(&mut admin, a).await;
    seed_community(&mut admin, b).await;

    for (table, insert) in TENANT_TABLES {
        let mut tx = db.store.tenant(CommunityId(a)).await.expect("tenant tx");
        assert_eq!(count(tx.conn(), table, None).await, 1, "{table}: A sees exactly its own row");
        assert_eq!(count(tx.conn(), table, Some(b)).await, 0, "{table}: A cannot read B's rows");

        let updated = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET community_id = community_id WHERE community_id = $1"
        )))
        .bind(b)
        .execute(tx.conn())
        .await
        .expect("update runs");
        assert_eq!(updated.rows_affected(), 0, "{table}: A cannot update B's rows");
        let deleted = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE community_id = $1")))
            .bind(b)
            .execute(tx.conn())
            .await
            .expect("delete runs");
        assert_eq!(deleted.rows_affected(), 0, "{table}: A cannot delete B's rows");

        let err = sqlx::query(sqlx::AssertSqlSafe(insert.to_string()))
            .bind(b)
            .execute(tx.conn())
            .await
            .expect_err("A cannot write a row for B");
        assert!(err.to_string().contains("row-level security"), "{table}: {err}");
        drop(tx); // rolled back
    }

    // B's rows are all still there.
    for (table, _) in TENANT_TABLES {
        assert_eq!(count(&mut admin, table, Some(b)).await, 1, "{table}: B's row survived");
    }
}

#[tokio::test]
async fn a_transaction_without_a_tenant_sees_zero_rows() {
    let db = fresh_database().await;
    let mut admin = db.admin().await;
    seed_community(&mut admin, Uuid::new_v4()).await;

    // What a query would see had it bypassed the storage layer's tenant transaction: the
    // application role with no app.current_tenant set.
    let mut conn = PgConnection::connect(&db.url).await.expect("connect");
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SET LOCAL ROLE arrakis_app").execute(&mut *tx).await.expect("role");
    for (table, _) in TENANT_TABLES {
        assert_eq!(count(&mut tx, table, None).await, 0, "{table}: no tenant, no rows");
    }
}

#[tokio::test]
async fn the_service_role_sees_every_community_and_manifest_versions_are_immutable() {
    let db = fresh_database().await;
    let mut admin = db.admin().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    seed_community(&mut admin, a).await;
    seed_community(&mut admin, b).await;

    let mut service = db.store.service().await.expect("service tx");
    assert_eq!(count(service.conn(), "communities", None).await, 2);
    drop(service);

    let mut tx = db.store.tenant(CommunityId(a)).await.expect("tenant tx");
    let err = sqlx::query("UPDATE manifests SET created_by = 'someone else'")
        .execute(tx.conn())
        .await
        .expect_err("an old version cannot be edited");
    assert!(err.to_string().contains("immutable"), "{err}");
}
