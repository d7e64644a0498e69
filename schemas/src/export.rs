//! The JSON Schemas checked in under `schemas/json/`: generated from the types, so an admin
//! writing `temporal` CLI input by hand (or an editor) can check it against the contract.

use crate::{CommunityManifest, workflows::*};
use schemars::{JsonSchema, Schema, generate::SchemaSettings};

/// One schema file: its name under `schemas/json/` and its content.
#[derive(Debug)]
pub struct JsonSchemaFile {
    /// File name, e.g. `community-manifest.json`.
    pub file_name: &'static str,
    /// The schema.
    pub schema: Schema,
}

fn file<T: JsonSchema>(file_name: &'static str) -> JsonSchemaFile {
    JsonSchemaFile { file_name, schema: SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<T>() }
}

/// Every exported schema, in a fixed order.
pub fn all_schemas() -> Vec<JsonSchemaFile> {
    vec![
        file::<CommunityManifest>("community-manifest.json"),
        file::<manifest_publish::PublishInput>("manifest-publish.input.json"),
        file::<manifest_publish::PublishStatus>("manifest-publish.status.json"),
        file::<manifest_publish::PublishOutcome>("manifest-publish.output.json"),
        file::<kill_switch::KillSwitchInput>("kill-switch.input.json"),
        file::<wizard::WizardInput>("wizard.input.json"),
        file::<wizard::StepAnswer>("wizard.submit-step.json"),
        file::<wizard::GoBack>("wizard.go-back.json"),
        file::<wizard::assets::AssetEdit>("wizard.asset.json"),
        file::<wizard::picks::RuleEdit>("wizard.rule.json"),
        file::<wizard::picks::RoleEdit>("wizard.role.json"),
        file::<wizard::picks::ChannelEdit>("wizard.channel.json"),
        file::<wizard::PastedManifest>("wizard.paste-manifest.json"),
        file::<wizard::OpenRequest>("wizard.open.json"),
        file::<wizard::WizardStatus>("wizard.status.json"),
        file::<members::MemberEvent>("member-event.signal.json"),
        file::<wallet_link::WalletLinkInput>("wallet-link.input.json"),
        file::<wallet_link::ChallengeRequest>("wallet-link.challenge.json"),
        file::<wallet_link::SignatureSubmission>("wallet-link.submit-signature.json"),
        file::<wallet_link::WalletLinkStatus>("wallet-link.status.json"),
        file::<eligibility_check::EligibilityCheckInput>("eligibility-check.input.json"),
        file::<eligibility_check::EligibilityReport>("eligibility-check.output.json"),
        file::<synthesis::SynthesisInput>("synthesis.input.json"),
        file::<synthesis::SynthesisStatus>("synthesis.status.json"),
        file::<synthesis::SynthesisOutcome>("synthesis.output.json"),
        file::<reconcile::ReconcileInput>("reconcile.input.json"),
        file::<reconcile::ReconcileReport>("reconcile.output.json"),
        file::<shadow_sync::ShadowSyncInput>("shadow-sync.input.json"),
        file::<shadow_sync::ShadowSyncStatus>("shadow-sync.status.json"),
        file::<member_sync::MemberSyncInput>("member-sync.input.json"),
        file::<member_sync::MemberSyncStatus>("member-sync.status.json"),
        file::<member_sync::SweepRequest>("member-sync.sync-now.json"),
        file::<member_sync::Decision>("member-sync.decision.json"),
        file::<incumbent::DetectInput>("incumbent-detect.input.json"),
        file::<incumbent::DetectOutcome>("incumbent-detect.status.json"),
        file::<migration::MigrationInput>("migration.input.json"),
        file::<migration::RollbackRequest>("migration.rollback.json"),
        file::<migration::MigrationStatus>("migration.status.json"),
        file::<migration::AccessReport>("migration.access-report.json"),
        file::<incumbent::HealthInput>("incumbent-health.input.json"),
        file::<incumbent::IncumbentHealth>("incumbent-health.status.json"),
    ]
}

/// Renders a schema the way it is checked in (pretty, trailing newline).
pub fn render(schema: &Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}
