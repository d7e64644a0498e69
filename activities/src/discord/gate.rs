//! The one gate every Discord mutation passes. A [`GuildWriter`] is the only holder of the
//! calls that change a guild (roles, channels, member roles), and the only way to get one is
//! [`Gate::open`], which checks the community's mode and the kill switch (the guild's and the
//! global one) first. The writer checks them again before each call, so a freeze set mid-run
//! stops the very next change, and it refuses to touch any role or channel the manifest does
//! not own. Every change carries an `X-Audit-Log-Reason`, so Discord's own audit log says why.
//!
//! Reads go through [`GuildReader`]; messages to the operator through [`OperatorMessenger`],
//! which posts and edits messages only (Arrakis reports in shadow mode and while frozen too).

use super::{DiscordFailure, DiscordRest, GuildReader};
use crate::failure::{ActivityFailure, FailureKind};
use crate::{CommunityId, Store, StoreError};
use arrakis_schemas::{
    GuildId, Limits, Mode,
    plan::{ActualOverwrite, ItemKind, OverwriteTarget},
    workflows::synthesis::{DesiredItem, FreezeScope},
};
use std::{collections::BTreeSet, time::Duration};
use temporalio_sdk::activities::ActivityError;
use twilight_http::request::AuditLogReason;
use twilight_model::{
    channel::{
        ChannelType,
        message::Component,
        permission_overwrite::{PermissionOverwrite, PermissionOverwriteType},
    },
    guild::{Permissions, RolePosition},
    id::Id,
};

/// How long a change refused by a freeze waits before Temporal retries it.
pub const FROZEN_RECHECK: Duration = Duration::from_secs(15);

/// Why the gate stays shut for a guild.
#[derive(Debug, thiserror::Error)]
pub enum GateClosed {
    /// Nothing was ever published for the guild.
    #[error("guild {0} has no community: publish a manifest first")]
    NoCommunity(GuildId),
    /// Shadow mode: Arrakis observes and compares, and changes nothing in Discord.
    #[error("the community is in shadow mode: Arrakis changes nothing in Discord")]
    Shadow,
    /// The guild, or every guild, is frozen until the kill switch is lifted.
    #[error("changes are frozen: {reason}")]
    Frozen {
        /// Why, as the operator gave it.
        reason: String,
    },
    /// The database could not say.
    #[error("cannot read the community's mode: {0}")]
    Storage(#[from] StoreError),
}

impl GateClosed {
    /// The activity error: a freeze waits and retries; shadow mode and a missing community
    /// are final; a storage failure retries.
    pub fn into_activity_error(self) -> ActivityError {
        ActivityFailure::from(self).into()
    }
}

impl From<GateClosed> for ActivityFailure {
    fn from(closed: GateClosed) -> Self {
        let message = closed.to_string();
        match closed {
            GateClosed::Frozen { .. } => ActivityFailure::new(FailureKind::Frozen, message).after(FROZEN_RECHECK),
            GateClosed::Shadow => ActivityFailure::new(FailureKind::ShadowMode, message),
            GateClosed::NoCommunity(_) => ActivityFailure::new(FailureKind::UnknownGuild, message),
            GateClosed::Storage(_) => ActivityFailure::new(FailureKind::StorageUnavailable, message),
        }
    }
}

/// A change the writer refused or Discord failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The gate closed (shadow mode or a freeze since the writer was opened).
    #[error(transparent)]
    Closed(#[from] GateClosed),
    /// The object is not the manifest's: Arrakis never touches it.
    #[error("{0} is not managed by Arrakis: it is left alone")]
    NotOwned(String),
    /// Discord answered with a failure.
    #[error(transparent)]
    Discord(#[from] DiscordFailure),
}

impl WriteError {
    /// The activity error, retryable where waiting can help.
    pub fn into_activity_error(self) -> ActivityError {
        match self {
            Self::Closed(closed) => closed.into_activity_error(),
            Self::NotOwned(_) => ActivityFailure::new(FailureKind::NotOwned, self.to_string()).into(),
            Self::Discord(failure) => failure.into_activity_error(),
        }
    }
}

/// What the gate found for a guild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateState {
    /// The community.
    pub community: CommunityId,
    /// The mode the operator chose (the community's, the one source of truth).
    pub mode: Mode,
    /// The freeze in force, if any: the global kill switch's reason, else the guild's own.
    pub frozen: Option<String>,
    /// Every freeze in force (global, the guild's own), so a held run knows what releases it.
    pub freezes: Vec<FreezeScope>,
}

impl GateState {
    /// Ok when changes may go out.
    pub fn check(&self) -> Result<(), GateClosed> {
        if self.mode == Mode::Shadow {
            return Err(GateClosed::Shadow);
        }
        match &self.frozen {
            Some(reason) => Err(GateClosed::Frozen { reason: reason.clone() }),
            None => Ok(()),
        }
    }
}

/// Hands out readers, the operator messenger and, after checking, guild writers.
#[derive(Clone)]
pub struct Gate {
    rest: DiscordRest,
    store: Store,
}

impl Gate {
    /// The gate over `rest`, reading modes and freezes from `store`.
    pub fn new(rest: DiscordRest, store: Store) -> Self {
        Self { rest, store }
    }

