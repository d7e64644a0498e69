//! The tenant pin against the attacks of #27, as the application login and as the service
//! login: a temporary table or view named `tenant_pins` (which the pin's SECURITY DEFINER
//! functions once found before the real one), a trigger planted on a pooled connection for the
//! next transaction, and a pin undone by a savepoint. Each attack is played to its end where
//! the database lets it; what must hold afterwards is checked from outside: the transaction saw
//! none of the other community's rows, and the schema's policies, row-level security and grants
//! are as the migrations left them. A lint of the catalogue keeps the next migration from
//! bringing the hole back.

use arrakis_activities::CommunityId;
use arrakis_tests::{TestDatabase, fresh_database};
use sqlx::{Connection, PgConnection, Row};
use uuid::Uuid;

/// Two communities, each with one wallet link.
async fn two_communities() -> (TestDatabase, Uuid, Uuid) {
    let db = fresh_database().await;
    let mut admin = db.admin().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    for (i, id) in [a, b].into_iter().enumerate() {
        sqlx::query("INSERT INTO communities (community_id, guild_id, name) VALUES ($1, $2, 'seed')")
            .bind(id)
            .bind(4_000 + i as i64)
            .execute(&mut admin)
            .await
            .expect("community");
        sqlx::query("INSERT INTO wallet_links (community_id, discord_user_id, address) VALUES ($1, 7, $2)")
            .bind(id)
            .bind(format!("0x{}", "1".repeat(40)))
            .execute(&mut admin)
            .await
            .expect("wallet link");
    }
    (db, a, b)
}

/// The schema's guard rails as the catalogue states them: every policy's expression, whether
/// each table enforces row-level security, and every table grant to a login.
async fn guard_rails(db: &TestDatabase) -> Vec<String> {
    let mut admin = db.admin().await;
    let rows = sqlx::query(
        "SELECT format('policy %s.%s: %s / %s', tablename, policyname, qual, with_check) FROM pg_policies
         WHERE schemaname = 'public'
         UNION ALL
         SELECT format('table %s: rls %s forced %s', c.relname, c.relrowsecurity, c.relforcerowsecurity)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'
         UNION ALL
         SELECT format('grant %s %s %s', table_name, grantee, privilege_type) FROM information_schema.role_table_grants
         WHERE table_schema = 'public' AND grantee IN ('arrakis_app', 'arrakis_service', 'PUBLIC')
         ORDER BY 1",
    )
    .fetch_all(&mut admin)
    .await
    .expect("catalogue");
    rows.iter().map(|r| r.get::<String, _>(0)).collect()
}

/// Runs `statements` in order on `conn` until one fails: the failure, if any.
async fn play(conn: &mut PgConnection, statements: &[String]) -> Result<(), String> {
    for statement in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.clone())).execute(&mut *conn).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// How many of `community`'s wallet links `conn` sees.
async fn visible(conn: &mut PgConnection, community: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM wallet_links WHERE community_id = $1")
        .bind(community)
        .fetch_one(conn)
        .await
        .expect("count")
}

/// A refusal the database gives for an attack that cannot start.
fn refused(error: &str) -> bool {
    error.contains("permission denied") || error.contains("pins its community before anything else")
}

/// A temp table named `tenant_pins` that says the transaction is B's.
fn forged_pin_table(b: Uuid) -> Vec<String> {
    vec![
        format!(
            "CREATE TEMP TABLE tenant_pins AS SELECT pg_backend_pid() AS backend_pid, pg_current_xact_id() AS xact, \
             '{b}'::uuid AS tenant"
        ),
        "GRANT SELECT ON pg_temp.tenant_pins TO PUBLIC".into(),
    ]
}

/// A temp view named `tenant_pins` whose tenant column calls a pg_temp function that, run as
/// the schema's owner, opens the policies, turns row-level security off and grants DELETE.
fn owner_code_view() -> Vec<String> {
    vec![
        "CREATE FUNCTION pg_temp.escalate() RETURNS uuid LANGUAGE plpgsql AS $f$ BEGIN
             EXECUTE 'ALTER POLICY tenant_isolation ON public.wallet_links USING (true) WITH CHECK (true)';
             EXECUTE 'ALTER TABLE public.audit_logs DISABLE ROW LEVEL SECURITY';
             EXECUTE 'GRANT DELETE ON public.communities TO arrakis_app, arrakis_service';
             RETURN NULL; END $f$"
            .into(),
        "CREATE TEMP VIEW tenant_pins AS SELECT pg_backend_pid() AS backend_pid, pg_current_xact_id() AS xact, \
         pg_temp.escalate() AS tenant"
            .into(),
        "GRANT SELECT ON pg_temp.tenant_pins TO PUBLIC".into(),
    ]
}

