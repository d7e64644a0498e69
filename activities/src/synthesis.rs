//! Synthesis activities: plan (diff the manifest against the guild and the shadow state) and
//! apply one op, idempotently: an object this manifest item already made is found (by the id
//! recorded in `shadow_states`, then by name) before anything is created.

use crate::{
    CommunityId, ShadowState, Store, StoreError,
    discord::{DiscordFailure, DiscordRest},
};
use arrakis_schemas::{
    ChannelKind, CommunityManifest, GuildId,
    workflows::{
        reconcile::{
            DeleteExtra, Drift, DriftKind, DriftNotice, ExtraItem, ReconcileDiff, ReconcileInput, ReconcileMode,
        },
        shadow_sync::OperatorNotice,
        synthesis::{ApplyOp, DesiredItem, OpAction, OrderRoles, Phase, SynthesisInput, SynthesisOp, SynthesisPlan},
        wizard::{DeployMessage, DeployPlan, PreviewRequest},
    },
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::{collections::BTreeMap, sync::Arc, time::Duration};
use temporalio_macros::activities;
use temporalio_sdk::{
    ApplicationFailure,
    activities::{ActivityContext, ActivityError},
};
use twilight_model::{
    channel::{
        Channel, ChannelType,
        permission_overwrite::{PermissionOverwrite, PermissionOverwriteType},
    },
    guild::{Permissions, Role, RolePosition},
    id::{Id, marker::GenericMarker},
};

/// How long a frozen synthesis waits before checking the kill switch again.
const FROZEN_RECHECK: Duration = Duration::from_secs(15);

/// Synthesis activities; they run on the Discord task queue.
#[derive(Clone)]
pub struct SynthesisActivities {
    store: Store,
    discord: DiscordRest,
    bot_user_id: Option<u64>,
}

impl SynthesisActivities {
    /// Activities over `store` and `discord`; `bot_user_id` keeps the bot able to see the
    /// channels it hides from @everyone.
    pub fn new(store: Store, discord: DiscordRest, bot_user_id: Option<u64>) -> Self {
        Self { store, discord, bot_user_id }
    }
}

fn fail(message: impl Into<String>, type_name: &str, retryable: bool) -> ActivityError {
    ActivityError::application(
        ApplicationFailure::builder(message.into()).type_name(type_name.to_string()).non_retryable(!retryable).build(),
    )
}

fn storage(e: StoreError) -> ActivityError {
    let retryable = !matches!(e, StoreError::Corrupt { .. });
    fail(e.to_string(), "StorageUnavailable", retryable)
}

fn discord(e: DiscordFailure) -> ActivityError {
    e.into_activity_error()
}

/// The desired items of a manifest, in phase order.
pub fn desired_items(manifest: &CommunityManifest) -> Vec<(Phase, String, DesiredItem)> {
    let mut items = Vec::new();
    for role in &manifest.roles {
        items.push((
            Phase::Roles,
            role.key.clone(),
            DesiredItem {
                name: role.name.clone(),
                color: role.color,
                hoist: role.hoist,
                mentionable: role.mentionable,
                permissions: role.permissions.as_deref().and_then(|p| p.parse().ok()).unwrap_or(0),
                channel_type: 0,
                topic: None,
                parent_key: None,
                visible_to: Vec::new(),
            },
        ));
    }
    for category in &manifest.channels.categories {
        items.push((
            Phase::Categories,
            category.key.clone(),
            DesiredItem {
                name: category.name.clone(),
                channel_type: 4,
                visible_to: category.visible_to.clone(),
                ..blank()
            },
        ));
    }
    for category in &manifest.channels.categories {
        for channel in &category.channels {
            let visible_to =
                if channel.visible_to.is_empty() { category.visible_to.clone() } else { channel.visible_to.clone() };
            items.push((
                Phase::Channels,
                channel.key.clone(),
                DesiredItem {
                    name: channel.name.clone(),
                    channel_type: match channel.kind {
                        ChannelKind::Text => 0,
                        ChannelKind::Voice => 2,
                        ChannelKind::Announcement => 5,
                    },
                    // Discord keeps topics only on text and announcement channels.
                    topic: if channel.kind == ChannelKind::Voice { None } else { channel.topic.clone() },
                    parent_key: Some(category.key.clone()),
                    visible_to,
                    ..blank()
                },
            ));
        }
    }
    items
}

fn blank() -> DesiredItem {
    DesiredItem {
        name: String::new(),
        color: 0,
        hoist: false,
        mentionable: false,
        permissions: 0,
        channel_type: 0,
        topic: None,
        parent_key: None,
        visible_to: Vec::new(),
    }
}

/// Hash of a desired item (what `shadow_states.applied_hash` records).
pub fn item_hash(item: &DesiredItem) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(item).unwrap_or_default()))
}

