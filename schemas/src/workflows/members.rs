//! Member events from the gateway (join, leave, role or name change), passed on to the guild's
//! member-sync workflow. The signal's payload is [`Lenient`](crate::Lenient): a signal that fails
//! to deserialize would fail every later workflow task of the run, so the receiver parses it
//! itself and drops what does not fit.

use crate::{GuildId, Snowflake, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Signal name.
pub const MEMBER_EVENT_SIGNAL: &str = "member_event";

/// The workflow that receives a guild's member events.
pub fn workflow_id(guild_id: GuildId) -> String {
    format!("member-sync-{guild_id}")
}

/// What happened to the member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberEventKind {
    /// GUILD_MEMBER_ADD.
    Joined,
    /// GUILD_MEMBER_REMOVE.
    Left,
    /// GUILD_MEMBER_UPDATE (roles, nickname, …).
    Updated,
}

/// One member event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MemberEvent {
    /// The guild.
    pub guild_id: GuildId,
    /// The member.
    pub user_id: UserId,
    /// What happened.
    pub kind: MemberEventKind,
    /// The member's roles after the event (empty when they left).
    #[serde(default)]
    pub roles: Vec<Snowflake>,
    /// When the gateway received it (Unix ms): member sync tells an event from before its own
    /// write (which would ask for the write again) from a change made after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at_ms: Option<u64>,
}

/// A member's Discord roles as Discord last showed them to the gateway (in an event or an
/// interaction's `member`), and when the gateway received them: member sync decides from
/// these instead of reading the member again, and a write it sent later overrides them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesSeen {
    /// The member's role ids (at most [`RolesSeen::MAX`], Discord's roles per guild).
    pub roles: Vec<Snowflake>,
    /// When the gateway received them (Unix ms).
    pub seen_at_ms: u64,
}

impl RolesSeen {
    /// Discord allows at most 250 roles in a guild.
    pub const MAX: usize = 250;

    /// Refuses more roles than a guild can have, naming the field.
    pub fn check(&self) -> Result<(), String> {
        if self.roles.len() > Self::MAX {
            return Err(format!(
                "roles_seen.roles: at most {} roles (a guild has no more), got {}",
                Self::MAX,
                self.roles.len()
            ));
        }
        Ok(())
    }
}
