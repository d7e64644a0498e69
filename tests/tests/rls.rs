//! Row-level security on every tenant table: tenant A can neither read nor write tenant B's
//! rows, a transaction with no tenant sees zero rows, and nothing a statement can do from
//! inside a tenant transaction (`SET ROLE`, `RESET ROLE`, `SET SESSION AUTHORIZATION`,
//! `set_config`, entering another tenant) climbs out of it. The logins are no superusers and
//! members of nothing but what the bootstrap grants; the schema belongs to a role nobody logs
//! in as.

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
        "member_sync_written",
        "INSERT INTO member_sync_written (community_id, discord_user_id, role_id, action) VALUES ($1, (random() * 1e15)::bigint, 1, 'grant')",
    ),
    (
        "member_sync_kept",
        "INSERT INTO member_sync_kept (community_id, discord_user_id, role_id, manifest_version, batch) VALUES ($1, (random() * 1e15)::bigint, 1, 1, 'b')",
    ),
    (
        "member_sync_alerts",
        "INSERT INTO member_sync_alerts (community_id, batch, channel_id, message_id, content) VALUES ($1, 'b' || random(), 1, 1, 'c')",
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

        // Communities are the service role's to create, re-key and delete: the app may not
        // try at all. Every other table lets it try, and row-level security stops it.
        let refused = if *table == "communities" { "permission denied" } else { "" };
        for statement in [
            format!("UPDATE {table} SET community_id = community_id WHERE community_id = $1"),
            format!("DELETE FROM {table} WHERE community_id = $1"),
        ] {
            let mut attempt = db.store.tenant(CommunityId(a)).await.expect("tenant tx");
            match sqlx::query(sqlx::AssertSqlSafe(statement.clone())).bind(b).execute(attempt.conn()).await {
                Ok(done) => assert!(refused.is_empty() && done.rows_affected() == 0, "{table}: {statement} touched B"),
                Err(e) => assert!(!refused.is_empty() && e.to_string().contains(refused), "{table}: {e}"),
            }
        }

        let err = sqlx::query(sqlx::AssertSqlSafe(insert.to_string()))
            .bind(b)
            .execute(tx.conn())
            .await
            .expect_err("A cannot write a row for B");
        let expected = if refused.is_empty() { "row-level security" } else { refused };
        assert!(err.to_string().contains(expected), "{table}: {err}");
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

/// Runs `statement` in a fresh transaction of tenant `a`: its error, if any.
async fn in_tenant(db: &arrakis_tests::TestDatabase, a: Uuid, statement: &str) -> Result<(), String> {
    let mut tx = db.store.tenant(CommunityId(a)).await.expect("tenant tx");
    sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
        .execute(tx.conn())
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn nothing_run_inside_a_tenant_transaction_leaves_its_tenant() {
    let db = fresh_database().await;
    let mut admin = db.admin().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    seed_community(&mut admin, a).await;
    seed_community(&mut admin, b).await;

    // Becoming another role: refused outright (the login is a member of nothing).
    for (statement, refusal) in [
        ("SET LOCAL ROLE arrakis_service", "permission denied to set role"),
        ("SET ROLE arrakis_service", "permission denied to set role"),
        ("SET ROLE arrakis_owner", "permission denied to set role"),
        ("SET ROLE postgres", "permission denied to set role"),
        ("SET SESSION AUTHORIZATION arrakis_service", "permission denied to set session authorization"),
        ("SET SESSION AUTHORIZATION postgres", "permission denied to set session authorization"),
        ("SELECT * FROM tenant_pins", "permission denied"),
        ("COPY (SELECT 1) TO PROGRAM 'true'", "must be superuser or have privileges of the pg_execute_server_program"),
        ("CREATE ROLE intruder SUPERUSER", "must be superuser to create superusers"),
        ("CREATE ROLE intruder", "permission denied to create role"),
        ("ALTER TABLE wallet_links DISABLE ROW LEVEL SECURITY", "must be owner"),
        ("DROP POLICY tenant_isolation ON wallet_links", "must be owner"),
    ] {
        let err = in_tenant(&db, a, statement).await.expect_err(statement);
        assert!(err.contains(refusal), "{statement}: {err}");
    }

    // Moving the tenant: a second enter is refused; the setting changes nothing; RESET ROLE
    // gives back the same login. After each, the transaction still sees A's rows only.
    let mut tx = db.store.tenant(CommunityId(a)).await.expect("tenant tx");
    let err = sqlx::query("SELECT arrakis_enter_tenant($1)").bind(b).execute(tx.conn()).await.expect_err("re-enter");
    assert!(err.to_string().contains("already belongs to another community"), "{err}");
    drop(tx);
    let mut tx = db.store.tenant(CommunityId(a)).await.expect("tenant tx");
    sqlx::query("SELECT set_config('app.current_tenant', $1, true)")
        .bind(b.to_string())
        .execute(tx.conn())
        .await
        .expect("the setting can be written…");
    sqlx::query("RESET ROLE").execute(tx.conn()).await.expect("RESET ROLE runs");
    sqlx::query("SET ROLE NONE").execute(tx.conn()).await.expect("SET ROLE NONE runs");
    let (user, superuser): (String, bool) =
        sqlx::query_as("SELECT current_user::text, rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(tx.conn())
            .await
            .expect("who");
    assert_eq!((user.as_str(), superuser), ("arrakis_app", false), "RESET ROLE gives back the app login, no more");
    for (table, _) in TENANT_TABLES {
        assert_eq!(count(tx.conn(), table, None).await, 1, "{table}: …but A still sees exactly its own row");
        assert_eq!(count(tx.conn(), table, Some(b)).await, 0, "{table}: and none of B's");
    }
    let err = sqlx::query("INSERT INTO audit_logs (community_id, actor, action) VALUES ($1, 'x', 'y')")
        .bind(b)
        .execute(tx.conn())
        .await
        .expect_err("nor can it write for B");
    assert!(err.to_string().contains("row-level security"), "{err}");
}

#[tokio::test]
async fn the_logins_are_no_superusers_members_of_nothing_and_own_nothing() {
    let db = fresh_database().await;
    let mut admin = db.admin().await;
    let roles: Vec<(String, bool, bool, bool)> = sqlx::query_as(
        "SELECT rolname::text, rolsuper, rolcanlogin, rolbypassrls FROM pg_roles WHERE rolname LIKE 'arrakis%' ORDER BY 1",
    )
    .fetch_all(&mut admin)
    .await
    .expect("roles");
    let expected = [
        ("arrakis_app", false, true, false),
        ("arrakis_migrator", false, true, false),
        ("arrakis_owner", false, false, true),
        ("arrakis_service", false, true, true),
    ];
    let found: Vec<(&str, bool, bool, bool)> = roles.iter().map(|(n, s, l, b)| (n.as_str(), *s, *l, *b)).collect();
    assert_eq!(found, expected, "(role, superuser, login, bypass RLS)");
    let memberships: Vec<(String, String)> = sqlx::query_as(
        "SELECT g.rolname::text, m.rolname::text FROM pg_auth_members a
         JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
         WHERE g.rolname LIKE 'arrakis%' OR m.rolname LIKE 'arrakis%' ORDER BY 1, 2",
    )
    .fetch_all(&mut admin)
    .await
    .expect("memberships");
    assert_eq!(memberships, [("arrakis_owner".to_string(), "arrakis_migrator".to_string())]);
    let owners: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_userbyid(c.relowner)::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S', 'v') AND pg_get_userbyid(c.relowner) <> 'arrakis_owner'",
    )
    .fetch_all(&mut admin)
    .await
    .expect("owners");
    assert!(owners.is_empty(), "every table belongs to arrakis_owner: {owners:?}");
    let functions: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.proname::text, pg_get_userbyid(p.proowner)::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> 'arrakis_owner'",
    )
    .fetch_all(&mut admin)
    .await
    .expect("functions");
    assert!(functions.is_empty(), "every function belongs to arrakis_owner: {functions:?}");
}

#[tokio::test]
async fn a_key_that_could_clash_across_tenants_carries_the_tenant() {
    let db = fresh_database().await;
    let mut admin = db.admin().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    seed_community(&mut admin, a).await;
    seed_community(&mut admin, b).await;
    let insert_nonce = "INSERT INTO wallet_nonces (community_id, nonce, discord_user_id, address, expires_at, message)
                        VALUES ($1, 'the-same-nonce', 1, '0x' || repeat('1', 40), now(), 'sign me')";
    sqlx::query(insert_nonce).bind(b).execute(&mut admin).await.expect("B's nonce");
    let mut tx = db.store.tenant(CommunityId(a)).await.expect("tenant tx");
    sqlx::query(insert_nonce).bind(a).execute(tx.conn()).await.expect("A's equal nonce does not clash with B's");
    // The guild id is unique across communities, so the app cannot create a community at all:
    // a clash would name a guild another community holds.
    let (guild,): (i64,) = sqlx::query_as("SELECT guild_id FROM communities WHERE community_id = $1")
        .bind(b)
        .fetch_one(&mut admin)
        .await
        .expect("B");
    let err = sqlx::query("INSERT INTO communities (community_id, guild_id, name) VALUES ($1, $2, 'mine')")
        .bind(a)
        .bind(guild)
        .execute(tx.conn())
        .await
        .expect_err("the app creates no community");
    assert!(err.to_string().contains("permission denied") && !err.to_string().contains(&guild.to_string()), "{err}");
}

#[tokio::test]
async fn a_migration_stage_is_one_the_workflow_knows() {
    use arrakis_schemas::workflows::migration::MigrationStage::*;
    let db = fresh_database().await;
    let mut admin = db.admin().await;
    let a = Uuid::new_v4();
    seed_community(&mut admin, a).await;
    for stage in [CheckingReadiness, NotReady, Preparing, Migrating, Completed, RollingBack, RolledBack] {
        let update = format!("UPDATE migrations SET stage = '{}'", stage.as_str());
        assert_eq!(in_tenant(&db, a, &update).await, Ok(()), "{update}");
    }
    let refused = in_tenant(&db, a, "UPDATE migrations SET stage = 'sideways'").await;
    assert!(refused.as_ref().is_err_and(|e| e.contains("migrations_stage_known")), "{refused:?}");
}