pub(crate) fn kind_of(phase: Phase) -> &'static str {
    match phase {
        Phase::Roles => "role",
        Phase::Categories => "category",
        Phase::Channels => "channel",
    }
}

/// Resolved ids of the manifest keys applied so far, per kind.
#[derive(Default)]
struct Applied(BTreeMap<(String, String), u64>);

impl Applied {
    fn from(states: &[ShadowState]) -> Self {
        Self(states.iter().filter_map(|s| Some(((s.kind.clone(), s.key.clone()), s.discord_id? as u64))).collect())
    }

    fn id(&self, kind: &str, key: &str) -> Option<u64> {
        self.0.get(&(kind.to_string(), key.to_string())).copied()
    }
}

/// Who may see a channel: hidden from @everyone, shown to the listed roles and the bot.
fn overwrites(guild: u64, bot: Option<u64>, visible_to: &[u64]) -> Vec<PermissionOverwrite> {
    if visible_to.is_empty() {
        return Vec::new();
    }
    let view = Permissions::VIEW_CHANNEL;
    let mut list = vec![PermissionOverwrite {
        id: Id::<GenericMarker>::new(guild),
        kind: PermissionOverwriteType::Role,
        allow: Permissions::empty(),
        deny: view,
    }];
    if let Some(bot) = bot {
        list.push(PermissionOverwrite {
            id: Id::new(bot),
            kind: PermissionOverwriteType::Member,
            allow: view,
            deny: Permissions::empty(),
        });
    }
    for role in visible_to {
        list.push(PermissionOverwrite {
            id: Id::new(*role),
            kind: PermissionOverwriteType::Role,
            allow: view,
            deny: Permissions::empty(),
        });
    }
    list
}

fn same_overwrites(actual: &[PermissionOverwrite], wanted: &[PermissionOverwrite]) -> bool {
    let key = |o: &PermissionOverwrite| (o.id.get(), o.allow.bits(), o.deny.bits());
    let mut a: Vec<_> = actual.iter().map(key).collect();
    let mut w: Vec<_> = wanted.iter().map(key).collect();
    a.sort_unstable();
    w.sort_unstable();
    a == w
}

fn role_differences(role: &Role, item: &DesiredItem) -> Vec<String> {
    let mut diff = Vec::new();
    if role.name != item.name {
        diff.push(format!("name '{}' → '{}'", item.name, role.name));
    }
    if role.colors.primary_color != item.color {
        diff.push("colour changed".into());
    }
    if role.hoist != item.hoist || role.mentionable != item.mentionable {
        diff.push("display settings changed".into());
    }
    if role.permissions.bits() != item.permissions {
        diff.push("permissions changed".into());
    }
    diff
}

/// What [`SynthesisActivities::assess`] finds.
pub struct Assessment {
    /// The community (tenant) id.
    pub community_id: String,
    /// The manifest version compared against.
    pub version: i32,
    /// Creates and updates needed.
    pub ops: Vec<SynthesisOp>,
    /// Drift, item by item.
    pub drift: Vec<Drift>,
    /// Objects ours but no longer wanted.
    pub extras: Vec<ExtraItem>,
    /// Items in sync.
    pub unchanged: u32,
    /// The manifest's operator channel.
    pub operator_channel_id: Option<arrakis_schemas::Snowflake>,
}

impl SynthesisActivities {
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn discord(&self) -> &DiscordRest {
        &self.discord
    }

