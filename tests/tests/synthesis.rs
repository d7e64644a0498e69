//! Synthesis end to end (the real stack and the Discord stand-in): a manifest of 60 roles,
//! 20 categories and 150 channels with overwrites is applied through the runbook's CLI lines;
//! the stand-in then holds exactly those resources; a re-run changes nothing.

use arrakis_tests::{SynthesisStack, wait_until};
use serde_json::{Value, json};
use std::time::Duration;

fn big_manifest(guild: &str) -> Value {
    let roles: Vec<Value> = (0..60)
        .map(|i| json!({"key": format!("tier-{i}"), "name": format!("arrakis-tier-{i}"), "color": i * 1000, "grant": {"rule": "holder"}}))
        .collect();
    let categories: Vec<Value> = (0..20)
        .map(|c| {
            let channels: Vec<Value> = (0..150)
                .filter(|n| n % 20 == c)
                .map(|n| json!({"key": format!("ch-{n}"), "name": format!("channel-{n}"), "topic": format!("topic {n}"),
                    "kind": if n % 10 == 0 { "voice" } else { "text" }}))
                .collect();
            json!({"key": format!("cat-{c}"), "name": format!("Category {c}"), "visible_to": [format!("tier-{c}"), format!("tier-{}", c + 20)], "channels": channels})
        })
        .collect();
    json!({
        "guild_id": guild, "name": "Big Sietch", "theme": "basic", "mode": "parallel", "chains": [1],
        "assets": [{"key": "spice", "chain_id": 1, "kind": "erc20", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "decimals": 18}],
        "rules": {"holder": {"min_balance": {"asset": "spice", "amount": "1"}}},
        "roles": roles,
        "channels": {"strategy": "custom", "categories": categories}
    })
}

