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

use twilight_model::channel::message::component::{ActionRow, Button, ButtonStyle, Component};

/// One row of buttons for an operator message (a held batch's Confirm/Discard, a migration's
/// Rollback), each `(custom_id, label, style)`.
pub fn button_row(buttons: &[(String, &str, ButtonStyle)]) -> Component {
    let components = buttons
        .iter()
        .map(|(custom_id, label, style)| {
            Component::Button(Button {
                custom_id: Some(custom_id.clone()),
                disabled: false,
                emoji: None,
                id: None,
                label: Some(label.to_string()),
                sku_id: None,
                style: *style,
                url: None,
            })
        })
        .collect();
    Component::ActionRow(ActionRow { components, id: None })
}
