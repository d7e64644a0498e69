//! The manifest publish workflow end to end: started from the `temporal` CLI with JSON input
//! (the runbook's own lines), run by a real worker, rows read back from Postgres.

use arrakis_tests::{TestWorker, fresh_database, http_get, random_guild_id, run_runbook, wait_until};
use serde_json::{Value, json};
use std::time::Duration;

fn example_manifest(guild_id: &str) -> Value {
    let path = arrakis_tests::repo_root().join("schemas/examples/sietch-tabr.json");
    let mut manifest: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("example")).expect("json");
    manifest["guild_id"] = json!(guild_id);
    manifest
}

fn write_input(dir: &std::path::Path, name: &str, manifest: Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, json!({"manifest": manifest, "actor": "cli:test"}).to_string()).expect("write input");
    path.display().to_string()
}

fn run(snippet: &str, worker: &TestWorker, guild: &str, input: &str) -> (bool, String) {
    let out = run_runbook(
        snippet,
        &[("ARRAKIS_TASK_QUEUE", &worker.task_queue), ("GUILD_ID", guild), ("PUBLISH_INPUT", input)],
    );
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

async fn count(db: &arrakis_tests::TestDatabase, sql: &str, guild: &str) -> i64 {
    let mut admin = db.admin().await;
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(guild.parse::<i64>().expect("guild id"))
        .fetch_one(&mut admin)
        .await
        .expect("count query")
}

const MANIFESTS: &str =
    "SELECT count(*) FROM manifests m JOIN communities c USING (community_id) WHERE c.guild_id = $1";
const AUDITS: &str = "SELECT count(*) FROM audit_logs a JOIN communities c USING (community_id) WHERE c.guild_id = $1 AND a.action = 'manifest.saved'";
const COMMUNITIES: &str = "SELECT count(*) FROM communities WHERE guild_id = $1";

#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_published_from_the_cli_is_stored_with_its_audit_row() {
    let db = fresh_database().await;
    let worker = TestWorker::start(&db);
    let dir = tempdir();

    // The worker is healthy, serves the SDK's metrics, and shows on its task queue.
    let (code, body) = http_get(worker.http_addr, "/healthz").await.expect("healthz answers");
    assert_eq!(code, 200, "{body}");
    let (code, metrics) = http_get(worker.http_addr, "/metrics").await.expect("metrics answers");
    assert_eq!(code, 200);
    assert!(metrics.contains("temporal_"), "the SDK's metrics are relayed: {metrics:.300}");
    let described = wait_until(Duration::from_secs(30), "the worker to show in task-queue describe", || async {
        let (ok, text) = run("task-queue", &worker, "0", "");
        (ok && text.contains("arrakis-worker@")).then_some(text)
    })
    .await;
    assert!(described.contains("arrakis-worker@"), "{described}");

    // Publish through the runbook's CLI line.
    let guild = random_guild_id();
    let input = write_input(&dir, "good.json", example_manifest(&guild));
    let (ok, text) = run("publish", &worker, &guild, &input);
    assert!(ok, "publish failed: {text}");
    assert!(text.contains("COMPLETED") && text.contains("\"version\":1"), "{text}");
    assert_eq!(count(&db, MANIFESTS, &guild).await, 1);
    assert_eq!(count(&db, AUDITS, &guild).await, 1);

    let (ok, status) = run("publish-status", &worker, &guild, &input);
    assert!(ok && status.contains("\"stage\":\"saved\"") && status.contains("\"version\":1"), "{status}");
    let (ok, listed) = run("guild-runs", &worker, &guild, &input);
    assert!(ok && listed.contains("ManifestPublish"), "search attribute finds the run: {listed}");

    // The same content again: the existing version, nothing new written.
    let (ok, text) = run("publish", &worker, &guild, &input);
    assert!(ok && text.contains("\"created\":false") && text.contains("\"version\":1"), "{text}");
    assert_eq!(count(&db, MANIFESTS, &guild).await, 1);

    // A change: version 2.
    let mut changed = example_manifest(&guild);
    changed["name"] = json!("Sietch Tabr (renamed)");
    let input = write_input(&dir, "changed.json", changed);
    let (ok, text) = run("publish", &worker, &guild, &input);
    assert!(ok && text.contains("\"version\":2"), "{text}");
    assert_eq!(count(&db, MANIFESTS, &guild).await, 2);
    assert_eq!(count(&db, AUDITS, &guild).await, 2);

    // A change of mode sets the community's mode and is audited with from, to and who.
    let mut exclusive = example_manifest(&guild);
    exclusive["mode"] = json!("exclusive");
    let input = write_input(&dir, "exclusive.json", exclusive);
    let (ok, text) = run("publish", &worker, &guild, &input);
    assert!(ok && text.contains("\"version\":3"), "{text}");
    let mode_changes = "SELECT count(*) FROM audit_logs a JOIN communities c USING (community_id) WHERE c.guild_id = $1
        AND a.action = 'community.mode_changed' AND a.detail = '{\"from\": \"parallel\", \"to\": \"exclusive\", \"by\": \"cli:test\"}'
        AND c.mode = 'exclusive'";
    assert_eq!(count(&db, mode_changes, &guild).await, 1);

    worker.shutdown().expect("the worker drains cleanly");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_manifest_is_rejected_naming_the_field_and_nothing_is_written() {
    let db = fresh_database().await;
    let worker = TestWorker::start(&db);
    let dir = tempdir();
    let guild = random_guild_id();

    let mut bad = example_manifest(&guild);
    bad["roles"][1]["name"] = json!("x".repeat(101));
    let input = write_input(&dir, "bad.json", bad);
    let (ok, text) = run("publish", &worker, &guild, &input);
    assert!(!ok, "a bad manifest must fail the run: {text}");
    assert!(text.contains("roles[1].name: at most 100 characters"), "{text}");
    let (_, status) = run("publish-status", &worker, &guild, &input);
    assert!(status.contains("\"stage\":\"rejected\""), "{status}");

    // Malformed JSON (a string colour) fails the run cleanly too, naming the path.
    let mut malformed = example_manifest(&guild);
    malformed["roles"][0]["color"] = json!("gold");
    let input = write_input(&dir, "malformed.json", malformed);
    let (ok, text) = run("publish", &worker, &guild, &input);
    assert!(!ok && text.contains("manifest.roles[0].color"), "{text}");

    assert_eq!(count(&db, COMMUNITIES, &guild).await, 0, "nothing written for a rejected manifest");
    assert_eq!(count(&db, MANIFESTS, &guild).await, 0);
    worker.shutdown().expect("the worker drains cleanly");
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("arrakis-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
