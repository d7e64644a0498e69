//! Every recorded history in `tests/histories/` replays against the current workflow code, so
//! a change that would break runs in flight fails CI. Record new ones with
//! `cargo run -p arrakis-tests --bin record-history -- <workflow-id> <name>`.

use arrakis_schemas::{
    RawPayload,
    workflows::contracts::{self, Check},
};
use prost::Message;
use temporalio_client::WorkflowHistory;
use temporalio_common::protos::temporal::api::{
    common::v1::Payloads,
    history::v1::{History, history_event::Attributes},
};
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

/// A replayer with every workflow the worker registers.
fn replayer() -> WorkflowReplayer {
    let mut options = WorkflowReplayerOptions::new().build();
    let register = |options: &mut WorkflowReplayerOptions| -> Result<(), Box<dyn std::error::Error>> {
        arrakis_workflows::register_workflows!(options);
        Ok(())
    };
    register(&mut options).expect("registers");
    WorkflowReplayer::new(options).expect("replayer")
}

/// Every recorded history, by file name.
fn histories() -> Vec<(String, History)> {
    let dir = arrakis_tests::repo_root().join("tests/histories");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/histories exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no recorded histories in {}", dir.display());
    paths
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("readable history");
            let history = History::decode(bytes.as_slice()).expect("a protobuf History");
            (path.file_name().expect("a file").to_string_lossy().into_owned(), history)
        })
        .collect()
}

/// Payloads recorded on purpose because today's types refuse them: the runs that prove a bad
/// input fails cleanly and a bad signal is dropped. (history, what) — each must still be
/// refused, so a type that started accepting them would be noticed too.
const REFUSED_ON_PURPOSE: &[(&str, &str)] = &[
    ("incumbent-detect-rejected-override.bin", "IncumbentDetect input"),
    ("member-sync-rejected-settings.bin", "MemberSync input"),
    ("member-sync-refused-bad-input.bin", "signal member_event"),
    ("member-sync-refused-bad-input.bin", "signal wallet_linked"),
    ("member-sync-refused-bad-input.bin", "signal sync_member"),
    ("manifest-publish-rule-nested-70-deep-failed-naming-the-input.bin", "ManifestPublish input"),
    ("synthesis-started-without-input-failed-naming-it.bin", "Synthesis input"),
    ("synthesis-started-with-binary-input-failed-naming-it.bin", "Synthesis input"),
    ("synthesis-garbage-signals-dropped-then-finished.bin", "signal freeze"),
    ("synthesis-garbage-signals-dropped-then-finished.bin", "signal thaw"),
];

