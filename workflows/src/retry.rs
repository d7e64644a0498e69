//! Activity options shared by the workflows, so retry behaviour is decided in one place.

use std::time::Duration;
use temporalio_common::RetryPolicy;
use temporalio_sdk::ActivityOptions;

/// Options for a short storage activity: retried with backoff for about five minutes, so a
/// Postgres restart is ridden out but a real outage surfaces as a failed run.
pub(crate) fn storage() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(30))
                .maximum_attempts(15)
                .build(),
        )
        .build()
}