    async fn community(&self, guild: GuildId) -> Result<CommunityId, ActivityError> {
        let mut service = self.store.service().await.map_err(storage)?;
        let record = service.community_by_guild(guild).await.map_err(storage)?;
        record.map(|r| r.community_id).ok_or_else(|| {
            fail(format!("guild {guild} has no community: publish a manifest first"), "UnknownGuild", false)
        })
    }

    async fn roles(&self, guild: u64) -> Result<Vec<Role>, ActivityError> {
        let response = self
            .discord
            .send(Some(guild), "GET /guilds/{id}/roles", self.discord.http().roles(Id::new(guild)))
            .await
            .map_err(discord)?;
        response.models().await.map_err(|e| fail(e.to_string(), "DiscordUnavailable", true))
    }

    async fn channels(&self, guild: u64) -> Result<Vec<Channel>, ActivityError> {
        let response = self
            .discord
            .send(Some(guild), "GET /guilds/{id}/channels", self.discord.http().guild_channels(Id::new(guild)))
            .await
            .map_err(discord)?;
        response.models().await.map_err(|e| fail(e.to_string(), "DiscordUnavailable", true))
    }

    fn resolve_roles(&self, applied: &Applied, keys: &[String]) -> Option<Vec<u64>> {
        keys.iter().map(|k| applied.id("role", k)).collect()
    }

    /// Builds the plan; reads only.
    pub async fn build_plan(&self, input: &SynthesisInput) -> Result<SynthesisPlan, ActivityError> {
        let diff = self.assess(input.guild_id, Some(input.version)).await?;
        Ok(SynthesisPlan { community_id: diff.community_id, ops: diff.ops, unchanged: diff.unchanged })
    }

    /// The three-way diff of a guild: desired (the manifest version, the latest when `None`),
    /// last applied (`shadow_states`) and actual (Discord). Reads only.
    pub async fn assess(&self, guild_id: GuildId, version: Option<i32>) -> Result<Assessment, ActivityError> {
        let guild = guild_id.get();
        let community = self.community(guild_id).await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let record = match version {
            Some(v) => tx.manifest_version(v).await,
            None => tx.latest_manifest().await,
        }
        .map_err(storage)?
        .ok_or_else(|| {
            fail(format!("manifest version {version:?} of guild {guild} does not exist"), "UnknownVersion", false)
        })?;
        let states = tx.shadow_states().await.map_err(storage)?;
        drop(tx);
        self.assess_against(guild_id, community.to_string(), &record.manifest, record.version, &states).await
    }

