//! Migration against the real stack (anvil, Postgres, Redis, Temporal) and the stand-in at
//! Discord's limits: shadow → parallel → members moved over → primary, never touching the
//! incumbent's roles; readiness refused and overridden; a rollback by itself when members lose
//! access; and a one-click rollback from the slash command, the button and the CLI (the last
//! in `migration_faults.rs`, under a killed worker and a Temporal restart).

use arrakis_sim::LogEntry;
use arrakis_tests::{
    SynthesisStack,
    chain::ChainFixture,
    member_sync::{held, keep_mining, link_wallets, spice},
    migration::{HOLDER_BLUE, MigrationGuild, backdate_shadow, moved, roles, seed, shell, status},
    operator::Operator,
    run_shell,
    shadow::chains_file,
    wait_until,
};
use serde_json::Value;
use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

const OPERATOR: u64 = 700_000_000_000_000_042;

async fn stage(stack: &SynthesisStack, guild: &str, want: &str, secs: u64) -> Value {
    wait_until(Duration::from_secs(secs), &format!("the migration to be {want}"), || async {
        let s = status(stack, guild);
        (s["stage"] == want).then_some(s)
    })
    .await
}

fn start(stack: &SynthesisStack, guild: &str, strategy: &str, rest: &str) {
    let (ok, _, text) = shell(stack, "migration-start", guild, &[("STRATEGY", strategy), ("MIGRATION", rest)]);
    assert!(ok, "{text}");
}

/// (member, role) pairs of `users` holding `role`.
fn pairs(users: &BTreeSet<u64>, role: u64) -> BTreeSet<(u64, u64)> {
    users.iter().map(|u| (*u, role)).collect()
}

/// Nothing Arrakis sent names one of the incumbent's roles: not a member edit, not a role
/// edit, not a position move.
fn assert_incumbent_untouched(log: &[LogEntry], g: &MigrationGuild) {
    for id in [g.incumbent_bot_role, g.incumbent_holder, g.incumbent_whale] {
        let id = id.to_string();
        for e in log {
            assert!(!e.path.contains(&id), "{} {} touches the incumbent's role {id}", e.method, e.path);
            assert!(
                !e.body.to_string().contains(&id),
                "{} {} names the incumbent's role {id}: {}",
                e.method,
                e.path,
                e.body
            );
        }
    }
}

fn arrakis_roles(all: &BTreeMap<String, (u64, i64, String)>) -> Vec<String> {
    all.keys().filter(|n| n.starts_with("arrakis-")).cloned().collect()
}

async fn community_mode(stack: &SynthesisStack, g: &MigrationGuild) -> String {
    let mut admin = stack.db.admin().await;
    let (mode,): (String,) = sqlx::query_as("SELECT mode FROM communities WHERE guild_id = $1")
        .bind(g.id() as i64)
        .fetch_one(&mut admin)
        .await
        .expect("community");
    mode
}

/// Waits for a message in `channel` containing `text`.
async fn posted(stack: &SynthesisStack, channel: u64, text: &str) {
    wait_until(Duration::from_secs(30), &format!("a message saying {text:?}"), || async {
        let all = stack.control.channel_messages(channel).await.expect("messages");
        all.iter().any(|m| m["content"].as_str().is_some_and(|c| c.contains(text))).then_some(())
    })
    .await
}

