#![doc = include_str!("../README.md")]

mod apply;
#[allow(missing_docs)]
mod eligibility_check;
// The SDK macros add undocumented marker constants (one per handler) to each workflow.
#[allow(missing_docs)]
mod incumbent_detect;
#[allow(missing_docs)]
mod incumbent_health;
#[allow(missing_docs)]
mod kill_switch;
#[allow(missing_docs)]
mod manifest_publish;
#[allow(missing_docs)]
mod member_sync;
#[allow(missing_docs)]
mod migration;
#[allow(missing_docs)]
mod reconcile;
mod retry;
#[allow(missing_docs)]
mod shadow_sync;
#[allow(missing_docs)]
mod synthesis;
#[allow(missing_docs)]
mod wallet_link;
#[allow(missing_docs)]
mod wizard;

pub use eligibility_check::EligibilityCheckWorkflow;
pub use incumbent_detect::IncumbentDetectWorkflow;
pub use incumbent_health::IncumbentHealthWorkflow;
pub use kill_switch::KillSwitchWorkflow;
pub use manifest_publish::ManifestPublishWorkflow;
pub use member_sync::MemberSyncWorkflow;
pub use migration::MigrationWorkflow;
pub use reconcile::ReconcileWorkflow;
pub use shadow_sync::ShadowSyncWorkflow;
pub use synthesis::SynthesisWorkflow;
pub use wallet_link::WalletLinkWorkflow;
pub use wizard::WizardWorkflow;

use arrakis_schemas::{Lenient, ValidationErrors};
use serde::{Serialize, de::DeserializeOwned};
use temporalio_common::search_attributes::SearchAttributeKey;
use temporalio_sdk::{ApplicationFailure, WorkflowTermination};

/// The non-retryable failure for input that does not fit the contract: what was wrong, by
/// field, and nothing done.
fn invalid_input(what: &str, errors: &ValidationErrors) -> WorkflowTermination {
    ApplicationFailure::builder(format!("invalid {what} input: {errors}"))
        .type_name("InvalidInput".to_string())
        .non_retryable(true)
        .build()
        .into()
}

/// Refuses continuation state in a start that is not a continue-as-new: only the workflow
/// itself may hand a run its `carried` state, so a CLI start cannot skip what a fresh run
/// checks (a migration's readiness, a sync's first sweep).
fn refuse_carried_on_start(what: &str, carried: bool, continued: bool) -> Result<(), WorkflowTermination> {
    if carried && !continued {
        let mut errors = ValidationErrors::default();
        errors.push(
            "carried",
            "written by the workflow itself when it continues as new: leave it out of a start".to_string(),
        );
        return Err(invalid_input(what, &errors));
    }
    Ok(())
}

/// A duration in whole milliseconds (saturating), as carried state and timers keep it.
fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Workflow time (`ctx.workflow_time()`, replayed from history, never the system clock) in
/// Unix milliseconds; 0 before the first task has a time.
fn time_ms(t: Option<std::time::SystemTime>) -> u64 {
    t.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, ms)
}

/// Whether an activity refused (a non-retryable application error, raised before it changed
/// anything) rather than running out of retries part way.
fn refused(e: &temporalio_sdk::ActivityExecutionError) -> bool {
    matches!(e.cause(), Some(temporalio_common::error::IncomingError::Application(a)) if a.is_non_retryable())
}

/// Parses a workflow's lenient input into its contract type, or fails the run cleanly.
fn parse_input<T: Serialize + DeserializeOwned>(what: &str, input: &Lenient<T>) -> Result<T, WorkflowTermination> {
    input.parse().map_err(|errors| invalid_input(what, &errors))
}

/// Logs, outside replay, a signal payload a run dropped: one that does not fit the contract,
/// or any payload sent to a signal that takes none. The run carries on either way.
fn signal_dropped<W>(ctx: &temporalio_sdk::SyncWorkflowContext<W>, signal: &str, why: &dyn std::fmt::Display) {
    if !ctx.is_replaying() {
        tracing::warn!(workflow_id = %ctx.workflow_id(), signal, "signal payload dropped: {why}");
    }
}

/// For a signal that takes no input: logs whatever was sent anyway.
fn ignore_payload<W>(ctx: &temporalio_sdk::SyncWorkflowContext<W>, signal: &str, input: &Lenient<()>) {
    if !input.is_empty() {
        signal_dropped(ctx, signal, &format!("it takes no input, got {}", input.describe()));
    }
}

/// Tells the guild's member sync something (a wallet linked, a member asking, a manifest
/// saved). A guild without one (not deployed, or in shadow mode) has nobody to tell: the
/// failed signal is ignored.
async fn tell_member_sync<W, S>(
    ctx: &temporalio_sdk::WorkflowContext<W>,
    guild: arrakis_schemas::GuildId,
    signal: S,
    input: S::Input,
) where
    S: temporalio_common::SignalDefinition + 'static,
    S::Input: Send,
{
    let handle = ctx.external_workflow(arrakis_schemas::workflows::member_sync::workflow_id(guild), None);
    let _ = handle.signal(signal, input, temporalio_sdk::SignalWorkflowOptions::default()).await;
}

/// `ArrakisGuildId`: find every run of a guild in the Web UI or with `temporal workflow list`.
pub const GUILD_ID_ATTR: SearchAttributeKey<String> =
    SearchAttributeKey::keyword(arrakis_schemas::workflows::search_attributes::GUILD_ID);
/// `ArrakisKind`: which workflow a run is.
pub const KIND_ATTR: SearchAttributeKey<String> =
    SearchAttributeKey::keyword(arrakis_schemas::workflows::search_attributes::KIND);
/// `ArrakisMode`: the community's mode, where it applies.
pub const MODE_ATTR: SearchAttributeKey<String> =
    SearchAttributeKey::keyword(arrakis_schemas::workflows::search_attributes::MODE);

/// Registers every Arrakis workflow on `$options`: the worker's options builder, or a
/// replayer's options. The worker and the replay test take the one list from here, so a
/// workflow the worker runs is a workflow the replay test replays. It expands to a chain of
/// `register_workflow` calls joined by `?`.
#[macro_export]
macro_rules! register_workflows {
    ($options:expr) => {
        $options
            .register_workflow::<$crate::ManifestPublishWorkflow>()?
            .register_workflow::<$crate::SynthesisWorkflow>()?
            .register_workflow::<$crate::KillSwitchWorkflow>()?
            .register_workflow::<$crate::ReconcileWorkflow>()?
            .register_workflow::<$crate::WizardWorkflow>()?
            .register_workflow::<$crate::WalletLinkWorkflow>()?
            .register_workflow::<$crate::EligibilityCheckWorkflow>()?
            .register_workflow::<$crate::ShadowSyncWorkflow>()?
            .register_workflow::<$crate::IncumbentDetectWorkflow>()?
            .register_workflow::<$crate::MemberSyncWorkflow>()?
            .register_workflow::<$crate::MigrationWorkflow>()?
            .register_workflow::<$crate::IncumbentHealthWorkflow>()?
    };
}
