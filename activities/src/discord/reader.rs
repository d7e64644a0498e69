//! Reads of a guild. [`GuildReader`] keeps the REST client private and offers GETs alone, so
//! whoever holds one (shadow mode's activities hold nothing else) can grant, revoke, create or
//! post nothing, whatever its code does.

use super::{DiscordFailure, DiscordRest};
use arrakis_schemas::plan::{ActualChannel, ActualOverwrite, ActualRole, GuildSnapshot, OverwriteTarget};
use twilight_model::{
    channel::{Channel, permission_overwrite::PermissionOverwriteType},
    guild::{Member, Role, audit_log::AuditLogEventType},
    id::Id,
};

/// Read-only access to a guild, behind the same rate budget as every other Discord call.
#[derive(Clone)]
pub struct GuildReader {
    rest: DiscordRest,
}

impl GuildReader {
    /// Reads through `rest`, which it never lends out.
    pub fn new(rest: DiscordRest) -> Self {
        Self { rest }
    }

    /// Up to `limit` members after `after` (by user id), Discord's cursor paging.
    pub async fn members_page(
        &self,
        guild: u64,
        after: Option<u64>,
        limit: u16,
    ) -> Result<Vec<Member>, DiscordFailure> {
        let mut request = self.rest.http().guild_members(Id::new(guild)).limit(limit);
        if let Some(after) = after {
            request = request.after(Id::new(after));
        }
        let response = self.rest.send(Some(guild), "GET /guilds/{id}/members", request).await?;
        response.models().await.map_err(|e| DiscordFailure::Unavailable(e.to_string()))
    }

    /// One member, or `None` when they are not in the guild.
    pub async fn member(&self, guild: u64, user: u64) -> Result<Option<Member>, DiscordFailure> {
        let request = self.rest.http().guild_member(Id::new(guild), Id::new(user));
        match self.rest.send(Some(guild), "GET /guilds/{id}/members/{user}", request).await {
            Ok(response) => response.model().await.map(Some).map_err(|e| DiscordFailure::Unavailable(e.to_string())),
            Err(DiscordFailure::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// True when `user` is a member of `guild`.
    pub async fn is_member(&self, guild: u64, user: u64) -> Result<bool, DiscordFailure> {
        let request = self.rest.http().guild_member(Id::new(guild), Id::new(user));
        match self.rest.send(Some(guild), "GET /guilds/{id}/members/{user}", request).await {
            Ok(_) => Ok(true),
            Err(DiscordFailure::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The guild's roles.
    pub async fn roles(&self, guild: u64) -> Result<Vec<Role>, DiscordFailure> {
        let response =
            self.rest.send(Some(guild), "GET /guilds/{id}/roles", self.rest.http().roles(Id::new(guild))).await?;
        response.models().await.map_err(|e| DiscordFailure::Unavailable(e.to_string()))
    }

    /// The guild's channels.
    pub async fn channels(&self, guild: u64) -> Result<Vec<Channel>, DiscordFailure> {
        let request = self.rest.http().guild_channels(Id::new(guild));
        let response = self.rest.send(Some(guild), "GET /guilds/{id}/channels", request).await?;
        response.models().await.map_err(|e| DiscordFailure::Unavailable(e.to_string()))
    }

    /// When `user` last added a role to or took one from a member (Unix ms), from the newest
    /// `MEMBER_ROLE_UPDATE` of the guild's audit log (a read that needs View Audit Log, no
    /// gateway intent); `None` when the log holds none.
    pub async fn last_role_update_by(&self, guild: u64, user: u64) -> Result<Option<u64>, DiscordFailure> {
        let request = self
            .rest
            .http()
            .audit_log(Id::new(guild))
            .user_id(Id::new(user))
            .action_type(AuditLogEventType::MemberRoleUpdate)
            .limit(1);
        let response = self.rest.send(Some(guild), "GET /guilds/{id}/audit-logs", request).await?;
        let log = response.model().await.map_err(|e| DiscordFailure::Unavailable(e.to_string()))?;
        Ok(log.entries.first().map(|e| arrakis_schemas::workflows::incumbent::snowflake_ms(e.id.get())))
    }

    /// The guild's roles and channels in the shape planning reads (two GETs).
    pub async fn snapshot(&self, guild: u64, bot_user_id: Option<u64>) -> Result<GuildSnapshot, DiscordFailure> {
        let roles = self.roles(guild).await?.iter().map(actual_role).collect();
        let channels = self.channels(guild).await?.iter().map(actual_channel).collect();
        Ok(GuildSnapshot { guild_id: guild, bot_user_id, roles, channels })
    }
}

/// A twilight role as planning sees it.
pub fn actual_role(role: &Role) -> ActualRole {
    ActualRole {
        id: role.id.get(),
        name: role.name.clone(),
        color: role.colors.primary_color,
        hoist: role.hoist,
        mentionable: role.mentionable,
        permissions: role.permissions.bits(),
        managed: role.managed,
        position: role.position,
    }
}

/// A twilight channel as planning sees it.
pub fn actual_channel(channel: &Channel) -> ActualChannel {
    let overwrites = channel
        .permission_overwrites
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|o| ActualOverwrite {
            id: o.id.get(),
            target: if o.kind == PermissionOverwriteType::Member {
                OverwriteTarget::Member
            } else {
                OverwriteTarget::Role
            },
            allow: o.allow.bits(),
            deny: o.deny.bits(),
        })
        .collect();
    ActualChannel {
        id: channel.id.get(),
        kind: u8::from(channel.kind),
        name: channel.name.clone().unwrap_or_default(),
        topic: channel.topic.clone(),
        parent_id: channel.parent_id.map(|p| p.get()),
        overwrites,
        last_message_id: channel.last_message_id.map(|m| m.get()),
    }
}
