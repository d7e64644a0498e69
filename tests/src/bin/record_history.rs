//! Records a workflow's history into `tests/histories/` for the replay test.
//!
//! ```sh
//! eval "$(scripts/dev env)"
//! cargo run -p arrakis-tests --bin record-history -- <workflow-id> <name> [run-id]
//! ```
//! writes `tests/histories/<name>.bin` (protobuf `History`, what the replayer reads). The CLI's
//! `temporal workflow show --output json` is proto3 JSON, which the Rust replayer cannot read.

use anyhow::{Context, bail};
use prost::Message;
use temporalio_client::{WorkflowExecutionInfo, WorkflowFetchHistoryOptions};
use temporalio_common::protos::temporal::api::history::v1::History;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (workflow_id, name, run_id) = match args.as_slice() {
        [id, name] => (id, name, None),
        [id, name, run] => (id, name, Some(run.clone())),
        _ => bail!("usage: record-history <workflow-id> <name> [run-id]  (writes tests/histories/<name>.bin)"),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        bail!("name: letters, digits, '-' and '_' only, got {name:?}");
    }
    let settings = arrakis_worker::Settings::from_lookup(|k| {
        std::env::var(k).ok().or_else(|| k.ends_with("DATABASE_URL").then(|| "postgres://unused".into()))
    })?;
    let client =
        arrakis_worker::connect_client(&settings.temporal_address, &settings.namespace, "record-history").await?;
    let execution = WorkflowExecutionInfo::builder()
        .namespace(settings.namespace.clone())
        .workflow_id(workflow_id.clone())
        .maybe_run_id(run_id)
        .build();
    let events = execution
        .bind_untyped(client)
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .with_context(|| format!("fetching the history of {workflow_id}"))?;
    let path = arrakis_tests::repo_root().join("tests/histories").join(format!("{name}.bin"));
    std::fs::write(&path, History { events }.encode_to_vec())?;
    println!("wrote {}", path.display());
    Ok(())
}