/// Each member's name colour: the colour of their highest role that has one (0: none).
async fn name_colours(stack: &SynthesisStack, g: &MigrationGuild) -> BTreeMap<u64, u64> {
    let state = stack.control.guild(g.id()).await.expect("state");
    let coloured: Vec<(u64, i64, u64)> = state
        .roles
        .iter()
        .filter_map(|r| Some((r["id"].as_str()?.parse().ok()?, r["position"].as_i64()?, r["color"].as_u64()?)))
        .filter(|(_, _, colour)| *colour > 0)
        .collect();
    let members = stack.control.member_roles(g.id()).await.expect("member roles");
    members
        .into_iter()
        .map(|(user, held)| {
            let top = coloured.iter().filter(|(id, _, _)| held.contains(id)).max_by_key(|(_, position, _)| *position);
            (user, top.map_or(0, |(_, _, colour)| *colour))
        })
        .collect()
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guild_goes_from_shadow_through_parallel_and_a_gradual_migration_to_primary_and_back() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = chains_file(500);
    let worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", chains.to_str().expect("path"))]);
    let gateway = stack.gateway().await;
    // 1,000 members, 50 of them holders; Collab.Land has gated Holder for them.
    let g = seed(&stack, &chain, 1_000, 20).await;
    backdate_shadow(&stack, &g, 20, 200, 196).await;
    let incumbent_roles = [g.incumbent_holder, g.incumbent_whale];
    let incumbent_before = held(&stack, &g.guild, &incumbent_roles).await;
    assert_eq!(incumbent_before, pairs(&g.holders, g.incumbent_holder));
    let log_start = stack.control.log(0).await.expect("log").len();
    let colours_before = name_colours(&stack, &g).await;
    assert_eq!(colours_before.values().filter(|c| **c == u64::from(HOLDER_BLUE)).count(), g.holders.len());
    // Two (shortened) days of 40 s in four batches: one every 20 s.
    start(&stack, &g.guild, "gradual", r#""days": 2, "batches": 4, "seconds_per_day": 40, "watch_secs": 600"#);

    // Parallel: Arrakis's own roles below every other role (the incumbent's, the operator's
    // Moderator), in manifest order, with no permissions and no colour.
    let parallel = wait_until(Duration::from_secs(120), "the arrakis-* roles in place", || async {
        let all = roles(&stack, g.id()).await;
        let others = all.iter().filter(|(n, _)| !n.starts_with("arrakis-") && *n != "@everyone");
        let lowest_other = others.map(|(_, r)| r.1).min()?;
        let ours_top = all.iter().filter(|(n, _)| n.starts_with("arrakis-")).map(|(_, r)| r.1).max()?;
        let order = ["arrakis-holder", "arrakis-whale", "arrakis-conviction-lounge", "arrakis-diamond-hands"];
        let positions: Vec<i64> = order.iter().map(|n| all.get(*n).map(|r| r.1)).collect::<Option<_>>()?;
        let in_order = positions.windows(2).all(|w| w[0] > w[1]);
        (in_order && ours_top < lowest_other).then_some(all)
    })
    .await;
    let ours = arrakis_roles(&parallel);
    assert_eq!(ours, ["arrakis-conviction-lounge", "arrakis-diamond-hands", "arrakis-holder", "arrakis-whale"]);
    for name in &ours {
        let (_, position, permissions) = &parallel[name];
        assert!(*position < parallel["Moderator"].1, "{name} at {position} sits below the operator's Moderator");
        assert_eq!(permissions, "0", "{name} carries no permissions");
    }
    let holder = parallel["arrakis-holder"].0;
    let state = stack.control.guild(g.id()).await.expect("state");
    let channels: BTreeSet<&str> = state.channels.iter().filter_map(|c| c["name"].as_str()).collect();
    assert!(channels.contains("conviction-lounge") && channels.contains("diamond-hands"), "{channels:?}");

    // Members get the role batch by batch; hold after the second to look.
    wait_until(Duration::from_secs(120), "the second batch", || async {
        (status(&stack, &g.guild)["moved_batches"].as_u64() >= Some(2)).then_some(())
    })
    .await;
    let (ok, _, text) = shell(&stack, "migration-pause", &g.guild, &[]);
    assert!(ok, "{text}");
    let paused = status(&stack, &g.guild);
    assert_eq!(paused["paused"], true, "{paused}");
    // A report member sync could not have sent (or none at all) is dropped; the run answers on.
    arrakis_tests::send_garbage(&format!("migration-{}", g.guild), "access_report");
    let after_garbage = status(&stack, &g.guild);
    assert_eq!((&after_garbage["paused"], &after_garbage["stage"]), (&Value::Bool(true), &paused["stage"]));
    let batches_moved = paused["moved_batches"].as_u64().expect("moved") as u32;
    assert!(batches_moved < 4, "paused before the last batch: {paused}");
    let expected = pairs(&moved(&g.holders, 4, batches_moved), holder);
    assert!(
        !expected.is_empty() && expected.len() < g.holders.len(),
        "some members moved, not all: {}",
        expected.len()
    );
    wait_until(Duration::from_secs(120), "the moved batches' roles", || async {
        (held(&stack, &g.guild, &[holder]).await == expected).then_some(())
    })
    .await;
    // Holding arrakis-holder changes no member's name colour: still the incumbent's blue.
    assert_eq!(name_colours(&stack, &g).await, colours_before, "no member's highest coloured role changed");

    // A member who joins now is moved at once, though their batch has not come.
    let newcomer = (1..)
        .map(|n| 300_000_000_000_900_000 + n)
        .find(|u| moved(&BTreeSet::from([*u]), 4, 3).is_empty())
        .expect("an id in the last batch");
    let joins = arrakis_sim::MemberSeed { id: Some(newcomer), ..arrakis_sim::MemberSeed::default() };
    stack
        .control
        .seed_members(g.id(), &arrakis_sim::MembersSeed { members: vec![joins], generate: None })
        .await
        .expect("joins");
    let wallet = arrakis_tests::chain::random_wallet();
    link_wallets(&stack, g.id(), &BTreeMap::from([(newcomer, wallet)])).await;
    chain.mint_erc20(wallet, spice(150)).await;
    let (ok, _, text) = arrakis_tests::member_sync::shell(&stack, "member-sync-now", &g.guild, &[]);
    assert!(ok, "{text}");
    wait_until(Duration::from_secs(60), "the newcomer's role", || async {
        held(&stack, &g.guild, &[holder]).await.contains(&(newcomer, holder)).then_some(())
    })
    .await;

    // Paused, the next batch waits past its time.
    let due = paused["next_batch_at_ms"].as_u64().expect("a next batch");
    wait_until(Duration::from_secs(60), "the next batch's time to pass", || async {
        (now_ms() > due + 2_000).then_some(())
    })
    .await;
    let still = status(&stack, &g.guild);
    assert_eq!(still["moved_batches"].as_u64(), Some(u64::from(batches_moved)), "held by the pause: {still}");
    let (moved_now, remaining) = (still["members_moved"].as_u64(), still["members_remaining"].as_u64());
    assert!(moved_now > Some(0) && remaining > Some(0), "progress: {still}");

    let (ok, _, text) = shell(&stack, "migration-resume", &g.guild, &[]);
    assert!(ok, "{text}");
    let done = stage(&stack, &g.guild, "completed", 180).await;
    assert_eq!((done["mode"].as_str(), done["moved_batches"].as_u64()), (Some("primary"), Some(4)), "{done}");
    let everyone: BTreeSet<u64> = g.holders.iter().copied().chain([newcomer]).collect();
    wait_until(Duration::from_secs(120), "every holder's role", || async {
        (held(&stack, &g.guild, &[holder]).await == pairs(&everyone, holder)).then_some(())
    })
    .await;
    assert_eq!(community_mode(&stack, &g).await, "primary");
    let (ok, _, events) =
        shell(&stack, "migration-events", &g.guild, &[("ARRAKIS_SERVICE_DATABASE_URL", stack.db.service_url.as_str())]);
    assert!(ok, "{events}");
    for (from, to) in [("shadow", "parallel"), ("parallel", "primary")] {
        let parts = [format!(r#""from": "{from}""#), format!(r#""to": "{to}""#), r#""by": "cli:tester""#.to_string()];
        assert!(
            events.lines().any(|l| l.contains("community.mode_changed") && parts.iter().all(|p| l.contains(p))),
            "{from} → {to} by cli:tester in\n{events}"
        );
    }

    // The incumbent's roles were never touched, and its members keep them.
    let log = stack.control.log(0).await.expect("log");
    assert_incumbent_untouched(&log[log_start..], &g);
    assert_eq!(held(&stack, &g.guild, &incumbent_roles).await, incumbent_before);

    // The way back, from the slash command: the roles go in one request each, not per member.
    let before_rollback = stack.control.log(0).await.expect("log").len();
    let operator = Operator::admin(stack.control.clone(), g.id(), OPERATOR, Some(g.operator_channel));
    let answer = operator.command("rollback", &[("reason", "testing the way back")]).await.expect("answer");
    assert!(answer.content().contains("Rolling back"), "{}", answer.content());
    let back = stage(&stack, &g.guild, "rolled_back", 120).await;
    assert_eq!(back["rollback"]["by"], format!("discord:{OPERATOR}"), "{back}");
    assert_eq!(back["rollback"]["automatic"], false);
    assert!(arrakis_roles(&roles(&stack, g.id()).await).is_empty(), "every arrakis-* role is gone");
    let state = stack.control.guild(g.id()).await.expect("state");
    let channels: BTreeSet<&str> = state.channels.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(
        channels,
        BTreeSet::from(["arrakis-admin", "collabland-join", "holders-lounge"]),
        "only what was before"
    );
    assert_eq!(community_mode(&stack, &g).await, "shadow");
    assert_eq!(held(&stack, &g.guild, &incumbent_roles).await, incumbent_before, "the incumbent's members keep theirs");
    let log = stack.control.log(0).await.expect("log");
    let rollback = &log[before_rollback..];
    assert_incumbent_untouched(rollback, &g);
    let role_deletes =
        rollback.iter().filter(|e| e.method == "DELETE" && e.route == "/guilds/{guild_id}/roles/{role_id}");
    assert_eq!(role_deletes.count(), 4, "one request per role");
    assert!(
        !rollback.iter().any(|e| e.route.contains("/members/")),
        "no member is edited one by one: deleting a role takes it from everyone"
    );
    let status_text = operator.command("status", &[]).await.expect("status").content();
    assert!(status_text.contains("Migration: rolled back (gradual)"), "{status_text}");
    // The community is back in shadow, and the sync the migration started is stopped: its
    // last lines ("in sync", writes waiting) are not shown as if it still ran.
    assert!(status_text.contains("Mode: shadow\n"), "{status_text}");
    assert!(status_text.contains("Member roles: stopped"), "{status_text}");
    assert!(!status_text.contains("Member roles: in sync"), "{status_text}");
    assert!(!status_text.contains("deployed in shadow mode; the community has moved"), "{status_text}");
    let (ok, _, events) =
        shell(&stack, "migration-events", &g.guild, &[("ARRAKIS_SERVICE_DATABASE_URL", stack.db.service_url.as_str())]);
    assert!(ok, "{events}");
    for action in [
        "migration.rollback_started",
        "migration.rollback.stop_member_sync",
        "migration.rollback.remove_arrakis_objects",
        "migration.rollback.restore_manifest",
        "migration.rolled_back",
    ] {
        let rows = events.lines().filter(|l| l.contains(&format!(" {action} "))).count();
        assert_eq!(rows, 1, "one audit row {action} in\n{events}");
    }
    posted(&stack, g.operator_channel, "Migration rolled back").await;
    // After all that (chains read, roles written, a rollback from a slash command), the
    // operator's dashboard has every series it charts, and both pages lint clean.
    let worker_page = arrakis_tests::http_get(worker.http_addr, "/metrics").await.expect("worker /metrics").1;
    arrakis_tests::assert_metrics_pages(&worker_page, &gateway.metrics().await);
    let (worker_addr, gateway_addr) = (worker.http_addr.to_string(), gateway.http_addr.to_string());
    let lint = [("ARRAKIS_HTTP_ADDR", worker_addr.as_str()), ("ARRAKIS_GATEWAY_HTTP_ADDR", gateway_addr.as_str())];
    let (ok, _, text) = shell(&stack, "metrics-lint", &g.guild, &lint);
    assert!(ok, "{text}");
    worker.shutdown().expect("drains");
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_below_95_percent_refuses_the_audited_override_proceeds_and_the_button_rolls_back() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = chains_file(500);
    let worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", chains.to_str().expect("path"))]);
    let _gateway = stack.gateway().await;
    let g = seed(&stack, &chain, 30, 3).await;
    backdate_shadow(&stack, &g, 20, 100, 90).await;
    let log_start = stack.control.log(0).await.expect("log").len();

    // Not ready: the reason is shown and nothing changes.
    start(&stack, &g.guild, "instant", r#""channels": "none""#);
    let refused = stage(&stack, &g.guild, "not_ready", 60).await;
    let reasons = refused["readiness"]["reasons"].to_string();
    assert!(reasons.contains("accuracy 90.0 % over 100 checked predictions; 95 % is needed"), "{refused}");
    let log = stack.control.log(0).await.expect("log");
    let changes: Vec<&LogEntry> =
        log[log_start..].iter().filter(|e| e.route != "/channels/{channel_id}/messages").collect();
    assert!(changes.is_empty(), "a refused migration changes nothing: {changes:?}");
    posted(&stack, g.operator_channel, "Migration not started").await;
    assert!(arrakis_roles(&roles(&stack, g.id()).await).is_empty());

    // `/arrakis migrate` shows readiness first, and offers the override only with a reason.
    let operator = Operator::admin(stack.control.clone(), g.id(), OPERATOR, Some(g.operator_channel));
    let panel = operator.command("migrate", &[]).await.expect("panel");
    assert!(panel.content().contains("Not ready yet"), "{}", panel.content());
    assert!(panel.offers("mig:strategy") && panel.offers("mig:force:gradual:7"), "{:?}", panel.custom_ids());
    let instant = operator.select("mig:strategy", &["instant"]).await.expect("select");
    assert!(matches!(instant.kind(), 7 | 6), "the panel is updated in place (or deferred, then edited)");
    assert!(instant.offers("mig:force:instant:7") && !instant.offers("mig:days:instant"), "{:?}", instant.custom_ids());
    let modal = operator.press("mig:force:instant:7").await.expect("modal");
    assert_eq!(modal.kind(), 9, "a modal asks why");
    let why = "the incumbent mislabels whales; we checked by hand";
    let started = operator.submit("mig:forced:instant:7", &[("reason", why)]).await.expect("started");
    assert!(started.content().contains("Migration started"), "{}", started.content());
    let done = stage(&stack, &g.guild, "completed", 180).await;
    assert_eq!(done["forced"]["reason"], why, "the override shows in the status: {done}");
    let holder = roles(&stack, g.id()).await["arrakis-holder"].0;
    wait_until(Duration::from_secs(60), "the holders' roles", || async {
        (held(&stack, &g.guild, &[holder]).await == pairs(&g.holders, holder)).then_some(())
    })
    .await;
    let (ok, _, events) =
        shell(&stack, "migration-events", &g.guild, &[("ARRAKIS_SERVICE_DATABASE_URL", stack.db.service_url.as_str())]);
    assert!(ok, "{events}");
    assert!(
        events
            .lines()
            .any(|l| l.contains("migration.readiness_overridden") && l.contains(&format!("discord:{OPERATOR}"))),
        "the override is audited with who: {events}"
    );
    let status_text = operator.command("status", &[]).await.expect("status").content();
    assert!(status_text.contains(&format!("Readiness overridden: {why}")), "{status_text}");

    // One click: the Rollback button under the completion message, and its reason.
    posted(&stack, g.operator_channel, "Migration complete").await;
    let all = stack.control.channel_messages(g.operator_channel).await.expect("messages");
    let complete = all
        .iter()
        .find(|m| m["content"].as_str().is_some_and(|c| c.contains("Migration complete")))
        .expect("the completion message");
    assert!(arrakis_sim::custom_ids(complete).contains(&"mig:rollback".to_string()));
    let modal = operator.press("mig:rollback").await.expect("modal");
    assert_eq!(modal.kind(), 9);
    let answer =
        operator.submit("mig:rollback", &[("reason", "members asked for the old roles")]).await.expect("answer");
    assert!(answer.content().contains("Rolling back"), "{}", answer.content());
    let back = stage(&stack, &g.guild, "rolled_back", 120).await;
    assert_eq!(back["rollback"]["reason"], "members asked for the old roles");
    assert!(arrakis_roles(&roles(&stack, g.id()).await).is_empty());
    assert_eq!(community_mode(&stack, &g).await, "shadow");
    worker.shutdown().expect("drains");
}

#[tokio::test(flavor = "multi_thread")]
async fn members_losing_access_roll_the_migration_back_by_itself() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = chains_file(500);
    let worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", chains.to_str().expect("path"))]);
    let g = seed(&stack, &chain, 400, 10).await;
    backdate_shadow(&stack, &g, 20, 100, 100).await;
    let incumbent_before = held(&stack, &g.guild, &[g.incumbent_holder]).await;
    let _miner = keep_mining(Duration::from_secs(1));
    // Member sync runs already (in shadow mode it writes nothing); the breaker is out of the
    // way so the loss is measured as access, not held.
    let settings = r#"{"revoke_confirm_secs": 2, "watch_interval_ms": 500, "max_revoke_fraction": 1.0, "sweep_interval_secs": 3600}"#;
    let (ok, _, text) =
        arrakis_tests::member_sync::shell(&stack, "member-sync-start", &g.guild, &[("SETTINGS", settings)]);
    assert!(ok, "{text}");
    start(&stack, &g.guild, "parallel_forever", r#""channels": "parallel_mirror""#);
    let completed = stage(&stack, &g.guild, "completed", 180).await;
    let holder = roles(&stack, g.id()).await["arrakis-holder"].0;
    // "Complete" is said once member sync has written every holder's role, not when the
    // roles exist: all 40 are there the moment the stage says so.
    assert_eq!(held(&stack, &g.guild, &[holder]).await, pairs(&g.holders, holder), "{completed}");
    assert!(completed.get("awaiting_writes").is_none(), "{completed}");
    // parallel_mirror: a copy of the incumbent's gated channel, shown to arrakis-holder instead.
    let state = stack.control.guild(g.id()).await.expect("state");
    let copy = state.channels.iter().find(|c| c["name"] == "arrakis-holders-lounge").expect("the mirrored channel");
    let overwrites = copy["permission_overwrites"].to_string();
    assert!(overwrites.contains(&holder.to_string()), "{overwrites}");
    assert!(!overwrites.contains(&g.incumbent_holder.to_string()), "tied to Arrakis's role, not the incumbent's");
    wait_until(Duration::from_secs(120), "the 40 holders' roles", || async {
        (held(&stack, &g.guild, &[holder]).await == pairs(&g.holders, holder)).then_some(())
    })
    .await;

    // The rollback is held between removing the arrakis-* objects and restoring the manifest
    // (the manifests table is locked), and the reconcile schedule fires meanwhile: it must not
    // recreate what the rollback removed from the parallel manifest still in force.
    let mut lock = stack.db.admin().await;
    sqlx::query("BEGIN").execute(&mut lock).await.expect("begin");
    sqlx::query("LOCK TABLE manifests IN EXCLUSIVE MODE").execute(&mut lock).await.expect("lock");

    // 25 of 400 members (6.25 %, over the 5 % threshold) sell their SPICE.
    for user in g.holders.iter().take(25) {
        chain.burn_erc20(g.wallets[user], spice(150)).await;
    }
    wait_until(Duration::from_secs(180), "the rollback to remove the arrakis-* roles", || async {
        let s = status(&stack, &g.guild);
        let removed = s["rollback"]["steps"].to_string().contains("delete the arrakis-* roles");
        (removed && arrakis_roles(&roles(&stack, g.id()).await).is_empty()).then_some(())
    })
    .await;
    let schedule = run_shell(&format!("temporal schedule describe --schedule-id reconcile-{} -o json", g.guild), &[]);
    let schedule: Value = serde_json::from_slice(&schedule.stdout).expect("schedule json");
    assert_eq!(
        schedule["schedule"]["state"]["paused"], true,
        "held by the rollback: {}",
        schedule["schedule"]["state"]
    );
    let completed = format!(
        "temporal workflow count --query \"TemporalScheduledById='reconcile-{}' AND ExecutionStatus='Completed'\"",
        g.guild
    );
    let count = || {
        let out = run_shell(&completed, &[]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .last()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0)
    };
    let before = count();
    // A paused schedule still runs when triggered by hand: the reconcile itself stands back.
    let fired = run_shell(&format!("temporal schedule trigger --schedule-id reconcile-{}", g.guild), &[]);
    assert!(fired.status.success(), "{}", String::from_utf8_lossy(&fired.stderr));
    wait_until(Duration::from_secs(60), "the fired reconcile to complete", || async {
        (count() > before).then_some(())
    })
    .await;
    assert!(arrakis_roles(&roles(&stack, g.id()).await).is_empty(), "nothing recreated mid-rollback");
    assert_eq!(status(&stack, &g.guild)["stage"], "rolling_back", "still held");
    sqlx::query("ROLLBACK").execute(&mut lock).await.expect("release");

    let back = stage(&stack, &g.guild, "rolled_back", 180).await;
    let schedule = run_shell(&format!("temporal schedule describe --schedule-id reconcile-{} -o json", g.guild), &[]);
    let schedule: Value = serde_json::from_slice(&schedule.stdout).expect("schedule json");
    assert_ne!(schedule["schedule"]["state"]["paused"], true, "resumed at the end: {}", schedule["schedule"]["state"]);
    assert!(back["rollback"]["steps"].to_string().contains("resume the reconcile schedule: resumed"), "{back}");
    let rollback = &back["rollback"];
    assert_eq!((rollback["automatic"].as_bool(), rollback["by"].as_str()), (Some(true), Some("automatic")), "{back}");
    assert!(
        rollback["reason"].as_str().unwrap_or_default().contains("of 400 members lost access within 60 min"),
        "{back}"
    );
    assert!(arrakis_roles(&roles(&stack, g.id()).await).is_empty(), "the arrakis-* roles are gone");
    let state = stack.control.guild(g.id()).await.expect("state");
    assert!(!state.channels.iter().any(|c| c["name"] == "arrakis-holders-lounge"), "and the mirrored channel");
    assert_eq!(community_mode(&stack, &g).await, "shadow");
    assert_eq!(held(&stack, &g.guild, &[g.incumbent_holder]).await, incumbent_before, "the incumbent's roles stay");
    posted(&stack, g.operator_channel, "Migration rolled back").await;
    let (ok, _, events) =
        shell(&stack, "migration-events", &g.guild, &[("ARRAKIS_SERVICE_DATABASE_URL", stack.db.service_url.as_str())]);
    assert!(ok, "{events}");
    assert!(
        events.lines().any(|l| l.contains("rolled_back") && l.contains("automatic") && l.contains(" t ")),
        "{events}"
    );
    worker.shutdown().expect("drains");
}
