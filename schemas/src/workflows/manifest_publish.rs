//! Manifest publish: validate a manifest, save it as the community's next version, audit it.
//! The wizard's DEPLOY step and an admin's CLI both publish through it.

use crate::{CommunityId, CommunityManifest, GuildId, ValidationErrors};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Workflow type name.
pub const WORKFLOW_TYPE: &str = "ManifestPublish";
/// `ArrakisKind` value.
pub const KIND: &str = "manifest_publish";
/// Query name for [`PublishStatus`].
pub const STATUS_QUERY: &str = "status";

/// The readable workflow ID: one publish per guild at a time.
pub fn workflow_id(guild_id: GuildId) -> String {
    format!("manifest-publish-{guild_id}")
}

/// Input: the manifest and who asked. The workflow receives it as
/// [`Lenient`](crate::Lenient) JSON and parses it itself, so bad input fails the run cleanly
/// with the field named instead of failing every workflow task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishInput {
    /// The desired state to save.
    pub manifest: CommunityManifest,
    /// Who published it (a Discord user id, `cli:<name>`, …; 1–100 characters), for the audit log.
    #[serde(default = "default_actor")]
    pub actor: String,
}

impl PublishInput {
    /// Checks the actor and the manifest (under `rules`), naming every field that fails.
    pub fn check(&self, rules: crate::Rules) -> Result<(), crate::ValidationErrors> {
        let mut errors = crate::ValidationErrors::default();
        if let Err(manifest) = self.manifest.validate_under(rules, 0, 0) {
            errors.0.extend(manifest.0);
        }
        crate::check_actor(&mut errors, "actor", &self.actor);
        errors.into_result()
    }
}

fn default_actor() -> String {
    "cli".into()
}

/// Where a publish is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublishStage {
    /// Parsing and checking the manifest.
    #[default]
    Validating,
    /// Writing the version and its audit row.
    Saving,
    /// Done: the version is stored.
    Saved,
    /// The manifest broke a rule; nothing was written.
    Rejected,
}

/// The `status` query's answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PublishStatus {
    /// The current stage.
    pub stage: PublishStage,
    /// The stored version, once saved.
    pub version: Option<i32>,
    /// What was wrong, when rejected.
    pub errors: Option<ValidationErrors>,
}

/// The result: which version now holds this manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublishOutcome {
    /// The community (tenant) id.
    pub community_id: CommunityId,
    /// The version number (1, 2, …).
    pub version: i32,
    /// SHA-256 of the canonical JSON, hex.
    pub checksum: String,
    /// False when the latest version already had this exact content (nothing new written).
    pub created: bool,
}
