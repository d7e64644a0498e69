//! A migration under faults, alone in its test binary because it restarts the Temporal dev
//! server every test shares: `kill -9` of the worker mid-gradual, a rollback mid-gradual from
//! the CLI, and a Temporal restart mid-rollback. Each ends in exactly the state the guild had
//! before the migration.

use arrakis_sim::Faults;
use arrakis_tests::{
    SynthesisStack,
    chain::ChainFixture,
    member_sync::held,
    migration::{backdate_shadow, roles, seed, shell, status},
    repo_root, run_shell,
    shadow::chains_file,
    wait_until, workflow_completed,
};
use serde_json::Value;
use std::{collections::BTreeSet, time::Duration};

async fn stage(stack: &SynthesisStack, guild: &str, want: &str, secs: u64) -> Value {
    wait_until(Duration::from_secs(secs), &format!("the migration to be {want}"), || async {
        let s = status(stack, guild);
        (s["stage"] == want).then_some(s)
    })
    .await
}

async fn snapshot(stack: &SynthesisStack, guild: u64) -> (BTreeSet<String>, BTreeSet<String>) {
    let state = stack.control.guild(guild).await.expect("state");
    let names = |items: &[Value]| items.iter().filter_map(|v| v["name"].as_str().map(str::to_string)).collect();
    (names(&state.roles), names(&state.channels))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gradual_migration_survives_kill_9_and_its_rollback_survives_a_temporal_restart() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = chains_file(500);
    let chains = chains.to_str().expect("path").to_string();
    let first = stack.worker_with(&[("ARRAKIS_CHAINS", chains.as_str())]);
    let g = seed(&stack, &chain, 200, 10).await;
    backdate_shadow(&stack, &g, 30, 100, 100).await;
    let (roles_before, channels_before) = snapshot(&stack, g.id()).await;
    let incumbent = [g.incumbent_holder, g.incumbent_whale];
    let members_before = held(&stack, &g.guild, &incumbent).await;
    let (ok, _, text) = shell(
        &stack,
        "migration-start",
        &g.guild,
        &[("STRATEGY", "gradual"), ("MIGRATION", r#""days": 2, "batches": 4, "seconds_per_day": 40"#)],
    );
    assert!(ok, "{text}");
    wait_until(Duration::from_secs(120), "the first batch", || async {
        (status(&stack, &g.guild)["moved_batches"].as_u64() >= Some(1)).then_some(())
    })
    .await;

    // kill -9 mid-gradual: the batch timer is durable, the next worker moves the next batch.
    first.kill();
    let second = stack.worker_with(&[("ARRAKIS_CHAINS", chains.as_str())]);
    wait_until(Duration::from_secs(120), "the batch after the kill", || async {
        (status(&stack, &g.guild)["moved_batches"].as_u64() >= Some(2)).then_some(())
    })
    .await;
    let holder = roles(&stack, g.id()).await["arrakis-holder"].0;
    wait_until(Duration::from_secs(60), "some members on arrakis-holder", || async {
        (!held(&stack, &g.guild, &[holder]).await.is_empty()).then_some(())
    })
    .await;

    // A rollback mid-gradual, from the CLI, with Discord slow so the restart lands mid-way.
    stack.control.set_faults(&Faults { latency_ms: 1_500, ..Faults::default() }).await.expect("faults");
    let (ok, _, text) = shell(&stack, "migration-rollback", &g.guild, &[("REASON", "drill")]);
    assert!(ok, "{text}");
    stage(&stack, &g.guild, "rolling_back", 30).await;
    let restart = run_shell(&format!("bash {}/scripts/dev restart-temporal", repo_root().display()), &[]);
    assert!(restart.status.success(), "{}", String::from_utf8_lossy(&restart.stderr));
    stack.control.set_faults(&Faults::default()).await.expect("faults");
    let back = stage(&stack, &g.guild, "rolled_back", 300).await;

    // Exactly what the guild had before.
    let steps: Vec<&str> =
        back["rollback"]["steps"].as_array().expect("steps").iter().filter_map(Value::as_str).collect();
    // Every compensation ran, then the reconcile schedule the rollback held was resumed.
    assert_eq!(steps.len(), back["compensations"].as_array().map_or(0, Vec::len) + 1, "every step ran: {back}");
    assert!(steps.last().is_some_and(|s| s.starts_with("resume the reconcile schedule: resumed")), "{steps:?}");
    assert!(steps.iter().all(|s| !s.contains("FAILED")), "{steps:?}");
    assert_eq!(snapshot(&stack, g.id()).await, (roles_before, channels_before), "the roles and channels of before");
    assert_eq!(held(&stack, &g.guild, &incumbent).await, members_before, "every member holds what they held");
    let mut admin = stack.db.admin().await;
    let (mode, open, finished): (String, i64, i64) = sqlx::query_as(
        "SELECT c.mode,
                (SELECT count(*) FROM migrations m WHERE m.community_id = c.community_id AND m.finished_at IS NULL),
                (SELECT count(*) FROM rollback_events r WHERE r.community_id = c.community_id AND r.finished_at IS NOT NULL)
         FROM communities c WHERE c.guild_id = $1",
    )
    .bind(g.id() as i64)
    .fetch_one(&mut admin)
    .await
    .expect("community");
    assert_eq!((mode.as_str(), open, finished), ("shadow", 0, 1));
    assert!(workflow_completed(&format!("member-sync-{}", g.guild)), "the sync the migration started is stopped");
    drop(second);
}
