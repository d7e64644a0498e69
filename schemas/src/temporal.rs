//! Typed Temporal definitions of the workflows by contract (names and payload types from
//! [`workflows`](crate::workflows)), so a client can start, update, query and signal them
//! without linking the workflow code: the gateway, and activities that create schedules.
//!
//! The worker registers the real workflows under the same pinned names; the replay and
//! end-to-end tests hold the two together.

use crate::{
    Lenient,
    workflows::{
        eligibility_check, incumbent, member_sync, members, migration, reconcile, shadow_sync, synthesis, wallet_link,
        wizard,
    },
};
use temporalio_common::{
    HasWorkflowDefinition, QueryDefinition, SignalDefinition, UpdateDefinition, WorkflowDefinition,
};

macro_rules! workflow_def {
    ($(#[$doc:meta])* $name:ident, $type_name:expr, $input:ty, $output:ty) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;
        impl WorkflowDefinition for $name {
            type Input = $input;
            type Output = $output;
            fn name(&self) -> &str {
                $type_name
            }
        }
        impl HasWorkflowDefinition for $name {
            type Run = $name;
        }
    };
}

macro_rules! handler_def {
    ($(#[$doc:meta])* $trait:ident $name:ident for $wf:ty, $handler:expr, $input:ty $(, $output:ty)?) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;
        impl $trait for $name {
            type Workflow = $wf;
            type Input = $input;
            $(type Output = $output;)?
            fn name(&self) -> &str {
                $handler
            }
        }
    };
}

workflow_def!(
    /// The onboarding wizard (`wizard-{guild_id}`).
    Wizard, wizard::WORKFLOW_TYPE, wizard::WizardInput, wizard::WizardOutcome
);
handler_def!(
    /// Opens (or re-opens) the session: update-with-start's update.
    UpdateDefinition WizardOpen for Wizard, wizard::OPEN_UPDATE, Lenient<wizard::OpenRequest>, wizard::WizardStatus
);
handler_def!(
    /// Opens the session, starting from the deployed manifest; what the gateway sends.
    UpdateDefinition WizardOpenSession for Wizard, wizard::OPEN_SESSION_UPDATE, Lenient<wizard::OpenRequest>, wizard::WizardStatus
);
handler_def!(
    /// Submits a step's answer.
    UpdateDefinition WizardSubmit for Wizard, wizard::SUBMIT_UPDATE, Lenient<wizard::StepAnswer>, wizard::WizardStatus
);
handler_def!(
    /// Goes back to an earlier step.
    UpdateDefinition WizardGoBack for Wizard, wizard::GO_BACK_UPDATE, Lenient<wizard::GoBack>, wizard::WizardStatus
);
handler_def!(
    /// Looks an asset up by address, confirms or discards the finding, or removes an asset.
    UpdateDefinition WizardAsset for Wizard, wizard::assets::ASSET_UPDATE, Lenient<wizard::assets::AssetEdit>, wizard::WizardStatus
);
handler_def!(
    /// Adds or removes a rule from pickers.
    UpdateDefinition WizardRule for Wizard, wizard::picks::RULE_UPDATE, Lenient<wizard::picks::RuleEdit>, wizard::WizardStatus
);
handler_def!(
    /// Adds, renames, recolours or removes roles from pickers, or adds the theme's tiers.
    UpdateDefinition WizardRole for Wizard, wizard::picks::ROLE_UPDATE, Lenient<wizard::picks::RoleEdit>, wizard::WizardStatus
);
handler_def!(
    /// Fills CHANNEL_STRUCTURE with the theme's template, or adds, renames or removes one
    /// category or channel.
    UpdateDefinition WizardChannel for Wizard, wizard::picks::CHANNEL_UPDATE, Lenient<wizard::picks::ChannelEdit>, wizard::WizardStatus
);
handler_def!(
    /// Loads a pasted manifest into the draft and goes to REVIEW.
    UpdateDefinition WizardPasteManifest for Wizard, wizard::PASTE_UPDATE, Lenient<wizard::PastedManifest>, wizard::WizardStatus
);
handler_def!(
    /// The session's state.
    QueryDefinition WizardStatusQuery for Wizard, wizard::STATUS_QUERY, (), wizard::WizardStatus
);
workflow_def!(
    /// A synthesis (`synthesis-{guild_id}-v{version}`).
    Synthesis, synthesis::WORKFLOW_TYPE, Lenient<synthesis::SynthesisInput>, synthesis::SynthesisOutcome
);
handler_def!(
    /// The kill switch holds the run.
    SignalDefinition SynthesisFreeze for Synthesis, synthesis::FREEZE_SIGNAL, Lenient<synthesis::FreezeNotice>
);
handler_def!(
    /// The kill switch lifted one freeze.
    SignalDefinition SynthesisThaw for Synthesis, synthesis::THAW_SIGNAL, Lenient<synthesis::FreezeNotice>
);
workflow_def!(
    /// Reconciliation (`reconcile-{guild_id}-{run}`).
    Reconcile, reconcile::WORKFLOW_TYPE, Lenient<reconcile::ReconcileInput>, reconcile::ReconcileReport
);
workflow_def!(
    /// A guild's member sync (`member-sync-{guild_id}`).
    MemberSync, member_sync::WORKFLOW_TYPE, Lenient<member_sync::MemberSyncInput>, member_sync::MemberSyncStatus
);
handler_def!(
    /// A member joined, left or changed.
    SignalDefinition MemberEventSignal for MemberSync, members::MEMBER_EVENT_SIGNAL, Lenient<members::MemberEvent>
);
handler_def!(
    /// A member linked a wallet.
    SignalDefinition WalletLinkedSignal for MemberSync, member_sync::WALLET_LINKED_SIGNAL,
    Lenient<member_sync::WalletLinked>
);
handler_def!(
    /// Re-decide one member now (`/check-eligibility`).
    SignalDefinition SyncMemberSignal for MemberSync, member_sync::SYNC_MEMBER_SIGNAL, Lenient<member_sync::SyncMember>
);
handler_def!(
    /// A new manifest version was saved.
    SignalDefinition ManifestPublishedSignal for MemberSync, member_sync::MANIFEST_PUBLISHED_SIGNAL,
    Lenient<serde_json::Value>
);
handler_def!(
    /// Sweep every member now (`/arrakis sync`).
    UpdateDefinition MemberSyncNow for MemberSync, member_sync::SYNC_NOW_UPDATE,
    Lenient<member_sync::SweepRequest>, member_sync::MemberSyncStatus
);
handler_def!(
    /// Apply the revocations the breaker holds.
    UpdateDefinition ConfirmRevocations for MemberSync, member_sync::CONFIRM_REVOCATIONS_UPDATE,
    Lenient<member_sync::Decision>, member_sync::MemberSyncStatus
);
handler_def!(
    /// Drop the revocations the breaker holds.
    UpdateDefinition DiscardRevocations for MemberSync, member_sync::DISCARD_REVOCATIONS_UPDATE,
    Lenient<member_sync::Decision>, member_sync::MemberSyncStatus
);
handler_def!(
    /// Ends the sync (undeploy, a rollback).
    UpdateDefinition MemberSyncStop for MemberSync, member_sync::STOP_UPDATE,
    Lenient<member_sync::Decision>, member_sync::MemberSyncStatus
);
handler_def!(
    /// Where member sync stands.
    QueryDefinition MemberSyncStatusQuery for MemberSync, member_sync::STATUS_QUERY, (), member_sync::MemberSyncStatus
);
workflow_def!(
    /// Wallet linking (`wallet-link-{guild_id}-{user_id}`).
    WalletLink, wallet_link::WORKFLOW_TYPE, Lenient<wallet_link::WalletLinkInput>, wallet_link::WalletLinkStatus
);
handler_def!(
    /// A fresh challenge for a claimed address: update-with-start's update.
    UpdateDefinition WalletChallenge for WalletLink, wallet_link::CHALLENGE_UPDATE,
    Lenient<wallet_link::ChallengeRequest>, wallet_link::WalletLinkStatus
);
handler_def!(
    /// The signature over the current challenge.
    UpdateDefinition WalletSubmitSignature for WalletLink, wallet_link::SUBMIT_UPDATE,
    Lenient<wallet_link::SignatureSubmission>, wallet_link::WalletLinkStatus
);
handler_def!(
    /// Where the link stands.
    QueryDefinition WalletLinkStatusQuery for WalletLink, wallet_link::STATUS_QUERY, (), wallet_link::WalletLinkStatus
);
workflow_def!(
    /// A member's eligibility check (`eligibility-{guild_id}-{user_id}`).
    EligibilityCheck, eligibility_check::WORKFLOW_TYPE, Lenient<eligibility_check::EligibilityCheckInput>,
    eligibility_check::EligibilityReport
);
workflow_def!(
    /// A shadow sync (`shadow-sync-{guild_id}`), as its schedule starts it.
    ShadowSync, shadow_sync::WORKFLOW_TYPE, Lenient<shadow_sync::ShadowSyncInput>, shadow_sync::ShadowSyncStatus
);
handler_def!(
    /// Where a sync stands.
    QueryDefinition ShadowSyncStatusQuery for ShadowSync, shadow_sync::STATUS_QUERY, (), shadow_sync::ShadowSyncStatus
);
workflow_def!(
    /// Incumbent detection (`incumbent-detect-{guild_id}`).
    IncumbentDetect, incumbent::WORKFLOW_TYPE, Lenient<incumbent::DetectInput>, incumbent::DetectOutcome
);
handler_def!(
    /// The finding (empty until the detection is done).
    QueryDefinition IncumbentDetectStatusQuery for IncumbentDetect, incumbent::STATUS_QUERY, (), incumbent::DetectOutcome
);
workflow_def!(
    /// The incumbent's health check (`incumbent-health-{guild_id}`), as its schedule starts it.
    IncumbentHealthCheck, incumbent::HEALTH_WORKFLOW_TYPE, Lenient<incumbent::HealthInput>, incumbent::IncumbentHealth
);
workflow_def!(
    /// A migration from the incumbent to Arrakis (`migration-{guild_id}`).
    Migration, migration::WORKFLOW_TYPE, Lenient<migration::MigrationInput>, migration::MigrationStatus
);
handler_def!(
    /// Rolls the migration back, with a reason.
    UpdateDefinition MigrationRollback for Migration, migration::ROLLBACK_UPDATE,
    Lenient<migration::RollbackRequest>, migration::MigrationStatus
);
handler_def!(
    /// Holds the next batch of a gradual migration.
    UpdateDefinition MigrationPause for Migration, migration::PAUSE_UPDATE,
    Lenient<member_sync::Decision>, migration::MigrationStatus
);
handler_def!(
    /// Carries on after a pause.
    UpdateDefinition MigrationResume for Migration, migration::RESUME_UPDATE,
    Lenient<member_sync::Decision>, migration::MigrationStatus
);
handler_def!(
    /// What member sync saw (access lost, Discord errors).
    SignalDefinition AccessReportSignal for Migration, migration::ACCESS_SIGNAL, Lenient<migration::AccessReport>
);
handler_def!(
    /// Stage, progress, compensations and rollback.
    QueryDefinition MigrationStatusQuery for Migration, migration::STATUS_QUERY, (), migration::MigrationStatus
);