    /// A read-only handle.
    pub fn reader(&self) -> GuildReader {
        GuildReader::new(self.rest.clone())
    }

    /// The handle that posts and edits Arrakis's messages to operators.
    pub fn messenger(&self) -> OperatorMessenger {
        OperatorMessenger { rest: self.rest.clone() }
    }

    /// The guild's mode and freeze, as the next change would see them.
    pub async fn state(&self, guild: GuildId) -> Result<GateState, GateClosed> {
        let mut service = self.store.service().await?;
        let row = service.gate_state(guild).await?.ok_or(GateClosed::NoCommunity(guild))?;
        service.commit().await?;
        let mut freezes = Vec::new();
        if row.global_freeze.is_some() {
            freezes.push(FreezeScope::Global);
        }
        if row.guild_frozen {
            freezes.push(FreezeScope::Guild);
        }
        let frozen = row.global_freeze.or_else(|| row.guild_frozen.then(|| "this community is frozen".to_string()));
        Ok(GateState { community: row.community, mode: row.mode, frozen, freezes })
    }

    /// A writer for `guild`, if its mode and the kill switch allow changes. `context` opens
    /// every audit-log reason (`Arrakis: manifest v3, …`).
    pub async fn open(&self, guild: GuildId, context: impl Into<String>) -> Result<GuildWriter, GateClosed> {
        let state = self.state(guild).await?;
        state.check()?;
        let mut tx = self.store.tenant(state.community).await?;
        let applied = tx.shadow_states().await?;
        tx.commit().await?;
        let mut owned = BTreeSet::new();
        for s in applied {
            if let (Some(kind), Some(id)) = (ItemKind::parse(&s.kind), s.discord_id) {
                owned.insert((kind == ItemKind::Role, id as u64));
            }
        }
        Ok(GuildWriter { gate: self.clone(), guild, community: state.community, context: context.into(), owned })
    }
}

/// The only holder of the calls that change a guild.
pub struct GuildWriter {
    gate: Gate,
    guild: GuildId,
    community: CommunityId,
    context: String,
    /// (is a role, id) of every object the manifest owns.
    owned: BTreeSet<(bool, u64)>,
}

impl GuildWriter {
    /// The community the writer changes.
    pub fn community(&self) -> CommunityId {
        self.community
    }

    /// The reason Discord's audit log shows: `Arrakis: {context}, {what}`.
    fn reason(&self, what: &str) -> String {
        let reason = format!("Arrakis: {}, {what}", self.context);
        reason.chars().take(Limits::AUDIT_REASON_MAX).collect()
    }

    /// Checks the mode and the freeze again before a change (a freeze set while the writer was
    /// held stops the next change, not only the next writer); returns the change's audit-log
    /// reason, `what` in the writer's context.
    async fn open_for(&self, what: &str) -> Result<String, GateClosed> {
        self.gate.state(self.guild).await?.check()?;
        Ok(self.reason(what))
    }

    fn owns_role(&self, id: u64) -> Result<(), WriteError> {
        if id == self.guild.get() || !self.owned.contains(&(true, id)) {
            return Err(WriteError::NotOwned(format!("role {id}")));
        }
        Ok(())
    }

    fn owns_channel(&self, id: u64) -> Result<(), WriteError> {
        if !self.owned.contains(&(false, id)) {
            return Err(WriteError::NotOwned(format!("channel {id}")));
        }
        Ok(())
    }

    /// Takes on an object an earlier attempt created and crashed before recording (found by
    /// its name): it is the manifest's.
    pub fn adopt(&mut self, kind: ItemKind, id: u64) {
        self.owned.insert((kind == ItemKind::Role, id));
    }

    fn rest(&self) -> &DiscordRest {
        &self.gate.rest
    }

    /// Creates a role; returns its id.
    pub async fn create_role(&mut self, item: &DesiredItem, what: &str) -> Result<u64, WriteError> {
        let reason = self.open_for(what).await?;
        let guild = self.guild.get();
        let request = self
            .rest()
            .http()
            .create_role(Id::new(guild))
            .name(&item.name)
            .color(item.color)
            .hoist(item.hoist)
            .mentionable(item.mentionable)
            .permissions(Permissions::from_bits_truncate(item.permissions))
            .reason(&reason);
        let response = self.rest().send(Some(guild), "POST /guilds/{id}/roles", request).await?;
        let role = response.model().await.map_err(|e| DiscordFailure::Unavailable(e.to_string()))?;
        self.owned.insert((true, role.id.get()));
        Ok(role.id.get())
    }

