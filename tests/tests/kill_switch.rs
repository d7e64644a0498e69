//! The kill switch through the runbook's lines: while frozen, a synthesis changes nothing in
//! Discord; lifted, it finishes. (Its own test binary: the batch signals reach every running
//! synthesis in the namespace.)

use arrakis_sim::{GuildSeed, Limits, SimConfig};
use arrakis_tests::{TestWorker, fresh_database, random_guild_id, run_shell, runbook_snippet, stack_env, wait_until};
use serde_json::{Value, json};
use std::{net::SocketAddr, time::Duration};

const TOKEN: &str = "kill-switch-test-token";

fn shell(name: &str, env: &[(&str, &str)]) -> (bool, String) {
    let out = run_shell(&runbook_snippet(name).expect("runbook line"), env);
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn json_in(text: &str) -> Value {
    serde_json::from_str(text[text.find('{').unwrap_or(0)..].trim()).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_synthesis_changes_nothing_until_the_freeze_is_lifted() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let sim = arrakis_sim::start(SimConfig { token: TOKEN.into(), ..SimConfig::default() }, loopback, loopback)
        .await
        .expect("sim");
    let control = sim.client();
    control.set_limits(&Limits { route_limit: 50, ..Limits::default() }).await.expect("limits");
    let guild = random_guild_id();
    control
        .create_guild(&GuildSeed {
            id: Some(guild.parse().expect("id")),
            name: "Frozen".into(),
            bot_role_position: Some(100),
            ..GuildSeed::default()
        })
        .await
        .expect("guild");
    let db = fresh_database().await;
    let (redis, api_base, app_id) =
        (stack_env("REDIS_URL"), format!("http://{}", sim.api_host()), SimConfig::default().application_id.to_string());
    let worker = TestWorker::start_with(
        &db.url,
        &[
            ("DISCORD_TOKEN", TOKEN),
            ("DISCORD_API_BASE", &api_base),
            ("REDIS_URL", &redis),
            ("DISCORD_APPLICATION_ID", &app_id),
        ],
    );
    let manifest = json!({
        "guild_id": guild, "name": "Frozen", "mode": "parallel", "chains": [],
        "roles": (0..5).map(|i| json!({"key": format!("r{i}"), "name": format!("arrakis-r{i}"), "grant": {"tier": "gold"}})).collect::<Vec<_>>()
    });
    let input = std::env::temp_dir().join(format!("publish-{guild}.json"));
    std::fs::write(&input, json!({"manifest": manifest}).to_string()).expect("input");
    let input = input.display().to_string();
    let env = [
        ("ARRAKIS_TASK_QUEUE", worker.task_queue.as_str()),
        ("GUILD_ID", guild.as_str()),
        ("PUBLISH_INPUT", input.as_str()),
        ("VERSION", "1"),
    ];
    let (ok, text) = shell("publish", &env);
    assert!(ok, "{text}");

    let (ok, text) = shell("freeze-all", &env);
    assert!(ok && text.contains("synthesis frozen for every guild"), "{text}");
    let (ok, text) = shell("synthesis-start", &env);
    assert!(ok, "{text}");
    let workflow = format!("synthesis-{guild}-v1");
    let frozen = wait_until(Duration::from_secs(60), "the synthesis to hit the kill switch", || async {
        let out = run_shell(&format!("temporal workflow describe --workflow-id {workflow} --output json"), &[]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.contains("synthesis is frozen").then_some(text)
    })
    .await;
    assert!(frozen.contains("SynthesisFrozen"), "{frozen}");
    let posts = control.log(0).await.expect("log").iter().filter(|e| e.method == "POST").count();
    assert_eq!(posts, 0, "nothing changes in Discord while frozen");

    let (ok, text) = shell("lift-freeze", &env);
    assert!(ok && text.contains("synthesis running for every guild"), "{text}");
    let done = wait_until(Duration::from_secs(90), "the synthesis to finish after the freeze is lifted", || async {
        let (ok, text) = shell("synthesis-status", &env);
        let status = json_in(&text);
        (ok && status["applied"] == 5 && status["current_op"].is_null()).then_some(status)
    })
    .await;
    assert!(done["failed"].is_null() || done["failed"] == json!([]), "{done}");
    assert_eq!(control.guild(guild.parse().expect("id")).await.expect("state").roles.len(), 7);

    // A freeze without a reason is refused, naming the field.
    let out = run_shell(
        "temporal workflow execute --type KillSwitch --task-queue \"$ARRAKIS_TASK_QUEUE\" --workflow-id kill-switch-global --input '{\"frozen\": true, \"reason\": \"\"}'",
        &env,
    );
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && text.contains("reason: 1 to 500 characters"), "{text}");
    worker.shutdown().expect("drains");
}
