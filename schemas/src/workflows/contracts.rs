//! Every workflow's contract in one table: its type name, and how to check the payloads it
//! takes (its input, each signal and update) and gives (its result) against today's types.
//!
//! The replay test checks every recorded payload with it, so a change that would leave a run
//! in flight unable to read what it was sent fails CI even when the workflow code still
//! replays; the garbage test and the property tests walk it so no signal or input is missed.

use super::{
    eligibility_check, incumbent, kill_switch, manifest_publish, member_sync, members, migration, reconcile,
    shadow_sync, synthesis, wallet_link, wizard,
};
use crate::{Lenient, RawPayload, Rules, ValidationErrors};
use serde::de::DeserializeOwned;

/// Checks one list of payloads (as recorded, or as a client would send it).
pub type Check = fn(&[RawPayload]) -> Result<(), ValidationErrors>;

/// One workflow's contract.
#[derive(Clone, Copy)]
pub struct WorkflowContract {
    /// The pinned workflow type name.
    pub workflow_type: &'static str,
    /// Its input, parsed into today's type: what a run in flight must still be able to read.
    pub input: Check,
    /// Its input parsed, then checked as the workflow checks it before doing anything (under
    /// today's rules, which a recorded run's older input need not meet).
    pub valid_input: Check,
    /// Its result.
    pub output: Check,
    /// Its signals, by pinned name.
    pub signals: &'static [(&'static str, Check)],
    /// Its updates, by pinned name.
    pub updates: &'static [(&'static str, Check)],
}

impl std::fmt::Debug for WorkflowContract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.workflow_type)
    }
}