    /// The three-way diff of `manifest` (saved as `version`, or a draft) against the shadow
    /// state `states` and the guild as Discord has it. Reads only.
    pub async fn assess_against(
        &self,
        guild_id: GuildId,
        community_id: String,
        manifest: &CommunityManifest,
        version: i32,
        states: &[ShadowState],
    ) -> Result<Assessment, ActivityError> {
        let guild = guild_id.get();
        let applied = Applied::from(states);
        let roles = self.roles(guild).await?;
        let channels = self.channels(guild).await?;
        let mut out = Assessment {
            operator_channel_id: manifest.operator_channel_id,
            community_id,
            version,
            ops: Vec::new(),
            drift: Vec::new(),
            extras: Vec::new(),
            unchanged: 0,
        };
        let desired = desired_items(manifest);
        for (phase, key, desired) in &desired {
            let kind = kind_of(*phase);
            let desired_hash = item_hash(desired);
            let recorded = states.iter().find(|s| s.kind == kind && &s.key == key);
            let existing = recorded.and_then(|s| s.discord_id).map(|id| id as u64).filter(|id| match phase {
                Phase::Roles => roles.iter().any(|r| r.id.get() == *id),
                _ => channels.iter().any(|c| c.id.get() == *id),
            });
            let differences = existing.map(|id| match phase {
                Phase::Roles => {
                    roles.iter().find(|r| r.id.get() == id).map(|r| role_differences(r, desired)).unwrap_or_default()
                }
                _ => channels
                    .iter()
                    .find(|c| c.id.get() == id)
                    .map(|c| self.channel_differences(guild, &applied, c, desired))
                    .unwrap_or_default(),
            });
            let up_to_date = recorded.is_some_and(|s| s.applied_hash == desired_hash);
            let drift = match (recorded, existing, differences.as_deref()) {
                (None, _, _) => Some((DriftKind::Missing, "never applied".to_string())),
                (Some(_), None, _) => Some((DriftKind::DeletedInDiscord, "deleted in Discord".to_string())),
                (Some(_), Some(_), Some(diff)) if !diff.is_empty() && up_to_date => {
                    Some((DriftKind::ChangedInDiscord, diff.join(", ")))
                }
                _ if !up_to_date => Some((DriftKind::Outdated, format!("manifest version {version} not applied yet"))),
                _ => None,
            };
            match drift {
                None => out.unchanged += 1,
                Some((kind, detail)) => {
                    out.drift.push(Drift { key: key.clone(), kind, detail });
                    let action = if existing.is_some() { OpAction::Update } else { OpAction::Create };
                    out.ops.push(SynthesisOp {
                        phase: *phase,
                        key: key.clone(),
                        action,
                        discord_id: existing.map(|id| id.to_string()),
                        desired: desired.clone(),
                        desired_hash,
                    });
                }
            }
        }
        for state in states {
            let wanted = desired.iter().any(|(phase, key, _)| kind_of(*phase) == state.kind && key == &state.key);
            let Some(id) = state.discord_id.map(|id| id as u64) else { continue };
            let exists = match state.kind.as_str() {
                "role" => roles.iter().any(|r| r.id.get() == id),
                _ => channels.iter().any(|c| c.id.get() == id),
            };
            if !wanted && exists {
                out.drift.push(Drift {
                    key: state.key.clone(),
                    kind: DriftKind::ExtraButOurs,
                    detail: format!("{} no longer in the manifest", state.kind),
                });
                out.extras.push(ExtraItem {
                    kind: state.kind.clone(),
                    key: state.key.clone(),
                    discord_id: id.to_string(),
                });
            }
        }
        Ok(out)
    }

    fn channel_differences(&self, guild: u64, applied: &Applied, c: &Channel, desired: &DesiredItem) -> Vec<String> {
        let mut diff = Vec::new();
        let name = c.name.as_deref().unwrap_or_default();
        if name != desired.name {
            diff.push(format!("name '{}' → '{name}'", desired.name));
        }
        if c.topic.as_deref().unwrap_or_default() != desired.topic.as_deref().unwrap_or_default() {
            diff.push("topic changed".into());
        }
        let parent = desired.parent_key.as_ref().map(|k| applied.id("category", k));
        if parent.is_some_and(|p| p.is_none() || c.parent_id.map(|x| x.get()) != p) {
            diff.push("moved to another category".into());
        }
        let wanted =
            self.resolve_roles(applied, &desired.visible_to).map(|ids| overwrites(guild, self.bot_user_id, &ids));
        if !wanted.is_some_and(|w| same_overwrites(c.permission_overwrites.as_deref().unwrap_or_default(), &w)) {
            diff.push("permission overwrites changed".into());
        }
        diff
    }

    /// Puts the manifest's roles in manifest order (first = highest) among the positions they
    /// already hold, so no other role moves; returns how many roles moved (0: one read only).
    pub async fn order_roles(&self, input: &OrderRoles) -> Result<u32, ActivityError> {
        let community = CommunityId(
            input.community_id.parse().map_err(|_| fail("community_id: not a UUID", "InvalidInput", false))?,
        );
        let guild = input.guild_id.get();
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let manifest = tx
            .manifest_version(input.version)
            .await
            .map_err(storage)?
            .ok_or_else(|| fail(format!("manifest version {} does not exist", input.version), "UnknownVersion", false))?
            .manifest;
        let applied = Applied::from(&tx.shadow_states().await.map_err(storage)?);
        drop(tx);
        let roles = self.roles(guild).await?;
        let ours: Vec<(u64, i64)> = manifest
            .roles
            .iter()
            .filter_map(|r| applied.id("role", &r.key))
            .filter_map(|id| roles.iter().find(|r| r.id.get() == id).map(|r| (id, r.position)))
            .collect();
        let mut slots: Vec<i64> = ours.iter().map(|(_, p)| *p).collect();
        slots.sort_unstable_by(|a, b| b.cmp(a));
        let moves: Vec<RolePosition> = ours
            .iter()
            .zip(&slots)
            .filter(|((_, current), wanted)| current != *wanted)
            .map(|((id, _), wanted)| RolePosition { id: Id::new(*id), position: (*wanted).max(1) as u64 })
            .collect();
        if moves.is_empty() {
            return Ok(0);
        }
        let request = self.discord.http().update_role_positions(Id::new(guild), &moves);
        self.discord.send(Some(guild), "PATCH /guilds/{id}/roles", request).await.map_err(discord)?;
        Ok(moves.len() as u32)
    }