#[tokio::test]
async fn a_temp_table_named_tenant_pins_cannot_choose_the_community() {
    let (db, a, b) = two_communities().await;
    let mut conn = db.connect_as("arrakis_app").await;
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SELECT arrakis_enter_tenant($1)").bind(a).execute(&mut *tx).await.expect("pin A");
    match play(&mut tx, &forged_pin_table(b)).await {
        Ok(()) => {
            assert_eq!(visible(&mut tx, b).await, 0, "a temp table moved the pin to B");
            assert_eq!(visible(&mut tx, a).await, 1, "the pin is still A's");
        }
        Err(e) => assert!(refused(&e), "refused for the right reason: {e}"),
    }
    drop(tx);

    // The service login cannot plant one for the pin's readers either.
    let mut service = db.connect_as("arrakis_service").await;
    let planted = play(&mut service, &forged_pin_table(b)).await;
    assert!(planted.as_ref().is_err_and(|e| refused(e)), "{planted:?}");
}

#[tokio::test]
async fn a_temp_view_named_tenant_pins_runs_no_code_as_the_schema_owner() {
    let (db, a, _) = two_communities().await;
    let before = guard_rails(&db).await;

    // As the application login, through the pin and through a policy.
    let mut app = db.connect_as("arrakis_app").await;
    if let Err(e) = play(&mut app, &owner_code_view()).await {
        assert!(refused(&e), "{e}");
    }
    let mut tx = app.begin().await.expect("begin");
    let _ = sqlx::query("SELECT arrakis_enter_tenant($1)").bind(a).execute(&mut *tx).await;
    drop(tx);
    let mut tx = app.begin().await.expect("begin");
    let _ = sqlx::query("SELECT count(*) FROM wallet_links").execute(&mut *tx).await;
    drop(tx);
    // Whatever ran holds no lock that what follows would wait on.
    let _ = app.close().await;

    // As the service login, through arrakis_current_tenant().
    let mut service = db.connect_as("arrakis_service").await;
    if let Err(e) = play(&mut service, &owner_code_view()).await {
        assert!(refused(&e), "{e}");
    }
    let call = sqlx::query("SELECT arrakis_current_tenant()").execute(&mut service).await;
    let _ = service.close().await;
    assert_eq!(guard_rails(&db).await, before, "policies, row-level security and grants are unchanged");
    assert!(call.as_ref().is_err_and(|e| e.to_string().contains("permission denied")), "{call:?}");
}

/// A tenant transaction of `community` on the pooled connection whose backend is `pid`: the
/// pool's other connections are held open meanwhile, so it has to hand that one out.
async fn on_backend(store: &arrakis_activities::Store, community: Uuid, pid: i32) -> arrakis_activities::TenantTx {
    let mut others = Vec::new();
    for _ in 0..10 {
        let mut tx = store.tenant(CommunityId(community)).await.expect("tenant tx");
        let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(tx.conn()).await.expect("pid");
        if backend == pid {
            return tx;
        }
        others.push(tx);
    }
    panic!("the pool never handed back backend {pid}");
}

#[tokio::test]
async fn nothing_planted_on_a_pooled_connection_reaches_the_next_transaction() {
    let (db, a, b) = two_communities().await;
    let store = &db.store;

    // A trigger on a planted tenant_pins that re-pins every later entry to B.
    let plant = [
        "CREATE TEMP TABLE tenant_pins (backend_pid integer PRIMARY KEY, xact xid8, tenant uuid)".to_string(),
        "GRANT ALL ON pg_temp.tenant_pins TO PUBLIC".into(),
        format!(
            "CREATE FUNCTION pg_temp.repin() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN \
             NEW.tenant := '{b}'::uuid; RETURN NEW; END $f$"
        ),
        "CREATE TRIGGER repin BEFORE INSERT OR UPDATE ON pg_temp.tenant_pins FOR EACH ROW EXECUTE FUNCTION pg_temp.repin()"
            .into(),
    ];
    let mut tx = store.tenant(CommunityId(a)).await.expect("tenant tx");
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(tx.conn()).await.expect("pid");
    match play(tx.conn(), &plant).await {
        Ok(()) => tx.commit().await.expect("commit the plant"),
        Err(e) => {
            assert!(refused(&e), "{e}");
            drop(tx);
        }
    }
    // Something every login may leave in its session: a setting and a prepared statement.
    let mut tx = on_backend(store, a, pid).await;
    play(tx.conn(), &["SET SESSION app.planted = 'yes'".into(), "PREPARE planted AS SELECT 1".into()])
        .await
        .expect("session state");
    tx.commit().await.expect("commit");

    // An innocent transaction of A on the same pooled connection.
    let mut tx = on_backend(store, a, pid).await;
    assert_eq!(visible(tx.conn(), b).await, 0, "the planted trigger re-pinned A's transaction to B");
    assert_eq!(visible(tx.conn(), a).await, 1, "A's transaction sees A's row");
    let setting: String = sqlx::query_scalar("SELECT coalesce(current_setting('app.planted', true), '')")
        .fetch_one(tx.conn())
        .await
        .expect("setting");
    assert_eq!(setting, "", "a session setting survived its connection's return to the pool");
    let prepared: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_prepared_statements WHERE name = 'planted'")
        .fetch_one(tx.conn())
        .await
        .expect("prepared");
    assert_eq!(prepared, 0, "a prepared statement survived its connection's return to the pool");
    drop(tx);

    // The service login plants nothing either.
    let mut service = db.connect_as("arrakis_service").await;
    let planted = play(&mut service, &plant).await;
    assert!(planted.as_ref().is_err_and(|e| refused(e)), "{planted:?}");
}