    /// Makes an owned role look as `item` says.
    pub async fn update_role(&self, id: u64, item: &DesiredItem, what: &str) -> Result<(), WriteError> {
        self.owns_role(id)?;
        let reason = self.open_for(what).await?;
        let guild = self.guild.get();
        let request = self
            .rest()
            .http()
            .update_role(Id::new(guild), Id::new(id))
            .name(Some(&item.name))
            .color(Some(item.color))
            .hoist(item.hoist)
            .mentionable(item.mentionable)
            .permissions(Permissions::from_bits_truncate(item.permissions))
            .reason(&reason);
        self.rest().send(Some(guild), "PATCH /guilds/{id}/roles/{role}", request).await?;
        Ok(())
    }

    /// Deletes an owned role (Discord takes it from every member in the same request).
    pub async fn delete_role(&self, id: u64, what: &str) -> Result<(), WriteError> {
        self.owns_role(id)?;
        let reason = self.open_for(what).await?;
        let guild = self.guild.get();
        let request = self.rest().http().delete_role(Id::new(guild), Id::new(id)).reason(&reason);
        self.rest().send(Some(guild), "DELETE /guilds/{id}/roles/{role}", request).await?;
        Ok(())
    }

    /// Moves owned roles to the given positions.
    pub async fn position_roles(&self, moves: &[(u64, u64)], what: &str) -> Result<(), WriteError> {
        for (id, _) in moves {
            self.owns_role(*id)?;
        }
        let reason = self.open_for(what).await?;
        let guild = self.guild.get();
        let positions: Vec<RolePosition> =
            moves.iter().map(|(id, position)| RolePosition { id: Id::new(*id), position: *position }).collect();
        let request = self.rest().http().update_role_positions(Id::new(guild), &positions).reason(&reason);
        self.rest().send(Some(guild), "PATCH /guilds/{id}/roles", request).await?;
        Ok(())
    }

    /// Creates a channel or category; returns its id.
    pub async fn create_channel(
        &mut self,
        item: &DesiredItem,
        parent: Option<u64>,
        overwrites: &[ActualOverwrite],
        what: &str,
    ) -> Result<u64, WriteError> {
        let reason = self.open_for(what).await?;
        let guild = self.guild.get();
        let overwrites = twilight_overwrites(overwrites);
        let mut request = self
            .rest()
            .http()
            .create_guild_channel(Id::new(guild), &item.name)
            .kind(ChannelType::from(item.channel_type))
            .permission_overwrites(&overwrites)
            .reason(&reason);
        if let Some(parent) = parent {
            request = request.parent_id(Id::new(parent));
        }
        if let Some(topic) = &item.topic {
            request = request.topic(topic);
        }
        let response = self.rest().send(Some(guild), "POST /guilds/{id}/channels", request).await?;
        let channel = response.model().await.map_err(|e| DiscordFailure::Unavailable(e.to_string()))?;
        self.owned.insert((false, channel.id.get()));
        Ok(channel.id.get())
    }

    /// Makes an owned channel look as `item` says, its overwrites included.
    pub async fn update_channel(
        &self,
        id: u64,
        item: &DesiredItem,
        parent: Option<u64>,
        overwrites: &[ActualOverwrite],
        what: &str,
    ) -> Result<(), WriteError> {
        self.owns_channel(id)?;
        let reason = self.open_for(what).await?;
        let overwrites = twilight_overwrites(overwrites);
        let mut request =
            self.rest().http().update_channel(Id::new(id)).name(&item.name).permission_overwrites(&overwrites);
        if let Some(parent) = parent {
            request = request.parent_id(Some(Id::new(parent)));
        }
        if let Some(topic) = &item.topic {
            request = request.topic(topic);
        }
        let request = request.reason(&reason);
        self.rest().send(Some(self.guild.get()), "PATCH /channels/{id}", request).await?;
        Ok(())
    }

    /// Deletes an owned channel or category (a channel's messages go with it).
    pub async fn delete_channel(&self, id: u64, what: &str) -> Result<(), WriteError> {
        self.owns_channel(id)?;
        let reason = self.open_for(what).await?;
        let request = self.rest().http().delete_channel(Id::new(id)).reason(&reason);
        self.rest().send(Some(self.guild.get()), "DELETE /channels/{id}", request).await?;
        Ok(())
    }

    /// Gives a member an owned role: one atomic `PUT`, which races with no other bot.
    pub async fn grant(&self, user: u64, role: u64, what: &str) -> Result<(), WriteError> {
        self.member_role(user, role, true, what).await
    }

    /// Takes an owned role from a member: one atomic `DELETE`.
    pub async fn revoke(&self, user: u64, role: u64, what: &str) -> Result<(), WriteError> {
        self.member_role(user, role, false, what).await
    }

