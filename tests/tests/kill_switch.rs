//! The kill switch through the runbook's lines: while frozen, a synthesis changes nothing in
//! Discord; each hold is lifted only by what set it (an operator's pause survives the lift of
//! a freeze, a guild's own freeze survives the lift of the global one), and a guild's freeze
//! touches that guild only. (Its own test binary: the global freeze holds every running
//! synthesis in the namespace.)

use arrakis_tests::{SynthesisStack, run_shell, wait_until};
use serde_json::{Value, json};
use sqlx::Row;
use std::time::Duration;

async fn five_roles(stack: &SynthesisStack, name: &str) -> String {
    let guild = stack.new_guild().await;
    stack.publish(
        &guild,
        json!({
            "guild_id": guild, "name": name, "mode": "parallel", "chains": [],
            "roles": (0..5).map(|i| json!({"key": format!("r{i}"), "name": format!("arrakis-r{i}"), "grant": {"tier": "gold"}})).collect::<Vec<_>>()
        }),
    );
    guild
}

/// Waits until the guild's synthesis is planned and held by exactly `holds`, with nothing applied.
async fn held_by(stack: &SynthesisStack, guild: &str, holds: Value) -> Value {
    wait_until(Duration::from_secs(60), &format!("synthesis of {guild} held by {holds}"), || async {
        let status = stack.status(guild).await;
        (status["planned"] == 5 && status["held_by"] == holds).then_some(status)
    })
    .await
}

async fn applied_all(stack: &SynthesisStack, guild: &str) -> Value {
    wait_until(Duration::from_secs(90), &format!("synthesis of {guild} to apply every op"), || async {
        let status = stack.status(guild).await;
        (status["applied"] == 5 && status["current_op"].is_null()).then_some(status)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn each_hold_is_lifted_only_by_what_set_it_and_a_guild_freeze_touches_its_guild_only() {
    let stack = SynthesisStack::start(50).await;
    let worker = stack.in_process_worker();
    let (paused, frozen) = (five_roles(&stack, "Paused").await, five_roles(&stack, "Frozen").await);
    let run = |name: &str, guild: &str| {
        let (ok, text) = stack.shell(name, guild, &[]);
        assert!(ok, "{name}: {text}");
        text
    };

    // Frozen everywhere before they start: both runs plan, then wait, held by the freeze.
    assert!(run("freeze-all", &paused).contains("changes frozen for every guild"));
    run("synthesis-start", &paused);
    run("synthesis-start", &frozen);
    held_by(&stack, &paused, json!(["global_freeze"])).await;
    held_by(&stack, &frozen, json!(["global_freeze"])).await;
    // The operator pauses one; the other guild gets a freeze of its own, which holds only it.
    run("synthesis-pause", &paused);
    let text = run("freeze-guild", &frozen);
    assert!(text.contains("changes frozen for guild") && text.contains("1 running synthesis held"), "{text}");
    held_by(&stack, &paused, json!(["operator", "global_freeze"])).await;
    held_by(&stack, &frozen, json!(["global_freeze", "guild_freeze"])).await;

    // Lifting the global freeze releases neither: one is the operator's, the other its guild's.
    let text = run("lift-freeze", &paused);
    assert!(text.contains("2 running syntheses released"), "{text}");
    held_by(&stack, &paused, json!(["operator"])).await;
    held_by(&stack, &frozen, json!(["guild_freeze"])).await;
    let posts = stack.control.log(0).await.expect("log").iter().filter(|e| e.method == "POST").count();
    assert_eq!(posts, 0, "nothing changes in Discord while held");

    // Lifting the guild's freeze finishes that guild; the operator's pause still holds the other.
    run("lift-guild-freeze", &frozen);
    applied_all(&stack, &frozen).await;
    let status = held_by(&stack, &paused, json!(["operator"])).await;
    assert_eq!(status["applied"], 0, "{status}");
    run("synthesis-resume", &paused);
    applied_all(&stack, &paused).await;
    for guild in [&paused, &frozen] {
        assert_eq!(stack.control.guild(guild.parse().expect("id")).await.expect("state").roles.len(), 7);
    }

    // A lift the run never heard of (set straight in the database here; in life, a lift that
    // raced the run's plan) releases it all the same: a held run asks the gate now and then.
    let mut admin = stack.db.admin().await;
    let unheard = five_roles(&stack, "Unheard").await;
    let set_frozen = |frozen: bool| {
        sqlx::query("UPDATE communities SET frozen = $1 WHERE guild_id = $2")
            .bind(frozen)
            .bind(unheard.parse::<i64>().expect("id"))
    };
    set_frozen(true).execute(&mut admin).await.expect("freeze");
    run("synthesis-start", &unheard);
    held_by(&stack, &unheard, json!(["guild_freeze"])).await;
    set_frozen(false).execute(&mut admin).await.expect("lift");
    applied_all(&stack, &unheard).await;

    // The guild's freeze and its lifting are in its own audit log, with the reason and who.
    let rows = sqlx::query(
        "SELECT a.action, a.actor, a.detail->>'reason' AS reason FROM audit_logs a JOIN communities c USING (community_id)
         WHERE c.guild_id = $1 AND a.action LIKE 'kill_switch.%' ORDER BY a.id",
    )
    .bind(frozen.parse::<i64>().expect("id"))
    .fetch_all(&mut admin)
    .await
    .expect("audit rows");
    let audited: Vec<(String, String, String)> =
        rows.iter().map(|r| (r.get("action"), r.get("actor"), r.get("reason"))).collect();
    assert_eq!(
        audited,
        [
            ("kill_switch.frozen".to_string(), "cli:oncall".to_string(), "investigating".to_string()),
            ("kill_switch.lifted".to_string(), "cli:oncall".to_string(), "resolved".to_string()),
        ]
    );

    // Bad input is refused naming the field, and sets nothing.
    for (input, field) in [
        (json!({"frozen": true, "reason": ""}), "reason: must not be empty"),
        (json!({"frozen": true, "reason": "\u{200b}\u{200b}"}), "reason: must contain a visible character"),
        (json!({"frozen": true, "reason": "r", "actor": "x".repeat(1_000_000)}), "actor: 1 to 100 characters"),
        (json!({"frozen": true, "reason": "r", "actor": "\u{200b}"}), "actor: 1 to 100 characters"),
    ] {
        let path = std::env::temp_dir().join(format!("kill-switch-{}.json", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, input.to_string()).expect("input file");
        let out = run_shell(
            &format!(
                "temporal workflow execute --type KillSwitch --task-queue \"$ARRAKIS_TASK_QUEUE\" \
                 --workflow-id kill-switch-refused-{} --input-file {}",
                uuid::Uuid::new_v4().simple(),
                path.display()
            ),
            &[("ARRAKIS_TASK_QUEUE", stack.task_queue.as_str())],
        );
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!out.status.success() && text.contains(field), "{field}: {}", &text[..text.len().min(2000)]);
    }
    let frozen_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM kill_switch WHERE frozen")
        .fetch_one(&mut admin)
        .await
        .expect("kill_switch");
    assert_eq!(frozen_rows, 0, "a refused freeze sets nothing");
    worker.shutdown().expect("drains");
}