#[tokio::test]
async fn a_pin_rolled_back_to_a_savepoint_cannot_be_replaced_by_another() {
    let (db, a, b) = two_communities().await;
    let mut conn = db.connect_as("arrakis_app").await;
    let mut tx = conn.begin().await.expect("begin");
    let steps = [
        "SAVEPOINT before_pin".to_string(),
        format!("SELECT arrakis_enter_tenant('{a}')"),
        "ROLLBACK TO SAVEPOINT before_pin".into(),
        format!("SELECT arrakis_enter_tenant('{b}')"),
    ];
    match play(&mut tx, &steps).await {
        Ok(()) => panic!(
            "a transaction pinned A, rolled the pin back and pinned B (sees {} of B's rows)",
            visible(&mut tx, b).await
        ),
        Err(e) => assert!(e.contains("pins its community before anything else"), "{e}"),
    }
    drop(tx);
    // The same without the savepoint, after a write: refused too (the pin comes first).
    let mut tx = conn.begin().await.expect("begin");
    let late =
        play(&mut tx, &["SELECT pg_current_xact_id()".into(), format!("SELECT arrakis_enter_tenant('{a}')")]).await;
    assert!(late.as_ref().is_err_and(|e| e.contains("pins its community before anything else")), "{late:?}");
    drop(tx);
    // A pin at the top survives a savepoint rolled back after it, and still refuses B.
    let mut tx = conn.begin().await.expect("begin");
    let kept = [
        format!("SELECT arrakis_enter_tenant('{a}')"),
        "SAVEPOINT later".into(),
        format!("SELECT arrakis_enter_tenant('{a}')"),
        "ROLLBACK TO SAVEPOINT later".into(),
    ];
    play(&mut tx, &kept).await.expect("pin, savepoint, same pin, rollback");
    assert_eq!(visible(&mut tx, a).await, 1, "still A's");
    let moved = play(&mut tx, &[format!("SELECT arrakis_enter_tenant('{b}')")]).await;
    assert!(moved.as_ref().is_err_and(|e| e.contains("already belongs to another community")), "{moved:?}");
    drop(tx);

    // The service login may not pin at all.
    let mut service = db.connect_as("arrakis_service").await;
    let pinned = play(&mut service, &[format!("SELECT arrakis_enter_tenant('{a}')")]).await;
    assert!(pinned.as_ref().is_err_and(|e| e.contains("permission denied")), "{pinned:?}");
}

#[tokio::test]
async fn the_catalogue_has_no_unsafe_definer_function_and_no_temporary_privilege() {
    let db = fresh_database().await;
    let mut admin = db.admin().await;
    // Every SECURITY DEFINER function of the schema: its search_path setting and who may run it.
    let functions: Vec<(String, Option<String>, bool)> = sqlx::query_as(
        "SELECT p.oid::regprocedure::text,
                (SELECT substr(c, length('search_path=') + 1) FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%'),
                has_function_privilege('public', p.oid, 'EXECUTE')
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public' AND p.prosecdef ORDER BY 1",
    )
    .fetch_all(&mut admin)
    .await
    .expect("pg_proc");
    assert!(functions.len() >= 2, "the pin's two functions are SECURITY DEFINER: {functions:?}");
    for (function, search_path, public_execute) in &functions {
        let path =
            search_path.as_deref().unwrap_or_else(|| panic!("{function}: SECURITY DEFINER without SET search_path"));
        let last = path.rsplit(',').next().unwrap_or_default().trim().trim_matches('"');
        assert!(
            path.trim().is_empty() || path.trim() == "\"\"" || last == "pg_temp",
            "{function}: search_path '{path}' must end in pg_temp (or be empty), or a session's temp objects come first"
        );
        assert!(!public_execute, "{function}: EXECUTE is granted to PUBLIC");
    }
    // Their bodies name the pin table with its schema.
    let bodies: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.proname::text, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public' AND p.prosecdef",
    )
    .fetch_all(&mut admin)
    .await
    .expect("bodies");
    for (function, body) in &bodies {
        let unqualified = body.match_indices("tenant_pins").any(|(i, _)| !body[..i].ends_with("public."));
        assert!(!unqualified, "{function}: names tenant_pins without its schema");
    }
    // No login may create temporary objects in this database.
    for login in ["arrakis_app", "arrakis_service", "arrakis_migrator"] {
        let may: bool = sqlx::query_scalar("SELECT has_database_privilege($1, current_database(), 'TEMPORARY')")
            .bind(login)
            .fetch_one(&mut admin)
            .await
            .expect("privilege");
        assert!(!may, "{login} may create temporary objects");
    }
}