#[tokio::test]
async fn recorded_histories_replay_against_the_current_code() {
    let replayer = replayer();
    let mut broken = Vec::new();
    for (name, history) in histories() {
        let path = name;
        assert!(history.events.len() > 3, "{path} holds a whole run");
        if let Err(e) = replayer.replay_workflow(WorkflowHistory::from(history)).await {
            broken.push(format!("{path} no longer replays: {e}"));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

fn raw(payloads: Option<&Payloads>) -> Vec<RawPayload> {
    payloads.map(|p| p.payloads.iter().cloned().map(RawPayload::from).collect()).unwrap_or_default()
}

/// Every payload of a history that a workflow reads or a client reads back (its input, the
/// signals and updates it was sent, the inputs of the children it started and the signals it
/// sent, its result), each with the check of today's type: (what, check, payloads).
fn recorded_payloads(history: &History) -> Vec<(String, Option<Check>, Vec<RawPayload>)> {
    let mut own = None;
    let mut found = Vec::new();
    let signal_anywhere = |name: &str| contracts::all().iter().find_map(|c| c.signal(name));
    for event in &history.events {
        let Some(attributes) = &event.attributes else { continue };
        match attributes {
            Attributes::WorkflowExecutionStartedEventAttributes(a) => {
                let ty = a.workflow_type.as_ref().map(|t| t.name.clone()).unwrap_or_default();
                own = contracts::of(&ty);
                found.push((format!("{ty} input"), own.map(|c| c.input), raw(a.input.as_ref())));
            }
            Attributes::WorkflowExecutionSignaledEventAttributes(a) => {
                let check = own.and_then(|c| c.signal(&a.signal_name));
                found.push((format!("signal {}", a.signal_name), check, raw(a.input.as_ref())));
            }
            Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(a) => {
                if let Some(input) = a.accepted_request.as_ref().and_then(|r| r.input.as_ref()) {
                    let check = own.and_then(|c| c.update(&input.name));
                    found.push((format!("update {}", input.name), check, raw(input.args.as_ref())));
                }
            }
            Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(a) => {
                let ty = a.workflow_type.as_ref().map(|t| t.name.clone()).unwrap_or_default();
                let check = contracts::of(&ty).map(|c| c.input);
                found.push((format!("child {ty} input"), check, raw(a.input.as_ref())));
            }
            Attributes::SignalExternalWorkflowExecutionInitiatedEventAttributes(a) => {
                let check = signal_anywhere(&a.signal_name);
                found.push((format!("external signal {}", a.signal_name), check, raw(a.input.as_ref())));
            }
            Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a) => {
                let ty = a.workflow_type.as_ref().map(|t| t.name.clone()).unwrap_or_default();
                let check = contracts::of(&ty).map(|c| c.input);
                found.push((format!("continued-as-new {ty} input"), check, raw(a.input.as_ref())));
            }
            Attributes::WorkflowExecutionCompletedEventAttributes(a) => {
                found.push(("result".to_string(), own.map(|c| c.output), raw(a.result.as_ref())));
            }
            _ => {}
        }
    }
    found
}

#[test]
fn every_recorded_payload_still_decodes_against_todays_types() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, history) in histories() {
        for (what, check, payloads) in recorded_payloads(&history) {
            let on_purpose = REFUSED_ON_PURPOSE.iter().any(|(h, w)| *h == name && *w == what);
            let Some(check) = check else {
                problems.push(format!(
                    "{name}: {what} has no contract (a workflow, signal or update not in contracts::all)"
                ));
                continue;
            };
            checked += 1;
            match (check(&payloads), on_purpose) {
                (Ok(()), false) | (Err(_), true) => {}
                (Err(e), false) => problems.push(format!("{name}: {what} no longer decodes: {e}")),
                (Ok(()), true) => problems.push(format!("{name}: {what} was recorded as refused, and is now accepted")),
            }
        }
    }
    assert!(checked > 100, "only {checked} payloads checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_type_change_that_breaks_a_recorded_payload_is_caught() {
    // The guard must be able to fail: a recorded synthesis input, with its version turned into
    // a string, is what a renamed or retyped field would leave behind.
    let (_, history) = histories().into_iter().find(|(n, _)| n == "synthesis-ordered-roles.bin").expect("recorded");
    let (_, check, mut payloads) = recorded_payloads(&history).into_iter().next().expect("the input");
    assert!(check.expect("synthesis has a contract")(&payloads).is_ok());
    let mut input: serde_json::Value = serde_json::from_slice(&payloads[0].data).expect("json");
    input["version"] = serde_json::json!("one");
    payloads[0].data = input.to_string().into_bytes();
    let refused = check.expect("contract")(&payloads).expect_err("a string version is refused");
    assert_eq!(refused.0[0].field, "version", "{refused}");
}

#[tokio::test]
async fn a_changed_workflow_fails_replay() {
    // The guard must be able to fail: replaying a publish history with its activity-scheduled
    // event removed is a nondeterminism the replayer has to report.
    let bytes = std::fs::read(arrakis_tests::repo_root().join("tests/histories/manifest-publish-saved.bin"))
        .expect("the saved-publish history");
    let mut history = History::decode(bytes.as_slice()).expect("protobuf");
    let scheduled = history
        .events
        .iter()
        .position(|e| e.event_type == 10) // EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        .expect("the publish schedules an activity");
    history.events.truncate(scheduled);
    let mut tail = History::decode(bytes.as_slice()).expect("protobuf").events.split_off(scheduled + 1);
    for e in &mut tail {
        e.event_id -= 1;
    }
    history.events.extend(tail);
    assert!(replayer().replay_workflow(WorkflowHistory::from(history)).await.is_err());
}