    /// Adds (`add`) or removes an owned role of a member.
    async fn member_role(&self, user: u64, role: u64, add: bool, what: &str) -> Result<(), WriteError> {
        self.owns_role(role)?;
        let reason = self.open_for(what).await?;
        let (guild, http) = (self.guild.get(), self.rest().http());
        let (guild_id, user, role) = (Id::new(guild), Id::new(user), Id::new(role));
        // Discord keys member-role edits per guild: PUT and DELETE share one bucket.
        let route = "PUT /guilds/{id}/members/{user}/roles/{role}";
        if add {
            let request = http.add_guild_member_role(guild_id, user, role).reason(&reason);
            self.rest().send(Some(guild), route, request).await?;
        } else {
            let request = http.remove_guild_member_role(guild_id, user, role).reason(&reason);
            self.rest().send(Some(guild), route, request).await?;
        }
        Ok(())
    }
}

fn twilight_overwrites(overwrites: &[ActualOverwrite]) -> Vec<PermissionOverwrite> {
    overwrites
        .iter()
        .map(|o| PermissionOverwrite {
            id: Id::new(o.id),
            kind: match o.target {
                OverwriteTarget::Role => PermissionOverwriteType::Role,
                OverwriteTarget::Member => PermissionOverwriteType::Member,
            },
            allow: Permissions::from_bits_truncate(o.allow),
            deny: Permissions::from_bits_truncate(o.deny),
        })
        .collect()
}

/// Posts and edits Arrakis's own messages in an operator's channel; it can do nothing else.
#[derive(Clone)]
pub struct OperatorMessenger {
    rest: DiscordRest,
}

impl OperatorMessenger {
    /// Posts `content` (clipped to Discord's 2,000 characters) with `components`; returns the
    /// message id.
    pub async fn post(
        &self,
        guild: GuildId,
        channel: u64,
        content: &str,
        components: &[Component],
    ) -> Result<u64, DiscordFailure> {
        let content: String = content.chars().take(Limits::MESSAGE_MAX).collect();
        let request = self.rest.http().create_message(Id::new(channel)).content(&content).components(components);
        let response = self.rest.send(Some(guild.get()), "POST /channels/{id}/messages", request).await?;
        let message = response.model().await.map_err(|e| DiscordFailure::Unavailable(e.to_string()))?;
        Ok(message.id.get())
    }

    /// Edits the operator's Deploy screen (the ephemeral message Deploy or Refresh was pressed
    /// on) through that interaction's token, which the gateway leaves in Redis for its
    /// lifetime: an ephemeral message can be edited no other way. False when no token is
    /// there (it expired, or nobody is looking).
    pub async fn edit_deploy_screen(
        &self,
        application_id: u64,
        guild: GuildId,
        content: &str,
        components: &[Component],
    ) -> Result<bool, DiscordFailure> {
        let key = arrakis_schemas::workflows::wizard::deploy_screen_key(guild);
        let token = self.rest.budget().shared_value(&key).await.map_err(|e| DiscordFailure::Budget(e.to_string()))?;
        let Some(token) = token.filter(|t| !t.is_empty()) else { return Ok(false) };
        let content: String = content.chars().take(Limits::MESSAGE_MAX).collect();
        let client = self.rest.http().interaction(Id::new(application_id.max(1)));
        let request = client.update_response(&token).content(Some(&content)).components(Some(components));
        self.rest.send(Some(guild.get()), "PATCH /webhooks/{id}/{token}/messages/@original", request).await?;
        Ok(true)
    }

    /// Replaces the content of a message Arrakis posted and takes its buttons away: a
    /// decision it asked for was made elsewhere.
    pub async fn close(&self, guild: GuildId, channel: u64, message: u64, content: &str) -> Result<(), DiscordFailure> {
        let content: String = content.chars().take(Limits::MESSAGE_MAX).collect();
        let request = self
            .rest
            .http()
            .update_message(Id::new(channel), Id::new(message))
            .content(Some(&content))
            .components(Some(&[]));
        self.rest.send(Some(guild.get()), "PATCH /channels/{id}/messages/{id}", request).await?;
        Ok(())
    }

    /// Replaces the content of a message Arrakis posted.
    pub async fn edit(&self, guild: GuildId, channel: u64, message: u64, content: &str) -> Result<u64, DiscordFailure> {
        let content: String = content.chars().take(Limits::MESSAGE_MAX).collect();
        let request = self.rest.http().update_message(Id::new(channel), Id::new(message)).content(Some(&content));
        let response = self.rest.send(Some(guild.get()), "PATCH /channels/{id}/messages/{id}", request).await?;
        let message = response.model().await.map_err(|e| DiscordFailure::Unavailable(e.to_string()))?;
        Ok(message.id.get())
    }
}
