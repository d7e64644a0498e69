#![doc = include_str!("../README.md")]

// The SDK macro adds an undocumented marker constant per activity.
#[allow(missing_docs)]
mod manifest;
mod storage;

pub mod chain;
pub mod circuit;
// The SDK macro adds an undocumented marker constant per activity.
#[allow(missing_docs)]
pub mod eligibility;
// The SDK macro adds an undocumented marker constant per activity.
#[allow(missing_docs)]
pub mod member_sync;
pub mod metrics;
// The SDK macro adds an undocumented marker constant per activity.
#[allow(missing_docs)]
pub mod migration;
pub mod score;
// The SDK macro adds an undocumented marker constant per activity.
#[allow(missing_docs)]
pub mod shadow;
pub mod wallet;

pub mod discord;
pub mod failure;
// The SDK macro adds an undocumented marker constant per activity.
#[allow(missing_docs)]
mod synthesis;
// The SDK macro adds an undocumented marker constant per activity.
#[allow(missing_docs)]
mod wizard;

pub use manifest::{ManifestActivities, SaveManifestRequest, manifest_checksum};
pub use storage::{CommunityId, CommunityRecord, ManifestRecord, ServiceTx, ShadowState, Store, StoreError, TenantTx};
pub use synthesis::{AssessedGuild, AuditEntry, SynthesisActivities, applied_items};
pub use wizard::WizardActivities;

/// Makes ring the process's rustls crypto provider (idempotent): the HTTP clients of the chain
/// and Score Service are built without a provider of their own.
pub(crate) fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
