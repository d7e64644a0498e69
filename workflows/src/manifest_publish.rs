//! Publishing a manifest: validate it, store it as the community's next version, audit it.

use crate::{GUILD_ID_ATTR, KIND_ATTR, MODE_ATTR, retry};
use arrakis_activities::{ManifestActivities, SaveManifestRequest};
use arrakis_schemas::{
    Lenient, Rules,
    temporal::ManifestPublishedSignal,
    workflows::manifest_publish::{KIND, PublishInput, PublishOutcome, PublishStage, PublishStatus},
};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ApplicationFailure, WorkflowContext, WorkflowContextView, WorkflowResult};

/// Validates a manifest and saves it as a new version. A rejected manifest fails the run
/// with every broken rule named and writes nothing.
#[workflow]
pub struct ManifestPublishWorkflow {
    input: Lenient<PublishInput>,
    status: PublishStatus,
}

#[workflow_methods]
impl ManifestPublishWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: Lenient<PublishInput>) -> Self {
        Self { input, status: PublishStatus::default() }
    }

    /// Runs the publish.
    #[run(name = "ManifestPublish")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<PublishOutcome> {
        ctx.upsert_search_attributes([KIND_ATTR.value_set(KIND.to_string())]);
        let parsed = ctx.state(|s| s.input.parse());
        // The arrakis- prefix of parallel mode came after runs were recorded: the patch keeps
        // their replay deterministic.
        let rules = Rules { parallel_prefix: ctx.patched("manifest-parallel-prefix") };
        let input = match parsed.and_then(|i| i.check(rules).map(|()| i)) {
            Ok(input) => input,
            Err(errors) => {
                let message = format!("manifest rejected: {errors}");
                ctx.state_mut(|s| {
                    s.status.stage = PublishStage::Rejected;
                    s.status.errors = Some(errors);
                });
                return Err(ApplicationFailure::builder(message)
                    .type_name("InvalidManifest".to_string())
                    .non_retryable(true)
                    .build()
                    .into());
            }
        };
        let guild_id = input.manifest.guild_id;
        ctx.upsert_search_attributes([
            GUILD_ID_ATTR.value_set(input.manifest.guild_id.to_string()),
            MODE_ATTR.value_set(input.manifest.mode.as_str().to_string()),
        ]);
        ctx.state_mut(|s| s.status.stage = PublishStage::Saving);
        let request = SaveManifestRequest {
            manifest: input.manifest,
            actor: input.actor,
            workflow_id: ctx.workflow_id().to_string(),
        };
        let outcome = ctx.execute_activity(ManifestActivities::save_version, request, retry::storage()).await?;
        ctx.state_mut(|s| {
            s.status.stage = PublishStage::Saved;
            s.status.version = Some(outcome.version);
        });
        // A running member sync decides with the new version at once (added after runs were
        // recorded: the patch keeps their replay deterministic).
        if outcome.created && ctx.patched("manifest-publish-tells-member-sync") {
            let payload = Lenient::from_json(serde_json::json!({"version": outcome.version}));
            crate::tell_member_sync(ctx, guild_id, ManifestPublishedSignal, payload).await;
        }
        Ok(outcome)
    }

    /// Where the publish is: validating, saving, saved (with the version) or rejected (with why).
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> PublishStatus {
        self.status.clone()
    }
}
