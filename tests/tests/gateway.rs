//! The gateway against the Discord stand-in and the real Temporal: command registration,
//! member events, resuming after a dropped connection, de-duplication across replicas, a
//! reconnect that starts no detection for judged guilds, shards split across two processes,
//! and slash commands acknowledged at once when Temporal is slow.

use arrakis_gateway::{detections::Judged, redis_link::RedisLink};
use arrakis_sim::{MemberSeed, MembersSeed};
use arrakis_tests::{SIM_TOKEN, SynthesisStack, operator::Operator, run_shell, wait_until};
use std::{sync::Arc, time::Duration};
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
    let metrics = wait_until(Duration::from_secs(20), "the RESUMED", || async {
        let metrics = gateway.metrics().await;
        (metric(&metrics, "arrakis_gateway_events_total{type=\"RESUMED\"}") >= 1).then_some(metrics)
    })
    .await;
    assert_eq!(
        metric(&metrics, "arrakis_gateway_shard_sessions_total{how=\"identify\",shard=\"0\"}"),
        1,
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

/// The IncumbentDetect runs on `task_queue`, counted in Temporal (the CLI runs off the
/// runtime's threads: the stand-in shares them and must keep sending meanwhile).
async fn detections_started(task_queue: &str) -> u64 {
    let query =
        format!("temporal workflow count --query \"WorkflowType='IncumbentDetect' AND TaskQueue='{task_queue}'\"");
    let out = tokio::task::spawn_blocking(move || run_shell(&query, &[])).await.expect("the CLI ran");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().last().and_then(|n| n.parse().ok()).unwrap_or(0)
}

async fn judge(task_queue: &str, guilds: &[u64]) {
    let redis = Arc::new(RedisLink::new(&arrakis_tests::stack_env("REDIS_URL")).expect("a Redis URL"));
    let judged = Judged::new(redis, task_queue);
    for guild in guilds {
        judged.mark(*guild).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_of_a_1000_guild_shard_starts_detection_only_for_guilds_nobody_judged() {
    let stack = SynthesisStack::start(50).await;
    let guilds = stack.control.create_guilds(1_000).await.expect("guilds");
    // 990 were judged before this gateway came up; 10 were not.
    judge(&stack.task_queue, &guilds[10..]).await;
    let gateway = stack.gateway().await;
    let checked = |verdict: &'static str| {
        let gateway = &gateway;
        async move {
            metric(&gateway.metrics().await, &format!("arrakis_gateway_backlog_guilds_total{{verdict=\"{verdict}\"}}"))
        }
    };
    wait_until(Duration::from_secs(120), "the backlog delivered and the 10 unjudged guilds' detections", || async {
        let created = metric(&gateway.metrics().await, "arrakis_gateway_events_total{type=\"GUILD_CREATE\"}");
        // Every GUILD_CREATE of the backlog arrived: the session is invalidated after, not during, it.
        (created >= 1_000 && detections_started(&stack.task_queue).await == 10 && checked("judged").await == 990)
            .then_some(())
    })
    .await;
    // They finish (no worker here: ended by hand), so a start would now make a new run.
    let end = format!(
        "temporal workflow terminate --query \"WorkflowType='IncumbentDetect' AND TaskQueue='{}'\" --reason judged --yes",
        stack.task_queue
    );
    assert!(run_shell(&end, &[]).status.success());

    // Discord forgets the session: READY and all 1,000 GUILD_CREATEs again.
    stack.control.invalidate_sessions().await.expect("invalidated");
    wait_until(Duration::from_secs(120), "the second READY's backlog, delivered and checked", || async {
        let metrics = gateway.metrics().await;
        let identified = metric(&metrics, "arrakis_gateway_shard_sessions_total{how=\"identify\",shard=\"0\"}");
        let created = metric(&metrics, "arrakis_gateway_events_total{type=\"GUILD_CREATE\"}");
        (identified == 2 && created >= 2_000 && checked("judged").await == 1_990).then_some(())
    })
    .await;
    assert_eq!(checked("unjudged").await, 10, "nothing unjudged the second time");
    assert_eq!(detections_started(&stack.task_queue).await, 10, "the reconnect started nothing");

    // A guild the bot joins is judged at once.
    stack.new_guild().await;
    wait_until(Duration::from_secs(30), "the join's detection", || async {
        (detections_started(&stack.task_queue).await == 11).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateway_processes_split_a_10000_guild_bot_without_a_duplicate_or_a_missed_interaction() {
    let stack = SynthesisStack::start(50).await;
    let guilds = stack.control.create_guilds(10_000).await.expect("guilds");
    judge(&stack.task_queue, &guilds).await;
    let half = |range: &str| {
        let mut env = stack.gateway_env();
        env.push(("ARRAKIS_SHARDS".into(), range.into()));
        arrakis_tests::TestGateway::start(env)
    };
    let (first, second) = (half("0-0/2"), half("1-1/2"));
    first.wait_ready().await;
    second.wait_ready().await;
    let created = |gateway: &arrakis_tests::TestGateway| {
        let addr = gateway.http_addr;
        async move {
            let text = arrakis_tests::http_get(addr, "/metrics").await.map(|r| r.1).unwrap_or_default();
            metric(&text, "arrakis_gateway_events_total{type=\"GUILD_CREATE\"}")
        }
    };
    let (a, b) = wait_until(Duration::from_secs(60), "every guild announced once", || async {
        let (a, b) = (created(&first).await, created(&second).await);
        (a + b >= 10_000).then_some((a, b))
    })
    .await;
    assert_eq!(a + b, 10_000, "each guild to one process only");
    assert!(a > 4_000 && b > 4_000, "split by shard: {a} / {b}");

    // 200 interactions in guilds all over: each answered once, by the process of its shard.
    let ops: Vec<Operator> = guilds
        .iter()
        .step_by(50)
        .map(|g| {
            let mut op = Operator::admin(stack.control.clone(), *g, MEMBER, None);
            op.permissions = 0;
            op
        })
        .collect();
    let answers = futures::future::join_all(ops.iter().map(|op| op.command("status", &[]))).await;
    for answer in answers {
        let answer = answer.expect("answered");
        assert_eq!(answer.report.callbacks.len(), 1, "{:?}", answer.report.callbacks);
        assert!(answer.content().contains("Manage Server"), "{}", answer.content());
    }
    let outcome = |text: &str, outcome: &str| {
        metric(text, &format!("arrakis_gateway_interactions_total{{outcome=\"{outcome}\"}}"))
    };
    let (ma, mb) = (first.metrics().await, second.metrics().await);
    assert_eq!(outcome(&ma, "refused") + outcome(&mb, "refused"), 200, "every interaction answered");
    assert!(outcome(&ma, "refused") > 0 && outcome(&mb, "refused") > 0, "both processes answered");
    assert_eq!(outcome(&ma, "duplicate") + outcome(&mb, "duplicate"), 0, "none delivered twice");
    assert_eq!(detections_started(&stack.task_queue).await, 0, "every guild was judged: nothing started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slash_command_is_acknowledged_at_once_and_answered_by_an_edit_when_temporal_is_slow() {
    let stack = SynthesisStack::start(50).await;
    let gateway = stack.gateway().await;
    let guild: u64 = stack.new_guild().await.parse().expect("id");
    // No worker yet: the wizard's update-with-start waits for one.
    let interaction = arrakis_sim::InjectInteraction {
        message_content: None,
        guild_id: Some(guild),
        channel_id: None,
        user_id: Some(MEMBER),
        member_permissions: Some(arrakis_tests::operator::MANAGE_GUILD),
        action: arrakis_sim::Action::SlashCommand {
            name: "arrakis".into(),
            subcommand: Some("setup".into()),
            options: Vec::new(),
        },
    };
    let (id, _) = stack.control.inject(&interaction).await.expect("injected");
    let acked = stack.control.interaction(id, 3_000).await.expect("report");
    assert_eq!(acked.callbacks.first().map(|c| c["type"].clone()), Some(serde_json::json!(5)), "deferred");
    assert!(acked.acknowledged_after_ms.is_some_and(|ms| ms < 3_000), "within Discord's 3 s: {acked:?}");
    // Temporal catches up: the answer arrives as an edit of the deferred response.
    let _worker = stack.in_process_worker();
    let edited = wait_until(Duration::from_secs(20), "the edit with the wizard's first step", || async {
        let report = stack.control.interaction(id, 0).await.ok()?;
        let content = report.original?["content"].as_str()?.to_string();
        content.contains("step 1/").then_some(content)
    })
    .await;
    assert!(edited.contains("Name your community"), "{edited}");
    assert!(metric(&gateway.metrics().await, "arrakis_gateway_interactions_deferred_total{kind=\"command\"}") >= 1);
}

/// Every kind of interaction (a slash command, a button, a modal submit) is acknowledged within
/// Discord's 3 s whatever state Temporal is in: healthy (answered at once), slow (no worker:
/// deferred, then completed by an edit or a follow-up once one comes) and stopped (unreachable:
/// "busy"). Temporal is reached through a relay the test cuts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_interaction_is_answered_in_time_whether_temporal_is_healthy_slow_or_stopped() {
    use arrakis_tests::chain::TcpRelay;
    let stack = SynthesisStack::start(50).await;
    let temporal = arrakis_tests::stack_env("TEMPORAL_ADDRESS").parse().expect("host:port");
    let relay = TcpRelay::start(temporal).await;
    let mut env = stack.gateway_env();
    env.push(("TEMPORAL_ADDRESS".into(), relay.url().trim_start_matches("http://").to_string()));
    let gateway = arrakis_tests::TestGateway::start(env);
    gateway.wait_ready().await;
    let guild: u64 = stack.new_guild().await.parse().expect("id");
    let op = Operator::admin(stack.control.clone(), guild, MEMBER, None);
    let in_time = |what: &str, answer: &arrakis_tests::operator::Answer| {
        assert!(answer.ack_ms().is_some_and(|ms| ms < 3_000), "{what}: acknowledged within 3 s: {:?}", answer.report);
    };
    let init = [("name", "Sietch"), ("theme", "basic"), ("mode", "exclusive")];

    // Healthy.
    let worker = stack.in_process_worker();
    let setup = op.command("setup", &[]).await.expect("setup");
    in_time("healthy command", &setup);
    assert!(setup.content().contains("step 1/8"), "{}", setup.content());
    let submitted = op.fill("INIT", &init).await.expect("INIT");
    in_time("healthy modal submit", &submitted);
    assert!(submitted.content().contains("step 2/8"), "{}", submitted.content());
    let back = op.press("wiz:back").await.expect("back");
    in_time("healthy button", &back);
    assert!(back.content().contains("step 1/8"), "{}", back.content());

    // Slow: no worker, so every update waits. Each is deferred at once, on the message it sits
    // on, and completed when a worker comes back.
    drop(worker);
    let (id, _) = stack
        .control
        .inject(&arrakis_sim::InjectInteraction {
            message_content: None,
            guild_id: Some(guild),
            channel_id: None,
            user_id: Some(MEMBER),
            member_permissions: Some(arrakis_tests::operator::MANAGE_GUILD),
            action: arrakis_sim::Action::ModalSubmit {
                custom_id: "wiz:submit:INIT".into(),
                fields: init.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            },
        })
        .await
        .expect("injected");
    let deferred = stack.control.interaction(id, 3_000).await.expect("report");
    assert_eq!(deferred.callbacks.first().map(|c| c["type"].clone()), Some(serde_json::json!(6)), "{deferred:?}");
    assert!(deferred.acknowledged_after_ms.is_some_and(|ms| ms < 3_000), "{deferred:?}");
    let _worker = stack.in_process_worker();
    let followed = wait_until(Duration::from_secs(20), "the slow modal submit's follow-up", || async {
        let report = stack.control.interaction(id, 0).await.ok()?;
        let content = report.followups.first()?["content"].as_str()?.to_string();
        Some(content)
    })
    .await;
    assert!(followed.contains("step 2/8"), "{followed}");
    assert!(
        metric(&gateway.metrics().await, "arrakis_gateway_interactions_deferred_total{kind=\"modal_submit\"}") >= 1
    );

    // Stopped: Temporal is unreachable; each kind is told "busy" in time, and nothing hangs.
    relay.kill();
    for (what, answer) in [
        ("stopped command", op.command("setup", &[]).await),
        ("stopped button", op.press("wiz:back").await),
        ("stopped modal submit", op.submit("wiz:submit:INIT", &init).await),
    ] {
        let answer = answer.expect(what);
        in_time(what, &answer);
        assert!(answer.content().contains("busy"), "{what}: {}", answer.content());
    }
    assert!(metric(&gateway.metrics().await, "arrakis_gateway_interactions_total{outcome=\"busy\"}") >= 3);
}
