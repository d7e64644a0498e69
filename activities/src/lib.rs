//! Every side effect Arrakis performs, as Temporal activities, and the tenant-safe storage
//! they share. Workflows orchestrate; only this crate touches the world.

// The SDK macro adds an undocumented marker constant per activity.
#[allow(missing_docs)]
mod manifest;
mod storage;

pub mod discord;
// The SDK macro adds an undocumented marker constant per activity.
#[allow(missing_docs)]
mod synthesis;
// The SDK macro adds an undocumented marker constant per activity.
#[allow(missing_docs)]
mod wizard;

pub use manifest::{ManifestActivities, SaveManifestRequest, manifest_checksum};
pub use storage::{CommunityId, CommunityRecord, ManifestRecord, ServiceTx, ShadowState, Store, StoreError, TenantTx};
pub use synthesis::{AuditEntry, SynthesisActivities, desired_items, item_hash};
pub use wizard::WizardActivities;
