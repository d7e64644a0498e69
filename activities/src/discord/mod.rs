//! Discord REST for activities: twilight-http behind one rate budget shared by every worker
//! process (a token bucket in Redis), the route buckets Discord announces (shared in Redis),
//! and a per-guild limiter so one big guild cannot starve the rest. Failures are classified so
//! Temporal retries what a retry can fix, never sooner than Discord allows, and stops with an
//! operator-actionable message on the rest.

//!
//! The client itself is private to this module: what leaves it is a [`GuildReader`] (GETs),
//! an [`OperatorMessenger`] (Arrakis's own messages) and, through the [`Gate`] that checks the
//! community's mode and the kill switch, a [`GuildWriter`]: the only way to change a guild.

mod budget;
mod failure;
mod gate;
mod reader;
mod rest;
#[cfg(test)]
mod tests;

pub use budget::{BudgetSettings, RateBudget};
pub use failure::DiscordFailure;
pub use gate::{FROZEN_RECHECK, Gate, GateClosed, GateState, GuildWriter, OperatorMessenger, WriteError};
pub use reader::{GuildReader, actual_channel, actual_role};
pub use rest::{DiscordRest, DiscordSettings};
