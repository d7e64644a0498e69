//! Activities that store manifests: the write half of publishing a community's desired state.

use crate::failure::{ActivityFailure, FailureKind, storage};
use crate::{CommunityId, Store, StoreError};
use arrakis_schemas::{
    CommunityManifest, Lenient,
    temporal::{Synthesis, SynthesisFreeze, SynthesisThaw},
    workflows::{
        kill_switch::KillSwitchInput,
        manifest_publish::PublishOutcome,
        search_attributes,
        synthesis::{self, FreezeNotice, FreezeScope},
    },
};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use temporalio_client::{Client, WorkflowListOptions, WorkflowSignalOptions};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

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

/// Manifest storage and kill-switch activities; they hold the shared [`Store`] and the
/// Temporal client that tells running syntheses about a freeze.
pub struct ManifestActivities {
    store: Store,
    client: Client,
}

impl ManifestActivities {
    /// Activities over `store`, signalling runs through `client`.
    pub fn new(store: Store, client: Client) -> Self {
        Self { store, client }
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
        self.save(&request).await.map_err(storage)
    }

    /// Sets or lifts the kill switch (global, or one guild's); a guild's change is audited
    /// in its own log with the reason and who.
    #[activity(name = "kill_switch.set")]
    pub async fn set_kill_switch(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: KillSwitchInput,
    ) -> Result<(), ActivityError> {
        let mut service = self.store.service().await.map_err(storage)?;
        let Some(guild) = input.guild_id else {
            service.set_global_freeze(input.frozen, &input.reason, &input.actor).await.map_err(storage)?;
            return service.commit().await.map_err(storage);
        };
        let Some(community) = service.set_community_freeze(guild, input.frozen).await.map_err(storage)? else {
            return Err(ActivityFailure::new(
                FailureKind::UnknownGuild,
                format!("guild_id: guild {guild} has no community"),
            )
            .into());
        };
        service.commit().await.map_err(storage)?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let action = if input.frozen { "kill_switch.frozen" } else { "kill_switch.lifted" };
        let detail = serde_json::json!({"reason": input.reason, "by": input.actor});
        tx.audit(&input.actor, action, detail, ctx.info().workflow_id.as_deref()).await.map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    /// Tells the running syntheses a kill switch covers (every guild's for the global one, the
    /// guild's own otherwise) that it was set (`freeze`) or lifted (`thaw`). Each run keeps
    /// its holds apart, so a lift releases only what this freeze held. Returns how many runs
    /// were told; a run that ended meanwhile is skipped. Only this deployment's runs (its task
    /// queue, which this activity runs on): another deployment sharing the namespace has a
    /// database, and so a kill switch, of its own.
    #[activity(name = "kill_switch.hold_syntheses")]
    pub async fn hold_syntheses(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: KillSwitchInput,
    ) -> Result<u32, ActivityError> {
        let mut query = format!(
            "{} = '{}' AND ExecutionStatus = 'Running' AND TaskQueue = '{}'",
            search_attributes::KIND,
            synthesis::KIND,
            ctx.info().task_queue
        );
        let scope = match input.guild_id {
            Some(guild) => {
                query.push_str(&format!(" AND {} = '{guild}'", search_attributes::GUILD_ID));
                FreezeScope::Guild
            }
            None => FreezeScope::Global,
        };
        let unavailable = |e: String| {
            ActivityFailure::new(FailureKind::TemporalUnavailable, format!("listing running syntheses: {e}"))
        };
        let mut runs = Vec::new();
        let mut listing = self.client.list_workflows(query, WorkflowListOptions::builder().build());
        while let Some(run) = listing.next().await {
            runs.push(run.map_err(|e| unavailable(e.to_string()))?.id().to_string());
        }
        let notice = Lenient::new(&FreezeNotice { scope });
        let mut told = 0;
        for id in runs {
            let handle = self.client.get_workflow_handle::<Synthesis>(id);
            let sent = if input.frozen {
                handle.signal(SynthesisFreeze, notice.clone(), WorkflowSignalOptions::default()).await
            } else {
                handle.signal(SynthesisThaw, notice.clone(), WorkflowSignalOptions::default()).await
            };
            match sent {
                Ok(()) => told += 1,
                Err(e) if e.to_string().contains("not found") || e.to_string().contains("already completed") => {}
                Err(e) => return Err(unavailable(e.to_string()).into()),
            }
        }
        Ok(told)
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
    PublishOutcome { community_id: community, version, checksum, created }
}
