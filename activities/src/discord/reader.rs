//! The only Discord access shadow mode has: reads. [`GuildReader`] keeps the REST client
//! private and offers GETs alone, so no shadow activity can grant, revoke, create or post,
//! whatever its code does.

use crate::discord::{DiscordFailure, DiscordRest};
use twilight_model::{
    channel::Channel,
    guild::{Member, Role},
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
}
