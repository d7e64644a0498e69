//! No input can wedge a run, and a run that is wedged anyway (a bad deploy, a client of another
//! type) is found and recovered with the runbook's lines.
//!
//! - Every workflow started with an input the SDK cannot decode (none, two, `binary/plain`,
//!   nested past serde's limit) fails at once, naming `input`, instead of retrying its first
//!   task forever.
//! - Every synthesis signal takes any payload: garbage is dropped (or ignored) and the run
//!   answers its queries and finishes. (Member sync's and a migration's signals get the same
//!   garbage in their own tests.)
//! - A probe workflow with a strict signal type shows what a wedge looks like and that the
//!   runbook's lines find it and reset it; cancel and terminate are run too.

use arrakis_schemas::workflows::contracts;
use arrakis_tests::{SynthesisStack, TestWorker, fresh_database, run_shell, undecodable_inputs, wait_until};
use serde_json::{Value, json};
use std::time::Duration;

fn cli(line: &str, env: &[(&str, &str)]) -> (bool, String) {
    let out = run_shell(line, env);
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_start_with_an_input_the_sdk_cannot_decode_fails_at_once_naming_the_input() {
    let db = fresh_database().await;
    let worker = TestWorker::start(&db);
    let queue = worker.task_queue.clone();
    // Every workflow type gets one of the undecodable inputs in turn; the synthesis all of them.
    let inputs = undecodable_inputs();
    let mut starts: Vec<(&str, (&str, String))> =
        contracts::all().iter().zip(inputs.iter().cycle()).map(|(c, i)| (c.workflow_type, i.clone())).collect();
    starts.extend(inputs.iter().skip(1).map(|i| ("Synthesis", i.clone())));
    starts.push(("ManifestPublish", inputs[3].clone()));
    let runs = starts.into_iter().map(|(workflow_type, (what, flags))| {
        let queue = queue.clone();
        tokio::task::spawn_blocking(move || {
            let id = format!("wedge-start-{}", uuid::Uuid::new_v4().simple());
            let (ok, text) = cli(
                &format!(
                    "temporal workflow execute --type {workflow_type} --task-queue {queue} --workflow-id {id} {flags}"
                ),
                &[],
            );
            (workflow_type, what, ok, text)
        })
    });
    for run in futures::future::join_all(runs).await {
        let (workflow_type, what, ok, text) = run.expect("the CLI ran");
        assert!(!ok, "{workflow_type} with {what} must fail: {text}");
        assert!(text.contains("FAILED") && text.contains("input: "), "{workflow_type} with {what}: {text}");
        if (workflow_type, what) == ("ManifestPublish", "a rule nested 70 deep") {
            assert!(text.contains("input: nested more than 128 levels deep"), "{text}");
        }
    }
    // Inputs that decode but break a rule are refused the same way, the field named.
    let big_actor = std::env::temp_dir().join(format!("publish-{}.json", uuid::Uuid::new_v4().simple()));
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(arrakis_tests::repo_root().join("schemas/examples/sietch-tabr.json"))
            .expect("example"),
    )
    .expect("JSON");
    std::fs::write(&big_actor, json!({"manifest": manifest, "actor": "x".repeat(1_000_000)}).to_string())
        .expect("file");
    let migration_carried = {
        let mut start: arrakis_schemas::workflows::migration::MigrationInput =
            serde_json::from_value(json!({"guild_id": "1100000000000000001", "strategy": "instant"}))
                .expect("a migration start");
        let mut carried = arrakis_schemas::workflows::migration::MigrationCarried {
            migration_id: "forged".into(),
            ..Default::default()
        };
        carried.status.stage = arrakis_schemas::workflows::migration::MigrationStage::Completed;
        start.carried = Some(carried);
        serde_json::to_string(&start).expect("JSON")
    };
    for (workflow_type, flags, field) in [
        (
            "Synthesis",
            r#"--input '{"guild_id": "1100000000000000001", "version": -1}'"#.to_string(),
            "version: a saved manifest version",
        ),
        ("ManifestPublish", format!("--input-file {}", big_actor.display()), "actor: 1 to 100 characters"),
        // A struct read by position from an array (#27): refused as a whole.
        ("Synthesis", r#"--input '["1100000000000000001", 1]'"#.to_string(), "input: expected a JSON object"),
        ("MemberSync", "--input '[\"1100000000000000001\"]'".to_string(), "input: expected a JSON object"),
        // State only continue-as-new may hand a run: a start cannot skip the first sweep or
        // begin a migration at its last stage.
        (
            "MemberSync",
            r#"--input '{"guild_id": "1100000000000000001", "carried": {}}'"#.to_string(),
            "carried: written by the workflow itself",
        ),
        ("Migration", format!("--input '{migration_carried}'"), "carried: written by the workflow itself"),
        // Every start contract refuses unknown keys, reconciliation's too.
        (
            "Reconcile",
            r#"--input '{"guild_id": "1100000000000000001", "mode": "dry_run", "remvoe": []}'"#.to_string(),
            "unknown field `remvoe`",
        ),
    ] {
        let id = format!("wedge-rule-{}", uuid::Uuid::new_v4().simple());
        let (ok, text) = cli(
            &format!(
                "temporal workflow execute --type {workflow_type} --task-queue {queue} --workflow-id {id} {flags}"
            ),
            &[],
        );
        assert!(!ok && text.contains(field), "{workflow_type}: {}", &text[..text.len().min(2_000)]);
    }
    // Refused before anything ran: nothing was written anywhere.
    let mut admin = db.admin().await;
    for table in ["communities", "manifests", "audit_logs", "kill_switch", "wizard_funnel"] {
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut admin)
            .await
            .expect("count");
        assert_eq!(rows, 0, "{table}: a refused start writes nothing");
    }
    worker.shutdown().expect("drains");
}

