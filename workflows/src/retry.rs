//! Activity options shared by the workflows, so retry behaviour is decided in one place.

use std::time::Duration;
use temporalio_common::RetryPolicy;
use temporalio_sdk::{ActivityCloseTimeouts, ActivityOptions};

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

/// The task queue of the Discord-mutating activities: `{main}-discord`. It has its own
/// server-side rate limit, the second guard behind the shared Redis budget.
pub(crate) fn discord_queue(main: &str) -> String {
    format!("{main}-discord")
}

/// Options for a Discord read or an audit row on the Discord queue. A 429 is retried after its
/// `retry_after` (about a second), not after the backoff, so the attempts must outlast a storm
/// of them (the chaos suite's lasts 30 s); an outage backs off to 30 s between attempts.
pub(crate) fn discord(queue: &str) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(60))
        .task_queue(queue.to_string())
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(30))
                .maximum_attempts(60)
                .build(),
        )
        .build()
}

/// Options for applying one op: 5xx and 429s retry (a 429 after its `retry_after`), a frozen
/// kill switch keeps it waiting, a refusal from Discord fails it at once.
pub(crate) fn discord_apply(queue: &str) -> ActivityOptions {
    // One Discord call (plus a look-up on retries): a lost worker's op is retried 20 s later.
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(20))
        .task_queue(queue.to_string())
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(500))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(30))
                .maximum_attempts(60)
                .build(),
        )
        .build()
}

/// Options for one shadow-sync page: a Discord read, a batched chain read and a database
/// write, heartbeated, so a page lost with its worker is handed to another within 15 s.
pub(crate) fn shadow_page(queue: &str) -> ActivityOptions {
    let mut options = discord(queue);
    options.close_timeouts = ActivityCloseTimeouts::StartToClose(Duration::from_secs(120));
    options.heartbeat_timeout = Some(Duration::from_secs(15));
    options
}

/// Options for one batch of member-role writes: a Discord window (about ten seconds) of
/// atomic edits, heartbeated after each, so a lost worker's batch resumes within 15 s and a
/// 429 waits out its `retry_after`.
pub(crate) fn member_writes(queue: &str) -> ActivityOptions {
    let mut options = discord_apply(queue);
    options.close_timeouts = ActivityCloseTimeouts::StartToClose(Duration::from_secs(120));
    options.heartbeat_timeout = Some(Duration::from_secs(15));
    options
}

/// Options for the chain watcher's long poll of `window`: heartbeated, so a lost worker's poll
/// is handed on within 15 s; a chain down for a while is retried by the next poll, not here.
pub(crate) fn chain_watch(queue: &str, window: Duration) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(window + Duration::from_secs(60))
        .task_queue(queue.to_string())
        .heartbeat_timeout(Duration::from_secs(15))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(10))
                .maximum_attempts(3)
                .build(),
        )
        .build()
}

/// Options for a compensation: it runs until it succeeds (a freeze or an outage holds the
/// rollback, it never drops a step), backing off to a minute between tries; heartbeated, so a
/// lost worker's step is handed to another within 30 s.
pub(crate) fn compensation(queue: &str) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(180))
        .task_queue(queue.to_string())
        .heartbeat_timeout(Duration::from_secs(30))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(60))
                .maximum_attempts(0)
                .build(),
        )
        .build()
}
