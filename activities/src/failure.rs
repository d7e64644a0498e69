//! Why an activity failed, as one type: a kind from a closed list (the failure's type name in
//! the Temporal Web UI and its history) and whether the workflow's retry policy may try again.
//! Every activity module builds its failures here, so a name cannot be misspelled and a kind
//! is retried the same way wherever it is raised. Discord's failures (`DiscordFailure`) and the
//! mutation gate's refusals (`GateClosed`, `WriteError`) keep their own types, which classify a
//! response, and become an `ActivityFailure` at the activity's edge.

use crate::StoreError;
use std::time::Duration;
use temporalio_sdk::{ApplicationFailure, activities::ActivityError};

/// What went wrong, by cause. The name is the failure's type in Temporal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Postgres or Scylla refused or could not be reached.
    StorageUnavailable,
    /// A stored document no longer parses: retrying reads the same bytes.
    CorruptState,
    /// The Temporal frontend refused a start, a signal, a listing or a schedule.
    TemporalUnavailable,
    /// An RPC endpoint of a chain could not be read.
    ChainUnavailable,
    /// The chain is not in the chains file.
    ChainNotConfigured,
    /// An op names a role or category that is not applied yet.
    DependencyMissing,
    /// The wizard's Deploy screen has not been answered yet.
    DeployScreenNotAnswered,
    /// The input breaks its contract (a field that does not parse).
    InvalidInput,
    /// The manifest does not validate for what is asked of it.
    InvalidManifest,
    /// A member sync did not stop when asked.
    MemberSyncRunning,
    /// Another migration of the community is under way.
    MigrationUnderWay,
    /// The community, or the version asked for, has no manifest.
    NoManifest,
    /// The guild has no community.
    UnknownGuild,
    /// The manifest version does not exist.
    UnknownVersion,
    /// The contract an operator picked cannot gate a role.
    AssetNotUsable,
    /// A wallet challenge could not be issued.
    ChallengeRefused,
    /// A rollback's migration has no record of what existed before it.
    MigrationNotRecorded,
    /// The mutation gate is closed for what was asked (shadow mode).
    GateClosed,
    /// The community is in primary or exclusive mode already.
    AlreadyMigrated,
    /// Discord answered 429: the next attempt waits the time it gave.
    DiscordRateLimited,
    /// Discord answered 5xx, timed out, or could not be reached.
    DiscordUnavailable,
    /// Discord answered 403 50013: the bot lacks a permission or sits too low.
    DiscordMissingPermissions,
    /// Discord answered 404: the object is gone.
    DiscordNotFound,
    /// Discord answered 300xx: the guild is at a maximum.
    DiscordLimitReached,
    /// Discord refused the request itself (another 4xx).
    DiscordRejected,
    /// The shared rate budget (Redis) could not be reached.
    RateBudgetUnavailable,
    /// The guild, or every guild, is frozen by the kill switch: retried after a wait.
    Frozen,
    /// Shadow mode: nothing may change in Discord.
    ShadowMode,
    /// The object is not the manifest's, so Arrakis leaves it alone.
    NotOwned,
}