    /// Deletes an object Arrakis made that the manifest no longer has, and forgets it.
    pub async fn delete_extra(&self, input: &DeleteExtra) -> Result<(), ActivityError> {
        let community = CommunityId(
            input.community_id.parse().map_err(|_| fail("community_id: not a UUID", "InvalidInput", false))?,
        );
        let guild = input.guild_id.get();
        let id: u64 =
            input.item.discord_id.parse().map_err(|_| fail("discord_id: not a snowflake", "InvalidInput", false))?;
        let http = self.discord.http();
        let result = match input.item.kind.as_str() {
            "role" => self
                .discord
                .send(Some(guild), "DELETE /guilds/{id}/roles/{role}", http.delete_role(Id::new(guild), Id::new(id)))
                .await
                .map(drop),
            _ => self
                .discord
                .send(Some(guild), "DELETE /channels/{id}", http.delete_channel(Id::new(id)))
                .await
                .map(drop),
        };
        match result {
            Ok(()) | Err(DiscordFailure::NotFound { .. }) => {}
            Err(e) => return Err(discord(e)),
        }
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.forget_shadow_state(&input.item.kind, &input.item.key).await.map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    /// Applies one op and records it in the shadow state.
    pub async fn apply_op(&self, input: &ApplyOp, attempt: u32) -> Result<String, ActivityError> {
        let community = CommunityId(
            input.community_id.parse().map_err(|_| fail("community_id: not a UUID", "InvalidInput", false))?,
        );
        {
            let mut service = self.store.service().await.map_err(storage)?;
            if let Some(reason) = service.frozen(community).await.map_err(storage)? {
                return Err(ActivityError::application(
                    ApplicationFailure::builder(format!("synthesis is frozen: {reason}"))
                        .type_name("SynthesisFrozen".to_string())
                        .next_retry_delay(FROZEN_RECHECK)
                        .build(),
                ));
            }
        }
        let guild = input.guild_id.get();
        let op = &input.op;
        let kind = kind_of(op.phase);
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let applied = Applied::from(&tx.shadow_states().await.map_err(storage)?);
        drop(tx);

        // An earlier attempt may have created the object and crashed before recording it:
        // look for it before creating another.
        let mut target =
            op.discord_id.as_deref().and_then(|id| id.parse::<u64>().ok()).or_else(|| applied.id(kind, &op.key));
        if target.is_none() && attempt > 1 {
            target = self.find_by_name(guild, op).await?;
        }
        let id = match op.phase {
            Phase::Roles => self.apply_role(guild, target, &op.desired).await?,
            Phase::Categories | Phase::Channels => {
                let parent = match &op.desired.parent_key {
                    Some(key) => Some(applied.id("category", key).ok_or_else(|| {
                        fail(format!("category {key} is not applied yet"), "DependencyMissing", true)
                    })?),
                    None => None,
                };
                let roles = self.resolve_roles(&applied, &op.desired.visible_to).ok_or_else(|| {
                    fail(format!("a role of {:?} is not applied yet", op.desired.visible_to), "DependencyMissing", true)
                })?;
                let overwrites = overwrites(guild, self.bot_user_id, &roles);
                self.apply_channel(guild, target, &op.desired, parent, &overwrites).await?
            }
        };
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.record_shadow_state(kind, &op.key, id as i64, &op.desired_hash, input.version).await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(id.to_string())
    }

    async fn find_by_name(&self, guild: u64, op: &SynthesisOp) -> Result<Option<u64>, ActivityError> {
        Ok(match op.phase {
            Phase::Roles => {
                self.roles(guild).await?.iter().find(|r| !r.managed && r.name == op.desired.name).map(|r| r.id.get())
            }
            _ => self
                .channels(guild)
                .await?
                .iter()
                .find(|c| {
                    c.name.as_deref() == Some(op.desired.name.as_str()) && u8::from(c.kind) == op.desired.channel_type
                })
                .map(|c| c.id.get()),
        })
    }

    async fn apply_role(&self, guild: u64, target: Option<u64>, item: &DesiredItem) -> Result<u64, ActivityError> {
        let http = self.discord.http();
        let permissions = Permissions::from_bits_truncate(item.permissions);
        if let Some(id) = target {
            let request = http
                .update_role(Id::new(guild), Id::new(id))
                .name(Some(&item.name))
                .color(Some(item.color))
                .hoist(item.hoist)
                .mentionable(item.mentionable)
                .permissions(permissions);
            match self.discord.send(Some(guild), "PATCH /guilds/{id}/roles/{role}", request).await {
                Ok(_) => return Ok(id),
                Err(DiscordFailure::NotFound { .. }) => {} // deleted by hand: create it again
                Err(e) => return Err(discord(e)),
            }
        }
        let request = http
            .create_role(Id::new(guild))
            .name(&item.name)
            .color(item.color)
            .hoist(item.hoist)
            .mentionable(item.mentionable)
            .permissions(permissions);
        let response = self.discord.send(Some(guild), "POST /guilds/{id}/roles", request).await.map_err(discord)?;
        let role = response.model().await.map_err(|e| fail(e.to_string(), "DiscordUnavailable", true))?;
        Ok(role.id.get())
    }

    async fn apply_channel(
        &self,
        guild: u64,
        target: Option<u64>,
        item: &DesiredItem,
        parent: Option<u64>,
        overwrites: &[PermissionOverwrite],
    ) -> Result<u64, ActivityError> {
        let http = self.discord.http();
        if let Some(id) = target {
            let mut request = http.update_channel(Id::new(id)).name(&item.name).permission_overwrites(overwrites);
            if let Some(parent) = parent {
                request = request.parent_id(Some(Id::new(parent)));
            }
            if let Some(topic) = &item.topic {
                request = request.topic(topic);
            }
            match self.discord.send(Some(guild), "PATCH /channels/{id}", request).await {
                Ok(_) => return Ok(id),
                Err(DiscordFailure::NotFound { .. }) => {}
                Err(e) => return Err(discord(e)),
            }
        }
        let mut request = http
            .create_guild_channel(Id::new(guild), &item.name)
            .kind(ChannelType::from(item.channel_type))
            .permission_overwrites(overwrites);
        if let Some(parent) = parent {
            request = request.parent_id(Id::new(parent));
        }
        if let Some(topic) = &item.topic {
            request = request.topic(topic);
        }
        let response = self.discord.send(Some(guild), "POST /guilds/{id}/channels", request).await.map_err(discord)?;
        let channel = response.model().await.map_err(|e| fail(e.to_string(), "DiscordUnavailable", true))?;
        Ok(channel.id.get())
    }
}

/// One audit row, written by the `audit.record` activity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The community.
    pub community_id: String,
    /// Who (a workflow, an operator).
    pub actor: String,
    /// What, e.g. `synthesis.started`.
    pub action: String,
    /// Details.
    pub detail: serde_json::Value,
    /// The workflow that wrote it.
    pub workflow_id: String,
}

