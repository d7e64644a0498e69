//! Every recorded history in `tests/histories/` replays against the current workflow code, so
//! a change that would break runs in flight fails CI. Record new ones with
//! `cargo run -p arrakis-tests --bin record-history -- <workflow-id> <name>`.

use arrakis_workflows::{
    EligibilityCheckWorkflow, IncumbentDetectWorkflow, IncumbentHealthWorkflow, KillSwitchWorkflow,
    ManifestPublishWorkflow, MemberSyncWorkflow, MigrationWorkflow, ReconcileWorkflow, ShadowSyncWorkflow,
    SynthesisWorkflow, WalletLinkWorkflow, WizardWorkflow,
};
use prost::Message;
use temporalio_client::WorkflowHistory;
use temporalio_common::protos::temporal::api::history::v1::History;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

/// A replayer with every workflow the worker registers.
fn replayer() -> WorkflowReplayer {
    let mut options = WorkflowReplayerOptions::new().build();
    options.register_workflow::<ManifestPublishWorkflow>().expect("registers");
    options.register_workflow::<SynthesisWorkflow>().expect("registers");
    options.register_workflow::<KillSwitchWorkflow>().expect("registers");
    options.register_workflow::<ReconcileWorkflow>().expect("registers");
    options.register_workflow::<WizardWorkflow>().expect("registers");
    options.register_workflow::<WalletLinkWorkflow>().expect("registers");
    options.register_workflow::<EligibilityCheckWorkflow>().expect("registers");
    options.register_workflow::<ShadowSyncWorkflow>().expect("registers");
    options.register_workflow::<IncumbentDetectWorkflow>().expect("registers");
    options.register_workflow::<MemberSyncWorkflow>().expect("registers");
    options.register_workflow::<MigrationWorkflow>().expect("registers");
    options.register_workflow::<IncumbentHealthWorkflow>().expect("registers");
    WorkflowReplayer::new(options).expect("replayer")
}

#[tokio::test]
async fn recorded_histories_replay_against_the_current_code() {
    let dir = arrakis_tests::repo_root().join("tests/histories");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/histories exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no recorded histories in {}", dir.display());

    let replayer = replayer();
    let mut broken = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path).expect("readable history");
        let history = History::decode(bytes.as_slice()).expect("a protobuf History");
        assert!(history.events.len() > 3, "{} holds a whole run", path.display());
        if let Err(e) = replayer.replay_workflow(WorkflowHistory::from(history)).await {
            broken.push(format!("{} no longer replays: {e}", path.display()));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
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