impl FailureKind {
    /// The type name Temporal shows.
    pub fn name(self) -> &'static str {
        match self {
            Self::StorageUnavailable => "StorageUnavailable",
            Self::CorruptState => "CorruptState",
            Self::TemporalUnavailable => "TemporalUnavailable",
            Self::ChainUnavailable => "ChainUnavailable",
            Self::ChainNotConfigured => "ChainNotConfigured",
            Self::DependencyMissing => "DependencyMissing",
            Self::DeployScreenNotAnswered => "DeployScreenNotAnswered",
            Self::InvalidInput => "InvalidInput",
            Self::InvalidManifest => "InvalidManifest",
            Self::MemberSyncRunning => "MemberSyncRunning",
            Self::MigrationUnderWay => "MigrationUnderWay",
            Self::NoManifest => "NoManifest",
            Self::UnknownGuild => "UnknownGuild",
            Self::UnknownVersion => "UnknownVersion",
            Self::AssetNotUsable => "AssetNotUsable",
            Self::ChallengeRefused => "ChallengeRefused",
            Self::MigrationNotRecorded => "MigrationNotRecorded",
            Self::GateClosed => "GateClosed",
            Self::AlreadyMigrated => "AlreadyMigrated",
            Self::DiscordRateLimited => "DiscordRateLimited",
            Self::DiscordUnavailable => "DiscordUnavailable",
            Self::DiscordMissingPermissions => "DiscordMissingPermissions",
            Self::DiscordNotFound => "DiscordNotFound",
            Self::DiscordLimitReached => "DiscordLimitReached",
            Self::DiscordRejected => "DiscordRejected",
            Self::RateBudgetUnavailable => "RateBudgetUnavailable",
            Self::Frozen => "Frozen",
            Self::ShadowMode => "ShadowMode",
            Self::NotOwned => "NotOwned",
        }
    }

    /// Whether a failure of this kind is worth another attempt: the cause may pass (an outage,
    /// an order not yet reached), or it will not (the input or the stored state is wrong).
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Self::StorageUnavailable
                | Self::TemporalUnavailable
                | Self::ChainUnavailable
                | Self::DependencyMissing
                | Self::DeployScreenNotAnswered
                | Self::MemberSyncRunning
                | Self::ChallengeRefused
                | Self::DiscordRateLimited
                | Self::DiscordUnavailable
                | Self::RateBudgetUnavailable
                | Self::Frozen
        )
    }
}

/// An activity's failure: its kind, the operator-readable message, and whether to retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityFailure {
    kind: FailureKind,
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl ActivityFailure {
    /// A failure of `kind`, retried as the kind is.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), retryable: kind.retryable(), retry_after: None }
    }

    /// The same failure, with the earliest time for the next attempt (a 429's `retry_after`,
    /// a freeze's recheck) in place of the retry policy's backoff.
    pub fn after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// The same failure, retried only if `retryable`: for a cause whose own error knows
    /// better than its kind (a challenge refused for bad input, not an outage).
    pub fn retry_if(mut self, retryable: bool) -> Self {
        self.retryable = self.retryable && retryable;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// Whether the workflow's retry policy may try again.
    pub fn retryable(&self) -> bool {
        self.retryable
    }

    /// The message the Web UI and the workflow see.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<StoreError> for ActivityFailure {
    fn from(e: StoreError) -> Self {
        let kind = if matches!(e, StoreError::Corrupt { .. }) {
            FailureKind::CorruptState
        } else {
            FailureKind::StorageUnavailable
        };
        Self::new(kind, e.to_string())
    }
}

impl From<ActivityFailure> for ActivityError {
    fn from(f: ActivityFailure) -> Self {
        let builder = ApplicationFailure::builder(f.message).type_name(f.kind.name().to_string());
        let failure = match f.retry_after {
            Some(delay) if f.retryable => builder.next_retry_delay(delay).build(),
            _ => builder.non_retryable(!f.retryable).build(),
        };
        ActivityError::application(failure)
    }
}

/// A storage error as an activity's failure: `.map_err(storage)?` in every activity module.
pub fn storage(e: StoreError) -> ActivityError {
    ActivityFailure::from(e).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_row_is_not_retried_and_an_outage_is() {
        let corrupt = ActivityFailure::from(StoreError::Corrupt { what: "manifest", detail: "eof".into() });
        assert_eq!((corrupt.kind(), corrupt.retryable()), (FailureKind::CorruptState, false));
        let outage = ActivityFailure::from(StoreError::Scylla("down".into()));
        assert_eq!((outage.kind(), outage.retryable()), (FailureKind::StorageUnavailable, true));
        assert_eq!(outage.message(), "scylla: down");
    }

    #[test]
    fn a_cause_can_forbid_a_retry_but_never_grant_one() {
        let refused = ActivityFailure::new(FailureKind::ChallengeRefused, "address: not hex").retry_if(false);
        assert!(!refused.retryable());
        let bad = ActivityFailure::new(FailureKind::InvalidInput, "community_id: not a UUID").retry_if(true);
        assert!(!bad.retryable(), "bad input stays final");
    }
}
