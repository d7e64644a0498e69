//! Deploy and reconciliation that never surprise the operator, against the stand-in and the
//! real stack: what a new version drops is shown at REVIEW and removed only when the operator
//! says so; a role deleted by hand comes back with every overwrite that named it in one apply;
//! a fix that fails is reported as failed; every change carries an audit-log reason; text
//! channel names are compared the way Discord stores them.

use arrakis_schemas::{
    CommunityManifest,
    workflows::{
        synthesis::RemovalChoice,
        wizard::{DeployStage, StepAnswer},
    },
};
use arrakis_sim::{ChannelSeed, Faults, LogEntry};
use arrakis_tests::{SIM_TOKEN, SynthesisStack, run_shell, wait_until, wizard::WizardDriver};
use serde_json::{Value, json};
use std::time::Duration;

/// Every change Arrakis made carries `X-Audit-Log-Reason: Arrakis: manifest vN, …`. Messages
/// are Arrakis talking to the operator, which Discord's audit log does not record.
fn assert_reasons(log: &[LogEntry]) {
    for entry in log.iter().filter(|e| !e.route.contains("/messages")) {
        let reason = entry.reason.as_deref().unwrap_or_default();
        assert!(
            reason.starts_with("Arrakis: manifest v"),
            "{} {} has no audit reason: {entry:?}",
            entry.method,
            entry.path
        );
    }
}

fn channel<'a>(state: &'a arrakis_sim::GuildState, name: &str) -> Option<&'a Value> {
    state.channels.iter().find(|c| c["name"] == name)
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap_or_default().to_string()
}

fn manifest(guild: &str, with_vault: bool) -> CommunityManifest {
    let mut categories = vec![json!({"key": "holders", "name": "Holders", "visible_to": ["holder"], "channels": [
        {"key": "holders-chat", "name": "Spice Chat"},
        {"key": "holders-lounge", "name": "Lounge", "kind": "voice"}
    ]})];
    if with_vault {
        categories.push(json!({"key": "vault", "name": "Vault", "visible_to": ["holder"], "channels": [
            {"key": "vault-safe", "name": "safe"}
        ]}));
    }
    serde_json::from_value(json!({
        "guild_id": guild, "name": "Deploys", "theme": "basic", "mode": "exclusive", "chains": [1],
        "assets": [{"key": "spice", "chain_id": 1, "kind": "erc20", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "decimals": 18}],
        "rules": {"holder": {"min_balance": {"asset": "spice", "amount": "1"}}},
        "roles": [{"key": "holder", "name": "Spice Holder", "grant": {"rule": "holder"}}],
        "channels": {"strategy": "custom", "categories": categories}
    }))
    .expect("manifest")
}

/// Deploys `manifest` through the wizard (its updates, as the gateway sends them), deciding
/// about dropped objects with `removals`; returns REVIEW's status.
async fn deploy(
    wizard: &WizardDriver,
    manifest: &CommunityManifest,
    removals: Option<RemovalChoice>,
) -> arrakis_schemas::workflows::wizard::WizardStatus {
    wizard.start().await;
    let review = wizard.answer(manifest).await;
    wizard.submit(&StepAnswer::Review { confirm: true, removals }).await.expect("deploy confirmed");
    let outcome = wizard.outcome().await;
    assert_eq!(outcome.status.deploy, DeployStage::Done, "{:?}", outcome.status.summary);
    review
}

async fn post(sim: &arrakis_sim::RunningSim, channel: &str, content: &str) {
    let http = reqwest::Client::new();
    let response = http
        .post(format!("http://{}/api/v10/channels/{channel}/messages", sim.api_host()))
        .header("authorization", format!("Bot {SIM_TOKEN}"))
        .json(&json!({"content": content}))
        .send()
        .await
        .expect("post");
    assert!(response.status().is_success());
}