async fn five_roles(stack: &SynthesisStack) -> String {
    let guild = stack.new_guild().await;
    stack.publish(
        &guild,
        json!({
            "guild_id": guild, "name": "Garbage", "mode": "parallel", "chains": [],
            "roles": (0..5).map(|i| json!({"key": format!("r{i}"), "name": format!("arrakis-r{i}"), "grant": {"tier": "gold"}})).collect::<Vec<_>>()
        }),
    );
    guild
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_to_every_synthesis_signal_is_dropped_and_the_run_carries_on() {
    let stack = SynthesisStack::start(50).await;
    let worker = stack.in_process_worker();
    let (finishing, cancelled) = (five_roles(&stack).await, five_roles(&stack).await);
    for guild in [&finishing, &cancelled] {
        let (ok, text) = stack.shell("synthesis-start", guild, &[]);
        assert!(ok, "{text}");
        let (ok, text) = stack.shell("synthesis-pause", guild, &[]);
        assert!(ok, "{text}");
    }
    let workflow = format!("synthesis-{finishing}-v1");
    let held = |holds: Value| {
        let stack = &stack;
        let guild = finishing.clone();
        async move {
            wait_until(Duration::from_secs(60), &format!("the synthesis held by {holds}"), || async {
                let status = stack.status(&guild).await;
                (status["planned"] == 5 && status["held_by"] == holds).then_some(status)
            })
            .await
        }
    };
    held(json!(["operator"])).await;
    // Garbage to `freeze` and `thaw` is dropped; `pause` reads nothing, so it still pauses.
    for signal in ["freeze", "thaw", "pause"] {
        arrakis_tests::send_garbage(&workflow, signal);
    }
    let status = held(json!(["operator"])).await;
    assert_eq!(status["applied"], 0, "{status}");
    // `resume` reads nothing either: with any payload it lifts the operator's pause all the
    // same. A guild freeze keeps the run held meanwhile, so every payload reaches a live run.
    let signal = |name: &str, input: &str| {
        let (ok, text) =
            cli(&format!("temporal workflow signal --workflow-id {workflow} --name {name} --input '{input}'"), &[]);
        assert!(ok, "{name}: {text}");
    };
    signal("freeze", r#"{"scope":"guild"}"#);
    held(json!(["operator", "guild_freeze"])).await;
    arrakis_tests::send_garbage(&workflow, "resume");
    held(json!(["guild_freeze"])).await;
    signal("thaw", r#"{"scope":"guild"}"#);
    let done = wait_until(Duration::from_secs(90), "the synthesis to finish", || async {
        let status = stack.status(&finishing).await;
        (status["applied"] == 5 && status["current_op"].is_null()).then_some(status)
    })
    .await;
    assert!(done["failed"].is_null() || done["failed"] == json!([]), "{done}");
    // And `cancel` with a payload cancels (the first signal ends the run, so one payload).
    let cancel = format!("synthesis-{cancelled}-v1");
    let (ok, text) = cli(&format!("temporal workflow signal --workflow-id {cancel} --name cancel --input 123"), &[]);
    assert!(ok, "{text}");
    let (ok, text) = cli(
        &format!(
            "temporal workflow execute --workflow-id {cancel} 2>&1 || temporal workflow result --workflow-id {cancel}"
        ),
        &[],
    );
    assert!(ok && text.contains("\"cancelled\": true") || text.contains("\"cancelled\":true"), "{text}");
    worker.shutdown().expect("drains");
}

/// A workflow whose signal takes a strict type, as Arrakis's did before its inputs became
/// lenient: a payload that does not decode fails every workflow task from then on.
#[allow(missing_docs)]
mod probe {
    use temporalio_macros::{workflow, workflow_methods};
    use temporalio_sdk::{SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult};

    #[workflow]
    #[derive(Default)]
    pub struct StrictProbe {
        last: Option<u32>,
    }

    #[workflow_methods]
    impl StrictProbe {
        #[run(name = "StrictProbe")]
        pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<u32> {
            ctx.wait_condition(|s| s.last == Some(0)).await?;
            Ok(0)
        }

        #[signal(name = "number")]
        pub fn number(&mut self, _ctx: &mut SyncWorkflowContext<Self>, n: u32) {
            self.last = Some(n);
        }

        #[query(name = "status")]
        pub fn status(&self, _ctx: &WorkflowContextView) -> Option<u32> {
            self.last
        }
    }
}

/// Runs the probe on its own task queue until the returned sender is dropped.
fn probe_worker(task_queue: &str) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready, is_ready) = std::sync::mpsc::channel::<()>();
    let task_queue = task_queue.to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let settings = arrakis_worker::Settings::from_lookup(|k| {
                std::env::var(k).ok().or_else(|| k.ends_with("DATABASE_URL").then(|| "postgres://unused".into()))
            })
            .expect("settings");
            let client = arrakis_worker::connect_client(&settings.temporal_address, &settings.namespace, "probe")
                .await
                .expect("temporal");
            let telemetry = temporalio_sdk::runtime::RuntimeOptions::builder().build().expect("options");
            let sdk = temporalio_sdk::Runtime::from_current_tokio(telemetry).expect("sdk runtime");
            let options = temporalio_sdk::WorkerOptions::new(task_queue)
                .register_workflow::<probe::StrictProbe>()
                .expect("registers")
                .build();
            let mut worker = temporalio_sdk::Worker::new(&sdk, client, options).expect("worker");
            let shutdown = worker.shutdown_handle();
            tokio::spawn(async move {
                let _ = stopped.await;
                shutdown();
            });
            let _ = ready.send(());
            worker.run().await.expect("the probe worker runs");
        });
    });
    is_ready.recv_timeout(Duration::from_secs(60)).expect("the probe worker starts");
    stop
}

