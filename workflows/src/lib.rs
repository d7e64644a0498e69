//! Arrakis's workflows: deterministic orchestration only. Everything that touches the world
//! is an activity from `arrakis-activities`; state changes go through the SDK's context.

// The SDK macros add undocumented marker constants (one per handler) to each workflow.
#[allow(missing_docs)]
mod kill_switch;
#[allow(missing_docs)]
mod manifest_publish;
#[allow(missing_docs)]
mod reconcile;
mod retry;
#[allow(missing_docs)]
mod synthesis;

pub use kill_switch::KillSwitchWorkflow;
pub use manifest_publish::ManifestPublishWorkflow;
pub use reconcile::ReconcileWorkflow;
pub use synthesis::SynthesisWorkflow;

use temporalio_common::search_attributes::SearchAttributeKey;

/// `ArrakisGuildId`: find every run of a guild in the Web UI or with `temporal workflow list`.
pub const GUILD_ID_ATTR: SearchAttributeKey<String> =
    SearchAttributeKey::keyword(arrakis_schemas::workflows::search_attributes::GUILD_ID);
/// `ArrakisKind`: which workflow a run is.
pub const KIND_ATTR: SearchAttributeKey<String> =
    SearchAttributeKey::keyword(arrakis_schemas::workflows::search_attributes::KIND);
/// `ArrakisMode`: the community's mode, where it applies.
pub const MODE_ATTR: SearchAttributeKey<String> =
    SearchAttributeKey::keyword(arrakis_schemas::workflows::search_attributes::MODE);
