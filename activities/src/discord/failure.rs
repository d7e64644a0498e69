//! What a failed Discord call means for a Temporal activity: retry (and when), or stop with a
//! message an operator can act on.

use crate::failure::{ActivityFailure, FailureKind};
use std::time::Duration;
use temporalio_sdk::activities::ActivityError;
use twilight_http::{api_error::ApiError, error::ErrorType};

/// A Discord call that did not succeed, classified.
#[derive(Debug, thiserror::Error)]
pub enum DiscordFailure {
    /// Discord said 429; the next attempt must wait `retry_after`.
    #[error("rate limited by Discord; retry after {retry_after:?}")]
    RateLimited {
        /// The earliest time to try again.
        retry_after: Duration,
    },
    /// 5xx, a timeout or a connection failure: worth retrying with backoff.
    #[error("Discord unavailable: {0}")]
    Unavailable(String),
    /// 403 50013: the bot lacks a permission or sits below the roles it must manage.
    #[error(
        "Discord refused ({message}): grant the Arrakis bot Manage Roles and Manage Channels, and move the Arrakis role above the roles it manages"
    )]
    MissingPermissions {
        /// Discord's message.
        message: String,
    },
    /// 404 with an "Unknown …" code: the resource is gone.
    #[error("not found in Discord ({code}: {message})")]
    NotFound {
        /// Discord's code, e.g. 10011 Unknown Role.
        code: u64,
        /// Discord's message.
        message: String,
    },
    /// 30005/30013 and other maximums: the guild is full.
    #[error("Discord limit reached ({code}: {message}): remove unused roles or channels first")]
    LimitReached {
        /// Discord's code.
        code: u64,
        /// Discord's message.
        message: String,
    },
    /// Any other 4xx: the request itself is wrong, and repeating it will not help.
    #[error("Discord rejected the request ({status}, {code}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Discord's code.
        code: u64,
        /// Discord's message and field errors.
        message: String,
    },
    /// The shared budget (Redis) could not be reached.
    #[error("rate budget unavailable: {0}")]
    Budget(String),
}

impl DiscordFailure {
    /// Classifies a twilight error. `RequestCanceled` is the rate-limit guard's doing (a 429
    /// that twilight would have re-sent): it becomes `RateLimited`.
    pub fn from_twilight(error: &twilight_http::Error, rate_limited_for: Duration) -> Self {
        match error.kind() {
            ErrorType::RequestCanceled => Self::RateLimited { retry_after: rate_limited_for },
            ErrorType::Response { error, status, body } => {
                let status = status.get();
                let (code, message) = match error {
                    ApiError::General(general) => (general.code, general.message.clone()),
                    other => (0, format!("{other:?}")),
                };
                match (status, code) {
                    (429, _) => Self::RateLimited { retry_after: rate_limited_for },
                    (500..=599, _) => Self::Unavailable(format!("{status} {message}")),
                    (403, 50013) => Self::MissingPermissions { message },
                    (404, _) => Self::NotFound { code, message },
                    (_, 30000..=30099) => Self::LimitReached { code, message },
                    // The body carries Discord's field errors (50035), which say what to fix.
                    _ => Self::Rejected { status, code, message: String::from_utf8_lossy(body).into_owned() },
                }
            }
            ErrorType::Unauthorized => {
                Self::Rejected { status: 401, code: 0, message: "the bot token is invalid".into() }
            }
            ErrorType::RequestTimedOut | ErrorType::RequestError => Self::Unavailable(error.to_string()),
            _ => Self::Unavailable(error.to_string()),
        }
    }

    /// True when another attempt can succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind().retryable()
    }

    /// What kind of failure it is, as Temporal records it (and retry policies can match).
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::RateLimited { .. } => FailureKind::DiscordRateLimited,
            Self::Unavailable(_) => FailureKind::DiscordUnavailable,
            Self::MissingPermissions { .. } => FailureKind::DiscordMissingPermissions,
            Self::NotFound { .. } => FailureKind::DiscordNotFound,
            Self::LimitReached { .. } => FailureKind::DiscordLimitReached,
            Self::Rejected { .. } => FailureKind::DiscordRejected,
            Self::Budget(_) => FailureKind::RateBudgetUnavailable,
        }
    }
}

impl From<DiscordFailure> for ActivityFailure {
    fn from(e: DiscordFailure) -> Self {
        let failure = ActivityFailure::new(e.kind(), e.to_string());
        match e {
            DiscordFailure::RateLimited { retry_after } => failure.after(retry_after),
            _ => failure,
        }
    }
}

impl DiscordFailure {
    /// The activity error: typed, retryable or not, and for a 429 with the delay Temporal
    /// must wait before the next attempt.
    pub fn into_activity_error(self) -> ActivityError {
        ActivityFailure::from(self).into()
    }
}