/// Triggers the guild's reconciliation schedule `times` times, one run after the other.
async fn scheduled_reconciles(guild: &str, times: usize, env: &[(&str, &str)]) {
    let completed = format!(
        "temporal workflow count --query \"TemporalScheduledById='reconcile-{guild}' AND ExecutionStatus='Completed'\""
    );
    let count = || {
        let out = run_shell(&completed, env);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .last()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0)
    };
    for i in 1..=times {
        let out = run_shell(&format!("temporal schedule trigger --schedule-id reconcile-{guild}"), env);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        wait_until(Duration::from_secs(60), &format!("scheduled reconcile {i} to complete"), || async {
            (count() >= i).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn what_a_version_drops_is_shown_at_review_and_removed_only_when_the_operator_says_so() {
    let stack = SynthesisStack::start(50).await;
    let worker = stack.in_process_worker();
    let (control, sim) = (&stack.control, &stack.sim);
    let mut guilds = Vec::new();
    for choice in [RemovalChoice::Detach, RemovalChoice::Remove] {
        let guild = stack.new_guild().await;
        let guild_id: u64 = guild.parse().expect("id");
        let admin = control
            .seed_channels(guild_id, &[ChannelSeed { name: "arrakis-admin".into(), ..Default::default() }])
            .await
            .expect("channel")[0];
        let wizard = WizardDriver::new(&stack.task_queue, &guild, Some(admin)).await;
        deploy(&wizard, &manifest(&guild, true), None).await;
        let state = control.guild(guild_id).await.expect("state");
        // Names as Discord stores them: the text channel is lowercased and dashed, the voice
        // channel keeps its name, and a dry run finds nothing to change.
        assert!(channel(&state, "spice-chat").is_some() && channel(&state, "Lounge").is_some(), "{:?}", state.channels);
        let env = [("ARRAKIS_TASK_QUEUE", stack.task_queue.as_str()), ("GUILD_ID", guild.as_str())];
        let (ok, text) = stack.shell("reconcile-dry-run", &guild, &[]);
        assert!(ok && text.contains(r#""drift":null"#), "no drift on a fresh deploy: {text}");
        let safe = id_of(channel(&state, "safe").expect("the vault's channel"));
        let vault = id_of(channel(&state, "Vault").expect("the vault"));
        post(sim, &safe, "the water of life").await;

        // The next version drops the vault: REVIEW shows both objects, with the channel's
        // last activity, and will not deploy without a decision.
        wizard.start().await;
        let review = wizard.answer(&manifest(&guild, false)).await;
        let plan = review.plan.expect("REVIEW's plan");
        let dropped: Vec<(&str, &str, Option<&str>)> =
            plan.remove.iter().map(|i| (i.kind.as_str(), i.name.as_str(), i.detail.as_deref())).collect();
        assert_eq!(dropped, vec![("channel", "safe", Some("last message today")), ("category", "Vault", None)]);
        let refused =
            wizard.submit(&StepAnswer::Review { confirm: true, removals: None }).await.expect_err("undecided");
        assert!(refused.contains("removals"), "{refused}");
        let before = control.log(0).await.expect("log").len();
        assert!(
            control.log(0).await.expect("log")[..before].iter().all(|e| e.method != "DELETE"),
            "REVIEW deletes nothing"
        );
        wizard.submit(&StepAnswer::Review { confirm: true, removals: Some(choice) }).await.expect("decided");
        assert_eq!(wizard.outcome().await.status.deploy, DeployStage::Done);
        let state = control.guild(guild_id).await.expect("state");
        let deletes: Vec<String> = control
            .log(0)
            .await
            .expect("log")
            .iter()
            .filter(|e| e.method == "DELETE")
            .map(|e| e.path.clone())
            .collect();
        match choice {
            RemovalChoice::Remove => {
                assert!(channel(&state, "Vault").is_none() && channel(&state, "safe").is_none(), "removed at deploy");
                assert_eq!(deletes, vec![format!("/channels/{safe}"), format!("/channels/{vault}")]);
            }
            _ => {
                assert!(channel(&state, "Vault").is_some() && channel(&state, "safe").is_some(), "kept, detached");
                assert!(deletes.is_empty(), "{deletes:?}");
                // Ten scheduled reconciliations later (the deploy's own schedule, in apply
                // mode), the detached category is still there.
                scheduled_reconciles(&guild, 10, &env).await;
                let state = control.guild(guild_id).await.expect("state");
                assert!(channel(&state, "Vault").is_some() && channel(&state, "safe").is_some());
                assert!(control.log(0).await.expect("log").iter().all(|e| e.method != "DELETE"));
            }
        }
        assert_reasons(&control.log(0).await.expect("log"));
        guilds.push(guild);
    }

    // A version published from the CLI drops the voice channel: reconciliation holds it and
    // says so, and deletes it only on the runbook's removal line.
    let guild = &guilds[0];
    let guild_id: u64 = guild.parse().expect("id");
    let mut v3 = serde_json::to_value(manifest(guild, false)).expect("json");
    v3["channels"]["categories"][0]["channels"].as_array_mut().expect("channels").pop();
    v3["operator_channel_id"] = json!(
        control.guild(guild_id).await.expect("state").channels.iter().find(|c| c["name"] == "arrakis-admin").map(id_of)
    );
    stack.publish(guild, v3);
    let (ok, text) = stack.shell("reconcile-apply", guild, &[]);
    assert!(ok && text.contains(r#""outcome":"held""#) && text.contains(r#""key":"holders-lounge""#), "{text}");
    assert!(channel(&control.guild(guild_id).await.expect("state"), "Lounge").is_some(), "held, not deleted");
    let (ok, text) = stack.shell(
        "reconcile-removals",
        guild,
        &[("DECISION", "remove"), ("KIND", "channel"), ("KEY", "holders-lounge")],
    );
    assert!(ok && text.contains(r#""outcome":"removed""#), "{text}");
    assert!(channel(&control.guild(guild_id).await.expect("state"), "Lounge").is_none());
    assert_reasons(&control.log(0).await.expect("log"));
    for guild in &guilds {
        let _ = run_shell(&format!("temporal schedule delete --schedule-id reconcile-{guild}"), &[]);
    }
    worker.shutdown().expect("drains");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_deleted_by_hand_comes_back_with_every_overwrite_that_named_it_in_one_apply() {
    let stack = SynthesisStack::start(50).await;
    let worker = stack.in_process_worker();
    let guild = stack.new_guild().await;
    let guild_id: u64 = guild.parse().expect("id");
    let control = &stack.control;
    let channels: Vec<Value> = (1..=5).map(|i| json!({"key": format!("c{i}"), "name": format!("cave-{i}")})).collect();
    stack.publish(
        &guild,
        json!({
            "guild_id": guild, "name": "Overwrites", "mode": "exclusive", "chains": [],
            "roles": [{"key": "naib", "name": "arrakis-naib", "grant": {"tier": "gold"}}, {"key": "fremen", "name": "arrakis-fremen", "grant": {"tier": "silver"}}],
            "channels": {"strategy": "custom", "categories": [{"key": "sietch", "name": "Sietch", "visible_to": ["fremen"], "channels": channels}]}
        }),
    );
    let (ok, text) = stack.shell("synthesis-run", &guild, &[]);
    assert!(ok, "{text}");
    let state = control.guild(guild_id).await.expect("state");
    assert_reasons(&control.log(0).await.expect("log"));
    let old = id_of(state.roles.iter().find(|r| r["name"] == "arrakis-fremen").expect("fremen"));
    let cave = id_of(state.channels.iter().find(|c| c["name"] == "cave-2").expect("cave-2"));
    // Deleted by hand: a role (named by every overwrite of the category and its channels) and
    // a channel.
    for path in [format!("guilds/{guild}/roles/{old}"), format!("channels/{cave}")] {
        let response = reqwest::Client::new()
            .delete(format!("http://{}/api/v10/{path}", stack.sim.api_host()))
            .header("authorization", format!("Bot {SIM_TOKEN}"))
            .send()
            .await
            .expect("delete");
        assert!(response.status().is_success(), "{path}");
    }

    let before = control.log(0).await.expect("log").len();
    let errors_before = control.counters().await.expect("counters").rate.client_errors;
    let (ok, text) = stack.shell("reconcile-apply", &guild, &[]);
    assert!(ok, "{text}");
    // Not one 4xx, reads included: each item it classified as deleted was only made again.
    let errors = control.counters().await.expect("counters").rate.client_errors - errors_before;
    assert_eq!(errors, 0, "the reconcile sent requests whose answer it knew");
    let state = control.guild(guild_id).await.expect("state");
    let new = id_of(state.roles.iter().find(|r| r["name"] == "arrakis-fremen").expect("fremen is back"));
    assert_ne!(new, old);
    let shown: Vec<&Value> = state
        .channels
        .iter()
        .filter(|c| c["name"] == "Sietch" || c["name"].as_str().is_some_and(|n| n.starts_with("cave-")))
        .collect();
    assert_eq!(shown.len(), 6, "cave-2 is back too");
    for c in shown {
        let ids: Vec<&str> = c["permission_overwrites"]
            .as_array()
            .expect("overwrites")
            .iter()
            .filter_map(|o| o["id"].as_str())
            .collect();
        assert!(
            ids.contains(&new.as_str()) && !ids.contains(&old.as_str()),
            "{} names the new role only: {ids:?}",
            c["name"]
        );
    }
    // Nothing was asked that Discord had to refuse: the dead role is never patched.
    let log = control.log(0).await.expect("log");
    let refused: Vec<&LogEntry> = log[before..].iter().filter(|e| e.status >= 400).collect();
    assert!(refused.is_empty(), "{refused:?}");
    assert_reasons(&log[before..]);
    let (ok, text) = stack.shell("reconcile-dry-run", &guild, &[]);
    assert!(ok && text.contains(r#""drift":null"#), "one apply converged: {text}");
    worker.shutdown().expect("drains");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fix_that_fails_is_reported_as_failed_after_the_fixes_and_nothing_else_is_claimed() {
    let stack = SynthesisStack::start(50).await;
    let worker = stack.in_process_worker();
    let guild = stack.new_guild().await;
    let guild_id: u64 = guild.parse().expect("id");
    let control = &stack.control;
    let admin = control
        .seed_channels(guild_id, &[ChannelSeed { name: "arrakis-admin".into(), ..Default::default() }])
        .await
        .expect("channel")[0];
    stack.publish(
        &guild,
        json!({
            "guild_id": guild, "name": "Faults", "mode": "exclusive", "chains": [], "operator_channel_id": admin.to_string(),
            "roles": [{"key": "naib", "name": "arrakis-naib", "grant": {"tier": "gold"}}],
            "channels": {"strategy": "custom", "categories": [{"key": "sietch", "name": "Sietch", "visible_to": ["naib"],
                "channels": [{"key": "council", "name": "council"}]}]}
        }),
    );
    let (ok, text) = stack.shell("synthesis-run", &guild, &[]);
    assert!(ok, "{text}");
    let state = control.guild(guild_id).await.expect("state");
    let role = id_of(state.roles.iter().find(|r| r["name"] == "arrakis-naib").expect("role"));
    let council = id_of(channel(&state, "council").expect("channel"));
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v10", stack.sim.api_host());
    let auth = format!("Bot {SIM_TOKEN}");
    for (path, body) in [
        (format!("guilds/{guild}/roles/{role}"), json!({"name": "naib-old"})),
        (format!("channels/{council}"), json!({"name": "council-old"})),
    ] {
        let response = http
            .patch(format!("{base}/{path}"))
            .header("authorization", &auth)
            .json(&body)
            .send()
            .await
            .expect("by hand");
        assert!(response.status().is_success());
    }
    // Discord will refuse every channel edit (403 Missing Permissions): no retry mends it.
    control
        .set_faults(&Faults { refuse: vec!["PATCH /channels/{channel_id}".into()], ..Faults::default() })
        .await
        .expect("faults");
    let before = control.log(0).await.expect("log").len();
    let (ok, text) = stack.shell("reconcile-apply", &guild, &[]);
    assert!(ok, "{text}");
    control.set_faults(&Faults::default()).await.expect("faults");
    let log = control.log(0).await.expect("log");
    let report_at =
        log[before..].iter().position(|e| e.path == format!("/channels/{admin}/messages")).expect("a report");
    let fixes_at = log[before..].iter().rposition(|e| !e.route.contains("/messages")).expect("fixes");
    assert!(report_at > fixes_at, "the report comes after the fixes");
    let content = log[before + report_at].body["content"].as_str().unwrap_or_default().to_string();
    assert!(content.contains("fixed 1, 1 not fixed"), "{content}");
    assert!(content.contains("✅ Role **arrakis-naib**: renamed to 'naib-old' (the manifest says 'arrakis-naib') — put back as the manifest says."), "{content}");
    assert!(content.contains("❌ Channel **council**: renamed to 'council-old' (the manifest says 'council') — not fixed: Discord refused"), "{content}");
    assert!(!content.contains("ChangedInDiscord") && !content.contains("changed_in_discord"), "{content}");
    assert_eq!(
        control.guild(guild_id).await.expect("state").channels.iter().filter(|c| c["name"] == "council-old").count(),
        1
    );
    worker.shutdown().expect("drains");
}
