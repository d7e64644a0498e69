//! The gateway against the Discord stand-in and the real Temporal: command registration,
//! member events, resuming after a dropped connection, and de-duplication across replicas.

use arrakis_sim::{MemberSeed, MembersSeed};
use arrakis_tests::{SIM_TOKEN, SynthesisStack, operator::Operator, run_shell, wait_until};
use std::time::Duration;
use twilight_model::id::Id;

const MEMBER: u64 = 333_333_333_333_333_333;

fn metric(text: &str, line_prefix: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_registered_once_however_often_the_gateway_starts() {
    let stack = SynthesisStack::start(50).await;
    drop(stack.gateway().await);
    let _again = stack.gateway().await;
    let http = twilight_http::Client::builder().proxy(stack.sim.api_host(), true).token(SIM_TOKEN.to_string()).build();
    let app = Id::new(arrakis_sim::SimConfig::default().application_id);
    let commands = http.interaction(app).global_commands().await.expect("listed").models().await.expect("commands");
    let top: Vec<&str> = commands.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(top, ["arrakis", "verify", "check-eligibility"], "{commands:?}");
    let names: Vec<&str> = commands[0].options.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["setup", "resume", "status", "reconcile", "sync", "migrate", "rollback", "incumbent"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_events_are_passed_to_the_guilds_member_sync_workflow() {
    let stack = SynthesisStack::start(50).await;
    let gateway = stack.gateway().await;
    let (with_workflow, without) = (stack.new_guild().await, stack.new_guild().await);
    // A member-sync run that nothing polls, so the
    // signals stay in its history for the test to read.
    let out = run_shell(
        &format!(
            "temporal workflow start --type MemberSync --task-queue nobody-polls-{with_workflow} --workflow-id member-sync-{with_workflow}"
        ),
        &[],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for guild in [&with_workflow, &without] {
        let seed = MembersSeed {
            members: vec![MemberSeed { id: Some(MEMBER), username: Some("chani".into()), ..MemberSeed::default() }],
            generate: None,
        };
        stack.control.seed_members(guild.parse().expect("id"), &seed).await.expect("member joins");
    }
    let id = format!("member-sync-{with_workflow}");
    let history = wait_until(Duration::from_secs(20), "the member event signal", || {
        let id = id.clone();
        async move {
            let out = run_shell(&format!("temporal workflow show --workflow-id {id} --output json"), &[]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.contains("member_event").then_some(text)
        }
    })
    .await;
    assert!(history.contains("WORKFLOW_EXECUTION_SIGNALED"), "{history}");
    let metrics = gateway.metrics().await;
    assert!(metric(&metrics, "arrakis_gateway_member_events_total{outcome=\"signalled\"}") >= 1, "{metrics}");
    wait_until(Duration::from_secs(10), "the event without a workflow to be counted", || {
        let gateway = &gateway;
        async move {
            (metric(&gateway.metrics().await, "arrakis_gateway_member_events_total{outcome=\"no_workflow\"}") >= 1)
                .then_some(())
        }
    })
    .await;
    let _ = run_shell(&format!("temporal workflow terminate --workflow-id {id} --reason test-done"), &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_dropped_connection_the_shard_resumes_and_interactions_are_answered() {
    let stack = SynthesisStack::start(50).await;
    let gateway = stack.gateway().await;
    let guild = stack.new_guild().await;
    stack.control.drop_gateway().await.expect("dropped");
    gateway.wait_ready().await;
    let mut op = Operator::admin(stack.control.clone(), guild.parse().expect("id"), MEMBER, None);
    op.permissions = 0;
    let answer = op.command("status", &[]).await.expect("answered after the reconnect");
    assert!(answer.content().contains("Manage Server"), "{}", answer.content());
    let metrics = gateway.metrics().await;
    assert!(
        metric(&metrics, "arrakis_gateway_events_total{type=\"RESUMED\"}") >= 1,
        "resumed, not re-identified: {metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateway_replicas_answer_each_interaction_once() {
    let stack = SynthesisStack::start(50).await;
    let (a, b) = (stack.gateway().await, stack.gateway().await);
    let guild = stack.new_guild().await;
    let mut op = Operator::admin(stack.control.clone(), guild.parse().expect("id"), MEMBER, None);
    op.permissions = 0;
    for _ in 0..5 {
        let answer = op.command("setup", &[]).await.expect("answered");
        assert_eq!(answer.report.callbacks.len(), 1, "one response: {:?}", answer.report.callbacks);
    }
    let count = |text: &str, outcome: &str| {
        metric(text, &format!("arrakis_gateway_interactions_total{{outcome=\"{outcome}\"}}"))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (ma, mb) = (a.metrics().await, b.metrics().await);
        let duplicates = count(&ma, "duplicate") + count(&mb, "duplicate");
        let refused = count(&ma, "refused") + count(&mb, "refused");
        if duplicates == 5 && refused == 5 {
            assert_eq!(count(&ma, "failed") + count(&mb, "failed"), 0, "no response was sent twice");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "duplicates {duplicates}, refused {refused}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