fn history_has(workflow_id: &str, event: &str) -> bool {
    let (_, text) = cli(&format!("temporal workflow show --workflow-id {workflow_id} --output json"), &[]);
    text.contains(event)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_whose_tasks_fail_is_found_with_the_runbook_and_recovered_by_its_reset_and_the_others_end() {
    let queue = format!("probe-{}", uuid::Uuid::new_v4().simple());
    let _probe = probe_worker(&queue);
    let start = |id: &str| {
        let (ok, text) =
            cli(&format!("temporal workflow start --type StrictProbe --task-queue {queue} --workflow-id {id}"), &[]);
        assert!(ok, "{text}");
    };
    let line = |name: &str, env: &[(&str, &str)]| {
        let out = arrakis_tests::run_runbook(name, env);
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };

    let wedged = format!("probe-wedged-{}", uuid::Uuid::new_v4().simple());
    start(&wedged);
    let (ok, text) =
        cli(&format!("temporal workflow signal --workflow-id {wedged} --name number --input '\"x\"'"), &[]);
    assert!(ok, "the server takes any payload: {text}");
    wait_until(Duration::from_secs(60), "the probe's workflow task to fail", || async {
        history_has(&wedged, "WORKFLOW_TASK_FAILED").then_some(())
    })
    .await;
    let (ok, text) = cli(&format!("temporal workflow query --workflow-id {wedged} --name status"), &[]);
    assert!(!ok, "a wedged run answers no query: {text}");

    // The runbook finds it (the server marks it after repeated failures) and resets it.
    wait_until(Duration::from_secs(90), "the wedged run in the runbook's list", || async {
        let (ok, text) = line("workflow-failed-tasks", &[]);
        (ok && text.contains(&wedged)).then_some(())
    })
    .await;
    let (ok, text) = line("workflow-reset", &[("WORKFLOW_ID", &wedged), ("REASON", "drop the signal it cannot read")]);
    assert!(ok, "{text}");
    let answered = wait_until(Duration::from_secs(60), "the reset run to answer", || async {
        let (ok, text) = cli(&format!("temporal workflow query --workflow-id {wedged} --name status"), &[]);
        ok.then_some(text)
    })
    .await;
    // binary/null: no number yet, the bad signal was not re-applied.
    assert!(answered.contains("YmluYXJ5L251bGw="), "{answered}");
    let (ok, text) = cli(&format!("temporal workflow signal --workflow-id {wedged} --name number --input 0"), &[]);
    assert!(ok, "{text}");
    let (ok, text) = cli(&format!("temporal workflow result --workflow-id {wedged}"), &[]);
    assert!(ok && text.contains("COMPLETED"), "the reset run finishes: {text}");

    // Cancel and terminate end a run, each as it says.
    for (name, status) in [("workflow-cancel", "CANCELED"), ("workflow-terminate", "TERMINATED")] {
        let id = format!("probe-{name}-{}", uuid::Uuid::new_v4().simple());
        start(&id);
        let (ok, text) = line(name, &[("WORKFLOW_ID", &id), ("REASON", "test")]);
        assert!(ok, "{name}: {text}");
        wait_until(Duration::from_secs(30), &format!("{id} to be {status}"), || async {
            let (_, text) = cli(&format!("temporal workflow describe --workflow-id {id} --output json"), &[]);
            text.contains(&format!("WORKFLOW_EXECUTION_STATUS_{status}")).then_some(())
        })
        .await;
    }
}