fn status_json(text: &str) -> Value {
    let start = text.find('{').unwrap_or(0);
    serde_json::from_str(text[start..].trim()).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_manifest_is_applied_exactly_and_a_rerun_changes_nothing() {
    let stack = SynthesisStack::start(50).await;
    let worker = stack.in_process_worker();
    let guild = stack.new_guild().await;
    let guild_id: u64 = guild.parse().expect("id");
    let control = &stack.control;
    stack.publish(&guild, big_manifest(&guild));
    let shell = |name: &str| stack.shell(name, &guild, &[]);

    // Start, pause, resume through the runbook's lines; then wait for it to finish.
    let (ok, text) = shell("synthesis-start");
    assert!(ok, "{text}");
    let (ok, text) = shell("synthesis-pause");
    assert!(ok, "{text}");
    // The plan is made regardless; the ops wait for the resume.
    let paused = wait_until(Duration::from_secs(30), "the paused synthesis to finish planning", || async {
        let (ok, text) = shell("synthesis-status");
        let status = status_json(&text);
        (ok && status["paused"] == true && status["planned"] != 0).then_some(status)
    })
    .await;
    assert_eq!(paused["planned"], 230, "60 roles + 20 categories + 150 channels: {paused}");
    assert_eq!(paused["applied"], 0, "nothing applied while paused: {paused}");
    let (ok, text) = shell("synthesis-resume");
    assert!(ok, "{text}");
    let done = wait_until(Duration::from_secs(180), "the synthesis to apply every op", || async {
        let (ok, text) = shell("synthesis-status");
        let status = status_json(&text);
        (ok && status["applied"] == 230 && status["current_op"].is_null()).then_some(status)
    })
    .await;
    // The CLI prints an empty list as null.
    assert!(done["failed"].is_null() || done["failed"] == json!([]), "{done}");

    // The stand-in holds exactly what the manifest asks for.
    let state = control.guild(guild_id).await.expect("state");
    let role_names: Vec<&str> =
        state.roles.iter().filter_map(|r| r["name"].as_str()).filter(|n| n.starts_with("arrakis-tier-")).collect();
    assert_eq!(role_names.len(), 60);
    assert_eq!(state.roles.len(), 62, "@everyone, the bot's role and 60 tiers: no duplicates");
    let position = |name: String| {
        state.roles.iter().find(|r| r["name"] == name.as_str()).and_then(|r| r["position"].as_i64()).expect("role")
    };
    let positions: Vec<i64> = (0..60).map(|i| position(format!("arrakis-tier-{i}"))).collect();
    assert!(positions.windows(2).all(|w| w[0] > w[1]), "roles stand in manifest order, first highest: {positions:?}");
    assert_eq!(state.channels.len(), 170, "20 categories and 150 channels: no duplicates");
    let categories: Vec<&Value> = state.channels.iter().filter(|c| c["type"] == 4).collect();
    assert_eq!(categories.len(), 20);
    let channel = state.channels.iter().find(|c| c["name"] == "channel-21").expect("channel-21");
    let parent = state.channels.iter().find(|c| c["id"] == channel["parent_id"]).expect("its category");
    assert_eq!(parent["name"], "Category 1");
    let overwrites = channel["permission_overwrites"].as_array().expect("overwrites");
    assert_eq!(overwrites.len(), 4, "@everyone denied; the bot and two tiers allowed: {overwrites:?}");
    let counters = control.counters().await.expect("counters");
    assert!(counters.contract_violations.is_empty(), "{:?}", counters.contract_violations);
    assert_eq!(counters.rate.global_429, 0, "{:?}", counters.rate);

    // A re-run of the same version finds everything applied and creates nothing (once the first
    // run has closed: `execute` on a running workflow would wait for that run instead).
    let workflow = format!("synthesis-{guild}-v1");
    wait_until(Duration::from_secs(60), "the first run to close", || async {
        arrakis_tests::workflow_completed(&workflow).then_some(())
    })
    .await;
    let posts_before = control.log(0).await.expect("log").iter().filter(|e| e.method == "POST").count();
    let (ok, text) = shell("synthesis-run");
    assert!(ok, "{text}");
    assert!(text.contains(r#""applied":0"#) && text.contains(r#""unchanged":230"#), "{text}");
    let posts_after = control.log(0).await.expect("log").iter().filter(|e| e.method == "POST").count();
    assert_eq!(posts_before, posts_after, "the re-run created nothing");
    worker.shutdown().expect("drains");
}

/// A small manifest: `roles` roles, `categories` categories of 4 channels each.
fn small_manifest(guild: &str, roles: usize, categories: usize) -> Value {
    let mut manifest = big_manifest(guild);
    manifest["roles"] = (0..roles)
        .map(|i| json!({"key": format!("tier-{i}"), "name": format!("arrakis-tier-{i}"), "grant": {"rule": "holder"}}))
        .collect();
    manifest["channels"]["categories"] = (0..categories)
        .map(|c| {
            json!({"key": format!("cat-{c}"), "name": format!("Category {c}"), "visible_to": [format!("tier-{c}")],
                "channels": (0..4).map(|n| json!({"key": format!("ch-{c}-{n}"), "name": format!("channel-{c}-{n}")})).collect::<Vec<_>>()})
        })
        .collect();
    manifest
}

#[tokio::test(flavor = "multi_thread")]
async fn synthesis_completes_through_5xx_and_429_bursts_without_early_retries_or_duplicates() {
    let stack = SynthesisStack::start(50).await;
    let worker = stack.in_process_worker();
    let guild = stack.new_guild().await;
    let guild_id: u64 = guild.parse().expect("id");
    let control = &stack.control;
    stack.publish(&guild, small_manifest(&guild, 20, 5));
    let shell = |name: &str| stack.shell(name, &guild, &[]);

    // 20 % of requests fail with a 5xx, 10 % of changes happen but lose their answer (a retry
    // must find what was made, not make it twice), and every few hundred milliseconds a burst of 429s
    // (alternating route and global scope) hits whatever comes next.
    let stormer = {
        let control = stack.control.clone();
        tokio::spawn(async move {
            for i in 0..40u32 {
                let scope = if i % 2 == 0 { "user" } else { "global" };
                let faults = arrakis_sim::Faults {
                    error_rate: 0.2,
                    lost_response_rate: 0.1,
                    storm_count: 3,
                    storm_scope: Some(scope.into()),
                    storm_retry_after: 0.4,
                    ..arrakis_sim::Faults::default()
                };
                let _ = control.set_faults(&faults).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    let (ok, text) = shell("synthesis-run");
    stormer.abort();
    control.set_faults(&arrakis_sim::Faults::default()).await.expect("calm");
    assert!(ok, "the synthesis completes despite the faults: {text}");
    assert!(text.contains(r#""applied":45"#), "20 roles + 5 categories + 20 channels: {text}");

    let state = control.guild(guild_id).await.expect("state");
    assert_eq!(state.roles.len(), 22, "no duplicate roles");
    assert_eq!(state.channels.len(), 25, "no duplicate channels");
    let counters = control.counters().await.expect("counters").rate;
    assert!(counters.user_429 + counters.global_429 > 0, "the bursts happened: {counters:?}");
    let log = control.log(0).await.expect("log");
    assert!(log.iter().any(|e| e.status == 502), "some changes lost their answer and were retried");
    assert_eq!(counters.early_retries, 0, "no request went to a bucket before its retry_after: {counters:?}");
    // Every 429 is on the operator's page, by the scope Discord gave it.
    let page = arrakis_tests::http_get(worker.http_addr, "/metrics").await.expect("metrics").1;
    let rate_limited = |scope: &str| -> u64 {
        let series = format!("arrakis_discord_rate_limited_total{{scope=\"{scope}\"}} ");
        page.lines().find_map(|l| l.strip_prefix(series.as_str())).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    };
    let (route, global, unknown) = (rate_limited("route"), rate_limited("global"), rate_limited("unknown"));
    assert!(
        route + global + unknown >= counters.user_429 + counters.global_429,
        "{route} {global} {unknown}: {counters:?}"
    );
    assert!(route > 0 && global > 0, "both scopes told apart: route {route}, global {global}, unknown {unknown}");
    worker.shutdown().expect("drains");
}
