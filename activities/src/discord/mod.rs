//! Discord REST for activities: twilight-http behind one rate budget shared by every worker
//! process (a token bucket in Redis), the route buckets Discord announces (shared in Redis),
//! and a per-guild limiter so one big guild cannot starve the rest. Failures are classified so
//! Temporal retries what a retry can fix, never sooner than Discord allows, and stops with an
//! operator-actionable message on the rest.

mod budget;
mod failure;
mod rest;

pub use budget::{BudgetSettings, RateBudget};
pub use failure::DiscordFailure;
pub use rest::{DiscordRest, DiscordSettings};
