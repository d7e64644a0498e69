//! The kill switch through the runbook's lines: while frozen, a synthesis changes nothing in
//! Discord; lifted, it finishes. (Its own test binary: the batch signals reach every running
//! synthesis in the namespace.)

use arrakis_tests::{SynthesisStack, run_shell, runbook_snippet, wait_until};
use serde_json::{Value, json};
use std::time::Duration;

fn shell(name: &str, env: &[(&str, &str)]) -> (bool, String) {
    let out = run_shell(&runbook_snippet(name).expect("runbook line"), env);
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn json_in(text: &str) -> Value {
    serde_json::from_str(text[text.find('{').unwrap_or(0)..].trim()).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_synthesis_changes_nothing_until_the_freeze_is_lifted() {
    let stack = SynthesisStack::start(50).await;
    let worker = stack.in_process_worker();
    let guild = stack.new_guild().await;
    let control = &stack.control;
    stack.publish(
        &guild,
        json!({
            "guild_id": guild, "name": "Frozen", "mode": "parallel", "chains": [],
            "roles": (0..5).map(|i| json!({"key": format!("r{i}"), "name": format!("arrakis-r{i}"), "grant": {"tier": "gold"}})).collect::<Vec<_>>()
        }),
    );
    let env = [("ARRAKIS_TASK_QUEUE", stack.task_queue.as_str()), ("GUILD_ID", guild.as_str()), ("VERSION", "1")];
    let (ok, text) = shell("freeze-all", &env);
    assert!(ok && text.contains("synthesis frozen for every guild"), "{text}");
    let (ok, text) = shell("synthesis-start", &env);
    assert!(ok, "{text}");
    let workflow = format!("synthesis-{guild}-v1");
    let frozen = wait_until(Duration::from_secs(60), "the synthesis to hit the kill switch", || async {
        let out = run_shell(&format!("temporal workflow describe --workflow-id {workflow} --output json"), &[]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.contains("changes are frozen").then_some(text)
    })
    .await;
    assert!(frozen.contains("\"Frozen\""), "{frozen}");
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