#[activities]
impl SynthesisActivities {
    /// Plans a synthesis: the ops that make the guild match the manifest version.
    #[activity(name = "synthesis.plan")]
    pub async fn plan(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: SynthesisInput,
    ) -> Result<SynthesisPlan, ActivityError> {
        self.build_plan(&input).await
    }

    /// Applies one op; returns the Discord id of the object.
    #[activity(name = "synthesis.apply")]
    pub async fn apply(self: Arc<Self>, ctx: ActivityContext, input: ApplyOp) -> Result<String, ActivityError> {
        let attempt = ctx.info().attempt;
        self.apply_op(&input, attempt).await
    }

    /// The three-way diff against the latest manifest version.
    #[activity(name = "reconcile.diff")]
    pub async fn reconcile_diff(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ReconcileInput,
    ) -> Result<ReconcileDiff, ActivityError> {
        let a = self.assess(input.guild_id, None).await?;
        Ok(ReconcileDiff {
            community_id: a.community_id,
            version: a.version,
            drift: a.drift,
            ops: a.ops,
            extras: a.extras,
            operator_channel_id: a.operator_channel_id,
        })
    }

    /// Posts a drift report in the operator's channel.
    #[activity(name = "reconcile.notify")]
    pub async fn reconcile_notify(
        self: Arc<Self>,
        _ctx: ActivityContext,
        notice: DriftNotice,
    ) -> Result<(), ActivityError> {
        let guild = notice.guild_id.get();
        let verb =
            if notice.mode == ReconcileMode::Apply { "found and fixed" } else { "found (dry run, nothing changed)" };
        let mut content = format!("Arrakis reconciliation {verb} {} drifted item(s):", notice.drift.len());
        for d in notice.drift.iter().take(20) {
            content.push_str(&format!("\n- `{}` {:?}: {}", d.key, d.kind, d.detail));
        }
        if notice.drift.len() > 20 {
            content.push_str(&format!("\n... and {} more (see the audit log)", notice.drift.len() - 20));
        }
        // Discord allows 2,000 characters in a message.
        let content: String = content.chars().take(1900).collect();
        let request = self.discord.http().create_message(Id::new(notice.channel_id.get())).content(&content);
        self.discord.send(Some(guild), "POST /channels/{id}/messages", request).await.map_err(discord)?;
        Ok(())
    }

