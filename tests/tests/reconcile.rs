//! Reconciliation through the runbook's lines: a role deleted by hand and a channel renamed by
//! hand are reported by a dry run (which changes nothing), fixed by apply, and gone on the next
//! run; the 6-hour schedule can be created, triggered and removed.

use arrakis_tests::{SIM_TOKEN, SynthesisStack, run_runbook, run_shell, wait_until};
use serde_json::json;
use std::time::Duration;

fn shell(name: &str, env: &[(&str, &str)]) -> (bool, String) {
    let out = run_runbook(name, env);
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_made_by_hand_is_reported_fixed_and_then_gone() {
    let stack = SynthesisStack::start(50).await;
    let worker = stack.in_process_worker();
    let guild = stack.new_guild().await;
    let guild_id: u64 = guild.parse().expect("id");
    let (control, sim) = (&stack.control, &stack.sim);
    let operator_channel = control
        .seed_channels(guild_id, &[arrakis_sim::ChannelSeed { name: "arrakis-admin".into(), ..Default::default() }])
        .await
        .expect("channel")[0];
    let manifest = json!({
        "guild_id": guild, "name": "Drift", "mode": "parallel", "chains": [], "operator_channel_id": operator_channel.to_string(),
        "roles": [{"key": "naib", "name": "arrakis-naib", "grant": {"tier": "gold"}}, {"key": "fremen", "name": "arrakis-fremen", "grant": {"tier": "silver"}}],
        "channels": {"strategy": "custom", "categories": [{"key": "sietch", "name": "Sietch", "visible_to": ["naib"],
            "channels": [{"key": "council", "name": "council"}, {"key": "water", "name": "water-discipline"}]}]}
    });
    stack.publish(&guild, manifest);
    let env = [("ARRAKIS_TASK_QUEUE", stack.task_queue.as_str()), ("GUILD_ID", guild.as_str()), ("VERSION", "1")];
    let (ok, text) = shell("synthesis-run", &env);
    assert!(ok, "{text}");

    // By hand: delete a role, rename a channel.
    let state = control.guild(guild_id).await.expect("state");
    let role = state.roles.iter().find(|r| r["name"] == "arrakis-fremen").expect("role")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let channel = state.channels.iter().find(|c| c["name"] == "council").expect("channel")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v10", sim.api_host());
    let auth = format!("Bot {SIM_TOKEN}");
    assert!(
        http.delete(format!("{base}/guilds/{guild}/roles/{role}"))
            .header("authorization", &auth)
            .send()
            .await
            .expect("delete")
            .status()
            .is_success()
    );
    let renamed = http
        .patch(format!("{base}/channels/{channel}"))
        .header("authorization", &auth)
        .json(&json!({"name": "council-old"}))
        .send()
        .await
        .expect("rename");
    assert!(renamed.status().is_success());
    let mutations = control.log(0).await.expect("log").len();

    let (ok, text) = shell("reconcile-dry-run", &env);
    assert!(ok, "{text}");
    assert!(
        text.contains(
            r#"{"detail":"deleted in Discord","item":"role","key":"fremen","kind":"deleted_in_discord","name":"arrakis-fremen"}"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#""detail":"renamed to 'council-old' (the manifest says 'council')","item":"channel","key":"council","kind":"changed_in_discord""#),
        "{text}"
    );
    assert!(text.contains(r#""applied":0"#), "{text}");
    let log = control.log(0).await.expect("log");
    let changes: Vec<_> = log[mutations..].iter().filter(|e| e.route != "/channels/{channel_id}/messages").collect();
    assert!(changes.is_empty(), "a dry run changes nothing: {changes:?}");
    let report = log[mutations..]
        .iter()
        .find(|e| e.path == format!("/channels/{operator_channel}/messages"))
        .expect("a drift report");
    let content = report.body["content"].as_str().unwrap_or_default();
    assert!(content.contains("fremen") && content.contains("council"), "the operator sees what drifted: {content}");

    let (ok, text) = shell("reconcile-apply", &env);
    assert!(ok && text.contains(r#""applied":2"#), "{text}");
    let state = control.guild(guild_id).await.expect("state");
    assert!(state.roles.iter().any(|r| r["name"] == "arrakis-fremen"), "the role is back");
    assert!(
        state.channels.iter().any(|c| c["id"] == channel.as_str() && c["name"] == "council"),
        "the channel has its name back"
    );

    let (ok, text) = shell("reconcile-dry-run", &env);
    assert!(ok && text.contains(r#""drift":null"#), "nothing left to fix: {text}");

    // The schedule: create and trigger it, see a scheduled run, remove it.
    let (ok, text) = shell("reconcile-schedule", &env);
    assert!(ok, "{text}");
    let query = format!(
        "temporal workflow list --query \"ArrakisKind='reconcile' AND ArrakisGuildId='{guild}' AND TemporalScheduledById='reconcile-{guild}'\""
    );
    let listed: String = wait_until(Duration::from_secs(60), "a run started by the schedule", || async {
        let out = run_shell(&query, &env);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.contains("Reconcile").then_some(text)
    })
    .await;
    assert!(listed.contains(&format!("reconcile-{guild}-")), "{listed}");
    let (ok, text) = shell("reconcile-unschedule", &env);
    assert!(ok, "{text}");
    worker.shutdown().expect("drains");
}