impl WorkflowContract {
    /// The check of a signal, by name.
    pub fn signal(&self, name: &str) -> Option<Check> {
        self.signals.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    /// The check of an update, by name.
    pub fn update(&self, name: &str) -> Option<Check> {
        self.updates.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }
}

/// Parses into `T`, nothing more.
fn parses<T: DeserializeOwned>(payloads: &[RawPayload]) -> Result<(), ValidationErrors> {
    Lenient::<T>::from_payloads(payloads.to_vec()).parse().map(drop)
}

/// Parses into `T`, then runs `check`.
fn checked<T: DeserializeOwned>(
    payloads: &[RawPayload],
    check: impl FnOnce(&T) -> Result<(), ValidationErrors>,
) -> Result<(), ValidationErrors> {
    check(&Lenient::<T>::from_payloads(payloads.to_vec()).parse()?)
}

/// A signal that takes no input: whatever arrives is ignored.
fn anything(_: &[RawPayload]) -> Result<(), ValidationErrors> {
    Ok(())
}

fn decision(payloads: &[RawPayload]) -> Result<(), ValidationErrors> {
    checked(payloads, member_sync::Decision::check)
}

/// Every workflow the worker registers.
pub fn all() -> &'static [WorkflowContract] {
    &[
        WorkflowContract {
            workflow_type: manifest_publish::WORKFLOW_TYPE,
            input: parses::<manifest_publish::PublishInput>,
            valid_input: |p| checked(p, |i: &manifest_publish::PublishInput| i.check(Rules::default())),
            output: parses::<manifest_publish::PublishOutcome>,
            signals: &[],
            updates: &[],
        },
        WorkflowContract {
            workflow_type: synthesis::WORKFLOW_TYPE,
            input: parses::<synthesis::SynthesisInput>,
            valid_input: |p| checked(p, synthesis::SynthesisInput::check),
            output: parses::<synthesis::SynthesisOutcome>,
            signals: &[
                (synthesis::PAUSE_SIGNAL, anything),
                (synthesis::RESUME_SIGNAL, anything),
                (synthesis::CANCEL_SIGNAL, anything),
                (synthesis::FREEZE_SIGNAL, parses::<synthesis::FreezeNotice>),
                (synthesis::THAW_SIGNAL, parses::<synthesis::FreezeNotice>),
            ],
            updates: &[],
        },
        WorkflowContract {
            workflow_type: kill_switch::WORKFLOW_TYPE,
            input: parses::<kill_switch::KillSwitchInput>,
            valid_input: |p| checked(p, kill_switch::KillSwitchInput::validate),
            output: parses::<String>,
            signals: &[],
            updates: &[],
        },
        WorkflowContract {
            workflow_type: reconcile::WORKFLOW_TYPE,
            input: parses::<reconcile::ReconcileInput>,
            valid_input: |p| checked(p, reconcile::ReconcileInput::check),
            output: parses::<reconcile::ReconcileReport>,
            signals: &[],
            updates: &[],
        },
        WorkflowContract {
            workflow_type: wizard::WORKFLOW_TYPE,
            input: parses::<wizard::WizardInput>,
            valid_input: parses::<wizard::WizardInput>,
            output: parses::<wizard::WizardOutcome>,
            signals: &[],
            updates: &[
                (wizard::OPEN_UPDATE, parses::<wizard::OpenRequest>),
                (wizard::OPEN_SESSION_UPDATE, parses::<wizard::OpenRequest>),
                (wizard::SUBMIT_UPDATE, parses::<wizard::StepAnswer>),
                (wizard::GO_BACK_UPDATE, parses::<wizard::GoBack>),
                (wizard::assets::ASSET_UPDATE, parses::<wizard::assets::AssetEdit>),
                (wizard::picks::RULE_UPDATE, parses::<wizard::picks::RuleEdit>),
                (wizard::picks::ROLE_UPDATE, parses::<wizard::picks::RoleEdit>),
                (wizard::picks::CHANNEL_UPDATE, parses::<wizard::picks::ChannelEdit>),
                (wizard::PASTE_UPDATE, parses::<wizard::PastedManifest>),
            ],
        },
        WorkflowContract {
            workflow_type: wallet_link::WORKFLOW_TYPE,
            input: parses::<wallet_link::WalletLinkInput>,
            valid_input: parses::<wallet_link::WalletLinkInput>,
            output: parses::<wallet_link::WalletLinkStatus>,
            signals: &[],
            updates: &[
                (wallet_link::CHALLENGE_UPDATE, parses::<wallet_link::ChallengeRequest>),
                (wallet_link::SUBMIT_UPDATE, parses::<wallet_link::SignatureSubmission>),
            ],
        },
        WorkflowContract {
            workflow_type: eligibility_check::WORKFLOW_TYPE,
            input: parses::<eligibility_check::EligibilityCheckInput>,
            valid_input: parses::<eligibility_check::EligibilityCheckInput>,
            output: parses::<eligibility_check::EligibilityReport>,
            signals: &[],
            updates: &[],
        },
        WorkflowContract {
            workflow_type: shadow_sync::WORKFLOW_TYPE,
            input: parses::<shadow_sync::ShadowSyncInput>,
            valid_input: |p| checked(p, shadow_sync::ShadowSyncInput::check),
            output: parses::<shadow_sync::ShadowSyncStatus>,
            signals: &[],
            updates: &[],
        },
        WorkflowContract {
            workflow_type: incumbent::WORKFLOW_TYPE,
            input: parses::<incumbent::DetectInput>,
            valid_input: parses::<incumbent::DetectInput>,
            output: parses::<incumbent::DetectOutcome>,
            signals: &[],
            updates: &[],
        },
        WorkflowContract {
            workflow_type: incumbent::HEALTH_WORKFLOW_TYPE,
            input: parses::<incumbent::HealthInput>,
            valid_input: parses::<incumbent::HealthInput>,
            output: parses::<incumbent::IncumbentHealth>,
            signals: &[],
            updates: &[],
        },
        WorkflowContract {
            workflow_type: member_sync::WORKFLOW_TYPE,
            input: parses::<member_sync::MemberSyncInput>,
            valid_input: |p| checked(p, |i: &member_sync::MemberSyncInput| i.settings.check()),
            output: parses::<member_sync::MemberSyncStatus>,
            signals: &[
                (members::MEMBER_EVENT_SIGNAL, parses::<members::MemberEvent>),
                (member_sync::WALLET_LINKED_SIGNAL, parses::<member_sync::WalletLinked>),
                (member_sync::SYNC_MEMBER_SIGNAL, parses::<member_sync::SyncMember>),
                (member_sync::MANIFEST_PUBLISHED_SIGNAL, anything),
            ],
            updates: &[
                (member_sync::SYNC_NOW_UPDATE, |p| checked(p, member_sync::SweepRequest::check)),
                (member_sync::CONFIRM_REVOCATIONS_UPDATE, decision),
                (member_sync::DISCARD_REVOCATIONS_UPDATE, decision),
                (member_sync::PAUSE_UPDATE, decision),
                (member_sync::RESUME_UPDATE, decision),
                (member_sync::STOP_UPDATE, decision),
            ],
        },
        WorkflowContract {
            workflow_type: migration::WORKFLOW_TYPE,
            input: parses::<migration::MigrationInput>,
            valid_input: |p| checked(p, migration::MigrationInput::check),
            output: parses::<migration::MigrationStatus>,
            signals: &[(migration::ACCESS_SIGNAL, parses::<migration::AccessReport>)],
            updates: &[
                (migration::ROLLBACK_UPDATE, |p| checked(p, migration::RollbackRequest::check)),
                (migration::PAUSE_UPDATE, decision),
                (migration::RESUME_UPDATE, decision),
            ],
        },
    ]
}

/// The contract of a workflow type.
pub fn of(workflow_type: &str) -> Option<&'static WorkflowContract> {
    all().iter().find(|c| c.workflow_type == workflow_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_input_refuses_nothing_sent_naming_the_input() {
        let mut types: Vec<&str> = all().iter().map(|c| c.workflow_type).collect();
        types.sort_unstable();
        types.dedup();
        assert_eq!(types.len(), all().len(), "one contract per workflow type");
        for contract in all() {
            for check in [contract.input, contract.valid_input] {
                let refused = check(&[]).expect_err("no input is refused");
                assert_eq!(refused.0[0].field, "input", "{}: {refused}", contract.workflow_type);
            }
        }
    }
}