    /// Posts a notice (the shadow digest) in the operator's channel.
    #[activity(name = "notify.operator")]
    pub async fn notify_operator(
        self: Arc<Self>,
        _ctx: ActivityContext,
        notice: OperatorNotice,
    ) -> Result<(), ActivityError> {
        // Discord allows 2,000 characters in a message.
        let content: String = notice.text.chars().take(2000).collect();
        let request = self.discord.http().create_message(Id::new(notice.channel_id.get())).content(&content);
        self.discord
            .send(Some(notice.guild_id.get()), "POST /channels/{id}/messages", request)
            .await
            .map_err(discord)?;
        Ok(())
    }

    /// Deletes an object that is ours but no longer in the manifest.
    #[activity(name = "reconcile.delete_extra")]
    pub async fn reconcile_delete(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: DeleteExtra,
    ) -> Result<(), ActivityError> {
        self.delete_extra(&input).await
    }

    /// Orders the manifest's roles as the manifest lists them.
    #[activity(name = "synthesis.order_roles")]
    pub async fn order(self: Arc<Self>, _ctx: ActivityContext, input: OrderRoles) -> Result<u32, ActivityError> {
        self.order_roles(&input).await
    }

    /// REVIEW's plan: what deploying the wizard's draft would create and change.
    #[activity(name = "wizard.preview")]
    pub async fn preview(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: PreviewRequest,
    ) -> Result<DeployPlan, ActivityError> {
        self.preview_plan(&input).await
    }

    /// Posts or edits the wizard's DEPLOY progress message; returns the message id.
    #[activity(name = "wizard.deploy_message")]
    pub async fn deploy_message(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: DeployMessage,
    ) -> Result<String, ActivityError> {
        self.post_deploy_message(&input).await
    }

    /// Writes an audit row.
    #[activity(name = "synthesis.audit")]
    pub async fn audit(self: Arc<Self>, _ctx: ActivityContext, entry: AuditEntry) -> Result<(), ActivityError> {
        let community = CommunityId(
            entry.community_id.parse().map_err(|_| fail("community_id: not a UUID", "InvalidInput", false))?,
        );
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.audit(&entry.actor, &entry.action, entry.detail, Some(&entry.workflow_id)).await.map_err(storage)?;
        tx.commit().await.map_err(storage)
    }
}
