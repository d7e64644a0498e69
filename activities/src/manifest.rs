//! Activities that store manifests: the write half of publishing a community's desired state.

use crate::{CommunityId, Store, StoreError};
use arrakis_schemas::{
    CommunityManifest,
    workflows::{kill_switch::KillSwitchInput, manifest_publish::PublishOutcome},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use temporalio_macros::activities;
use temporalio_sdk::{
    ApplicationFailure,
    activities::{ActivityContext, ActivityError},
};

/// SHA-256 (hex) of the manifest's canonical JSON: field order is fixed by the types and
/// rules are a sorted map, so equal manifests always hash equal.
pub fn manifest_checksum(manifest: &CommunityManifest) -> String {
    let bytes = serde_json::to_vec(manifest).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

/// Input of [`ManifestActivities::save_version`]: a manifest that already passed validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SaveManifestRequest {
    /// The validated manifest.
    pub manifest: CommunityManifest,
    /// Who published it, for the audit row.
    pub actor: String,
    /// The publishing workflow, for the audit row.
    pub workflow_id: String,
}

/// Manifest storage activities; they hold the shared [`Store`].
#[derive(Debug)]
pub struct ManifestActivities {
    store: Store,
}

impl ManifestActivities {
    /// Activities over `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn retryable(e: StoreError) -> ActivityError {
    match e {
        StoreError::Corrupt { .. } => ActivityError::application(
            ApplicationFailure::builder(e.to_string())
                .type_name("CorruptState".to_string())
                .non_retryable(true)
                .build(),
        ),
        other => ActivityError::application(
            ApplicationFailure::builder(other.to_string()).type_name("StorageUnavailable".to_string()).build(),
        ),
    }
}

#[activities]
impl ManifestActivities {
    /// Saves the manifest as the community's next version with an audit row, in one
    /// transaction. Idempotent: when the newest version already has this checksum (a retry,
    /// or a re-publish of the same content) it returns that version and writes nothing.
    #[activity(name = "manifest.save_version")]
    pub async fn save_version(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: SaveManifestRequest,
    ) -> Result<PublishOutcome, ActivityError> {
        self.save(&request).await.map_err(retryable)
    }

    /// Sets or lifts the kill switch (global, or one guild's), and audits a guild's change.
    #[activity(name = "kill_switch.set")]
    pub async fn set_kill_switch(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: KillSwitchInput,
    ) -> Result<(), ActivityError> {
        let mut service = self.store.service().await.map_err(retryable)?;
        match input.guild_id {
            None => service.set_global_freeze(input.frozen, &input.reason, &input.actor).await.map_err(retryable)?,
            Some(guild) => {
                if !service.set_community_freeze(guild, input.frozen).await.map_err(retryable)? {
                    return Err(ActivityError::application(
                        ApplicationFailure::builder(format!("guild_id: guild {guild} has no community"))
                            .type_name("UnknownGuild".to_string())
                            .non_retryable(true)
                            .build(),
                    ));
                }
            }
        }
        service.commit().await.map_err(retryable)
    }
}

impl ManifestActivities {
    async fn save(&self, request: &SaveManifestRequest) -> Result<PublishOutcome, StoreError> {
        save_manifest(&self.store, request).await
    }
}

/// Saves `request.manifest` as the community's next version (nothing new when the newest
/// already has its content), sets the community's mode from it and audits a change of mode.
pub(crate) async fn save_manifest(store: &Store, request: &SaveManifestRequest) -> Result<PublishOutcome, StoreError> {
    let (community, before) = {
        let mut service = store.service().await?;
        let found = service.ensure_community(&request.manifest).await?;
        service.commit().await?;
        found
    };
    let checksum = manifest_checksum(&request.manifest);
    let mut tx = store.tenant(community).await?;
    let mode = request.manifest.mode;
    if before.is_some_and(|b| b != mode) {
        let detail = serde_json::json!({"from": before.map(|b| b.as_str()), "to": mode.as_str(), "by": request.actor});
        tx.audit(&request.actor, "community.mode_changed", detail, Some(&request.workflow_id)).await?;
    }
    if let Some(latest) = tx.latest_manifest().await?
        && latest.checksum == checksum
    {
        tx.commit().await?;
        return Ok(outcome(community, latest.version, checksum, false));
    }
    let version = tx.insert_manifest(&request.manifest, &checksum, &request.actor).await?;
    tx.audit(
        &request.actor,
        "manifest.saved",
        serde_json::json!({ "version": version, "checksum": checksum }),
        Some(&request.workflow_id),
    )
    .await?;
    tx.commit().await?;
    Ok(outcome(community, version, checksum, true))
}

fn outcome(community: CommunityId, version: i32, checksum: String, created: bool) -> PublishOutcome {
    PublishOutcome { community_id: community.to_string(), version, checksum, created }
}
