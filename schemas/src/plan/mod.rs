//! The plan of a guild: what the manifest asks for (desired), what Arrakis last applied (the
//! shadow state) and what Discord holds (actual), and the ops that make them agree.
//!
//! Pure, so synthesis, reconciliation and the wizard's REVIEW compute one plan with one set of
//! rules: dependency order (a role recreated after a hand deletion rewrites every overwrite
//! that named it in the same pass), channel names compared the way Discord stores them, and
//! items the manifest dropped listed as removals for the operator to decide, never deleted as
//! a side effect.

mod items;

pub use items::{DesiredItem, Drift, DriftKind, ExtraItem, ItemKind, ItemRef, OpAction, Phase, SynthesisOp};

use crate::{ChannelKind, CommunityManifest, RoleGrant};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Discord's VIEW_CHANNEL permission bit.
pub const VIEW_CHANNEL: u64 = 1 << 10;
/// Milliseconds from the Unix epoch to Discord's (2015-01-01), the base of snowflake times.
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// A role as Discord has it, as far as planning looks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActualRole {
    /// Its id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Colour.
    pub color: u32,
    /// Shown separately.
    pub hoist: bool,
    /// Mentionable.
    pub mentionable: bool,
    /// Permission bits.
    pub permissions: u64,
    /// Owned by an integration (a bot's own role): never Arrakis's to touch.
    pub managed: bool,
    /// Position in the role list.
    pub position: i64,
}

/// Who a permission overwrite applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverwriteTarget {
    /// A role (Discord type 0).
    Role,
    /// A member (Discord type 1).
    Member,
}

/// One permission overwrite of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ActualOverwrite {
    /// The role or member.
    pub id: u64,
    /// Which of the two.
    pub target: OverwriteTarget,
    /// Allowed bits.
    pub allow: u64,
    /// Denied bits.
    pub deny: u64,
}

/// A channel or category as Discord has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActualChannel {
    /// Its id.
    pub id: u64,
    /// Discord's channel type (0 text, 2 voice, 4 category, 5 announcement).
    pub kind: u8,
    /// Name, as Discord stores it.
    pub name: String,
    /// Topic.
    pub topic: Option<String>,
    /// The category it sits in.
    pub parent_id: Option<u64>,
    /// Permission overwrites.
    pub overwrites: Vec<ActualOverwrite>,
    /// The newest message's id: a snowflake, so it tells when the channel was last used.
    pub last_message_id: Option<u64>,
}

/// A guild as planning needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildSnapshot {
    /// The guild (also the id of its @everyone role).
    pub guild_id: u64,
    /// The bot's user id: it keeps sight of the channels it hides from @everyone.
    pub bot_user_id: Option<u64>,
    /// Every role.
    pub roles: Vec<ActualRole>,
    /// Every channel and category.
    pub channels: Vec<ActualChannel>,
}

impl GuildSnapshot {
    fn role(&self, id: u64) -> Option<&ActualRole> {
        self.roles.iter().find(|r| r.id == id)
    }

    fn channel(&self, id: u64) -> Option<&ActualChannel> {
        self.channels.iter().find(|c| c.id == id)
    }

    fn exists(&self, kind: ItemKind, id: u64) -> bool {
        match kind {
            ItemKind::Role => self.role(id).is_some(),
            ItemKind::Category | ItemKind::Channel => self.channel(id).is_some(),
        }
    }
}

/// What Arrakis last applied for one manifest item (a `shadow_states` row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedItem {
    /// What kind of object.
    pub kind: ItemKind,
    /// The manifest key.
    pub key: String,
    /// The Discord object it made.
    pub discord_id: Option<u64>,
    /// Hash of the desired state when it was applied.
    pub applied_hash: String,
}

/// One manifest item in the shape Discord will hold it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredEntry {
    /// What kind of object.
    pub kind: ItemKind,
    /// The manifest key.
    pub key: String,
    /// What it should look like.
    pub item: DesiredItem,
}

/// A text or announcement channel's name as Discord stores it: lowercased, whitespace and
/// dashes run together into one dash, ASCII punctuation other than `-` and `_` dropped, no
/// dash at either end. Discord does not document the rule; bot libraries learned it (JDA
/// #1124, nextcord #957, yesbot-ts #971). Comparing the manifest's name in this form is what
/// keeps "Spice Chat" from being renamed back at every reconciliation.
pub fn text_channel_name(name: &str) -> String {
    let lowered = name.to_lowercase();
    let kept = lowered.chars().filter(|c| !(c.is_ascii_punctuation() && *c != '-' && *c != '_'));
    let spaced: String = kept.map(|c| if c.is_whitespace() { '-' } else { c }).collect();
    spaced.split('-').filter(|part| !part.is_empty()).collect::<Vec<_>>().join("-")
}

/// The name a manifest channel of `kind` will have in Discord.
pub fn stored_channel_name(kind: ChannelKind, name: &str) -> String {
    match kind {
        ChannelKind::Text | ChannelKind::Announcement => text_channel_name(name),
        ChannelKind::Voice => name.to_string(),
    }
}

/// Discord's channel type number for a manifest channel kind.
pub fn channel_type(kind: ChannelKind) -> u8 {
    match kind {
        ChannelKind::Text => 0,
        ChannelKind::Voice => 2,
        ChannelKind::Announcement => 5,
    }
}

/// Each role's rank in the guild's order, 1 for the lowest above @everyone (`everyone`, 0):
/// Discord's positions may have gaps and ties, and a move asks for a rank.
pub fn role_ranks(roles: &[(u64, i64)], everyone: u64) -> std::collections::BTreeMap<u64, i64> {
    let mut order: Vec<(i64, u64)> = roles.iter().filter(|(id, _)| *id != everyone).map(|(id, p)| (*p, *id)).collect();
    order.sort_unstable();
    let mut ranks: std::collections::BTreeMap<u64, i64> =
        order.into_iter().enumerate().map(|(i, (_, id))| (id, i as i64 + 1)).collect();
    ranks.insert(everyone, 0);
    ranks
}

/// Ranks (`role_ranks`) after putting each `recreated` role back in its place in the manifest's
/// order: right below the manifest role before it in `ours` (manifest order, first highest), or
/// right above the one after it when it comes first. Discord creates a role at the bottom of
/// the list; left there, a recreated role would lose the place (colour, hoist, what it may
/// manage) its members had. Roles between its old and new place shift by one, as in Discord.
pub fn restore_recreated(
    ranks: &std::collections::BTreeMap<u64, i64>,
    ours: &[u64],
    recreated: &[u64],
) -> std::collections::BTreeMap<u64, i64> {
    let mut order: Vec<(i64, u64)> = ranks.iter().filter(|(_, rank)| **rank > 0).map(|(id, r)| (*r, *id)).collect();
    order.sort_unstable();
    let mut order: Vec<u64> = order.into_iter().map(|(_, id)| id).collect();
    for &role in ours.iter().filter(|r| recreated.contains(r)) {
        let Some(at) = order.iter().position(|id| *id == role) else { continue };
        order.remove(at);
        let mine = ours.iter().position(|r| *r == role).unwrap_or(0);
        let above = ours[..mine].iter().rev().find_map(|p| order.iter().position(|id| id == p));
        let below = ours[mine + 1..].iter().find_map(|n| order.iter().position(|id| id == n));
        let to = match (above, below) {
            (Some(p), _) => p,
            (None, Some(n)) => n + 1,
            (None, None) => at,
        };
        order.insert(to.min(order.len()), role);
    }
    let mut out: std::collections::BTreeMap<u64, i64> =
        ranks.iter().filter(|(_, rank)| **rank <= 0).map(|(id, r)| (*id, *r)).collect();
    out.extend(order.into_iter().enumerate().map(|(i, id)| (id, i as i64 + 1)));
    out
}

/// The manifest channel kind of a Discord channel type (categories and threads have none).
pub fn channel_kind(discord_type: u8) -> Option<ChannelKind> {
    match discord_type {
        0 => Some(ChannelKind::Text),
        2 => Some(ChannelKind::Voice),
        5 => Some(ChannelKind::Announcement),
        _ => None,
    }
}

/// Every item of `manifest` as Discord should hold it, in phase order.
pub fn desired_items(manifest: &CommunityManifest) -> Vec<DesiredEntry> {
    let mut items = Vec::new();
    for role in &manifest.roles {
        items.push(DesiredEntry {
            kind: ItemKind::Role,
            key: role.key.clone(),
            item: DesiredItem {
                name: role.name.clone(),
                color: role.color,
                hoist: role.hoist,
                mentionable: role.mentionable,
                permissions: role.permissions.as_deref().and_then(|p| p.parse().ok()).unwrap_or(0),
                ..blank()
            },
        });
    }
    for category in &manifest.channels.categories {
        items.push(DesiredEntry {
            kind: ItemKind::Category,
            key: category.key.clone(),
            item: DesiredItem {
                name: category.name.clone(),
                channel_type: 4,
                visible_to: category.visible_to.clone(),
                ..blank()
            },
        });
    }
    for category in &manifest.channels.categories {
        for channel in &category.channels {
            let visible_to =
                if channel.visible_to.is_empty() { category.visible_to.clone() } else { channel.visible_to.clone() };
            items.push(DesiredEntry {
                kind: ItemKind::Channel,
                key: channel.key.clone(),
                item: DesiredItem {
                    name: stored_channel_name(channel.kind, &channel.name),
                    channel_type: channel_type(channel.kind),
                    // Discord keeps topics only on text and announcement channels.
                    topic: if channel.kind == ChannelKind::Voice { None } else { channel.topic.clone() },
                    parent_key: Some(category.key.clone()),
                    visible_to,
                    ..blank()
                },
            });
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
    let digest = Sha256::digest(serde_json::to_vec(item).unwrap_or_default());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Who may see a channel: hidden from @everyone, shown to the listed roles and the bot. No
/// roles listed: no overwrites, everyone sees it.
pub fn wanted_overwrites(guild_id: u64, bot_user_id: Option<u64>, roles: &[u64]) -> Vec<ActualOverwrite> {
    if roles.is_empty() {
        return Vec::new();
    }
    let everyone = ActualOverwrite { id: guild_id, target: OverwriteTarget::Role, allow: 0, deny: VIEW_CHANNEL };
    let bot =
        bot_user_id.map(|id| ActualOverwrite { id, target: OverwriteTarget::Member, allow: VIEW_CHANNEL, deny: 0 });
    let shown =
        roles.iter().map(|id| ActualOverwrite { id: *id, target: OverwriteTarget::Role, allow: VIEW_CHANNEL, deny: 0 });
    std::iter::once(everyone).chain(bot).chain(shown).collect()
}

fn same_overwrites(actual: &[ActualOverwrite], wanted: &[ActualOverwrite]) -> bool {
    let key = |o: &ActualOverwrite| (o.id, o.allow, o.deny);
    let mut a: Vec<_> = actual.iter().map(key).collect();
    let mut w: Vec<_> = wanted.iter().map(key).collect();
    a.sort_unstable();
    w.sort_unstable();
    a == w
}

/// The ids of what has been applied, by kind and key.
#[derive(Clone, Debug, Default)]
pub struct AppliedIds(BTreeMap<(ItemKind, String), u64>);

impl AppliedIds {
    /// The ids recorded in `applied`.
    pub fn from(applied: &[AppliedItem]) -> Self {
        Self(applied.iter().filter_map(|a| Some(((a.kind, a.key.clone()), a.discord_id?))).collect())
    }

    /// The Discord id of `key`, if applied.
    pub fn id(&self, kind: ItemKind, key: &str) -> Option<u64> {
        self.0.get(&(kind, key.to_string())).copied()
    }

    /// The ids of role keys, or `None` if one is not applied yet.
    pub fn roles(&self, keys: &[String]) -> Option<Vec<u64>> {
        keys.iter().map(|k| self.id(ItemKind::Role, k)).collect()
    }
}

/// What a guild needs to match its manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assessment {
    /// Creates and updates, in phase order.
    pub ops: Vec<SynthesisOp>,
    /// Drift, item by item, in the order of the ops.
    pub drift: Vec<Drift>,
    /// Objects Arrakis made that the manifest no longer has: the operator decides their fate.
    pub removals: Vec<ExtraItem>,
    /// Items already as wanted.
    pub unchanged: u32,
}

/// The three-way diff of `manifest` against what was applied and what Discord holds. `now_ms`
/// (Unix milliseconds) only words how long ago a dropped channel was last used.
pub fn assess(
    manifest: &CommunityManifest,
    version: i32,
    applied: &[AppliedItem],
    guild: &GuildSnapshot,
    now_ms: u64,
) -> Assessment {
    let ids = AppliedIds::from(applied);
    let desired = desired_items(manifest);
    let mut out = Assessment::default();
    // Items recreated because they were deleted in Discord: what names them must follow.
    let mut recreated: BTreeSet<(ItemKind, String)> = BTreeSet::new();
    for entry in &desired {
        let recorded = applied.iter().find(|a| a.kind == entry.kind && a.key == entry.key);
        let existing = recorded.and_then(|a| a.discord_id).filter(|id| guild.exists(entry.kind, *id));
        let desired_hash = item_hash(&entry.item);
        let up_to_date = recorded.is_some_and(|a| a.applied_hash == desired_hash);
        let differences = existing.map(|id| differences(entry, id, guild, &ids)).unwrap_or_default();
        let drift = match (recorded, existing) {
            (None, _) => Some((DriftKind::Missing, "never applied".to_string())),
            (Some(_), None) => {
                recreated.insert((entry.kind, entry.key.clone()));
                Some((DriftKind::DeletedInDiscord, "deleted in Discord".to_string()))
            }
            (Some(_), Some(_)) if !differences.is_empty() && up_to_date => {
                Some((DriftKind::ChangedInDiscord, differences.join(", ")))
            }
            _ if !up_to_date => Some((DriftKind::Outdated, format!("manifest version {version} not applied yet"))),
            _ => None,
        };
        match drift {
            None => out.unchanged += 1,
            Some((kind, detail)) => out.push(entry, kind, detail, existing, desired_hash),
        }
    }
    // Dependency order: a category or channel that shows to a recreated role, or sits in a
    // recreated category, is rewritten in the same pass (its apply resolves the new ids).
    for entry in desired.iter().filter(|e| e.kind != ItemKind::Role) {
        if out.ops.iter().any(|op| op.phase == entry.kind.phase() && op.key == entry.key) {
            continue;
        }
        let role = entry.item.visible_to.iter().find(|k| recreated.contains(&(ItemKind::Role, (*k).clone())));
        let parent = entry.item.parent_key.as_ref().filter(|k| recreated.contains(&(ItemKind::Category, (*k).clone())));
        let detail = match (role, parent) {
            (Some(role), _) => format!("shown to role `{role}`, which was deleted in Discord and is recreated"),
            (None, Some(parent)) => {
                format!("sits in category `{parent}`, which was deleted in Discord and is recreated")
            }
            (None, None) => continue,
        };
        let existing = ids.id(entry.kind, &entry.key).filter(|id| guild.exists(entry.kind, *id));
        out.unchanged = out.unchanged.saturating_sub(1);
        out.push(entry, DriftKind::DependencyRecreated, detail, existing, item_hash(&entry.item));
    }
    out.ops.sort_by_key(|op| op.phase);
    out.removals = removals(applied, &desired, guild, now_ms);
    out
}

impl Assessment {
    fn push(&mut self, entry: &DesiredEntry, kind: DriftKind, detail: String, existing: Option<u64>, hash: String) {
        self.drift.push(Drift {
            key: entry.key.clone(),
            kind,
            detail,
            item: Some(entry.kind),
            name: Some(entry.item.name.clone()),
        });
        self.ops.push(SynthesisOp {
            phase: entry.kind.phase(),
            key: entry.key.clone(),
            action: if existing.is_some() { OpAction::Update } else { OpAction::Create },
            discord_id: existing.map(|id| id.to_string()),
            desired: entry.item.clone(),
            desired_hash: hash,
        });
    }
}

fn differences(entry: &DesiredEntry, id: u64, guild: &GuildSnapshot, ids: &AppliedIds) -> Vec<String> {
    let item = &entry.item;
    let mut diff = Vec::new();
    match entry.kind {
        ItemKind::Role => {
            let Some(role) = guild.role(id) else { return diff };
            if role.name != item.name {
                diff.push(format!("renamed to '{}' (the manifest says '{}')", role.name, item.name));
            }
            if role.color != item.color {
                diff.push("colour changed".into());
            }
            if role.hoist != item.hoist || role.mentionable != item.mentionable {
                diff.push("display settings changed".into());
            }
            if role.permissions != item.permissions {
                diff.push("permissions changed".into());
            }
        }
        ItemKind::Category | ItemKind::Channel => {
            let Some(channel) = guild.channel(id) else { return diff };
            if channel.name != item.name {
                diff.push(format!("renamed to '{}' (the manifest says '{}')", channel.name, item.name));
            }
            if channel.topic.as_deref().unwrap_or_default() != item.topic.as_deref().unwrap_or_default() {
                diff.push("topic changed".into());
            }
            let parent = item.parent_key.as_ref().map(|k| ids.id(ItemKind::Category, k));
            if parent.is_some_and(|p| p.is_none() || channel.parent_id != p) {
                diff.push("moved to another category".into());
            }
            let wanted = ids.roles(&item.visible_to).map(|r| wanted_overwrites(guild.guild_id, guild.bot_user_id, &r));
            if !wanted.is_some_and(|w| same_overwrites(&channel.overwrites, &w)) {
                diff.push("who can see it changed".into());
            }
        }
    }
    diff
}

/// Applied items the manifest no longer has whose object still exists: channels first, then
/// categories, then roles, the order in which removing them leaves nothing dangling.
fn removals(applied: &[AppliedItem], desired: &[DesiredEntry], guild: &GuildSnapshot, now_ms: u64) -> Vec<ExtraItem> {
    let mut out: Vec<ExtraItem> = applied
        .iter()
        .filter(|a| !desired.iter().any(|d| d.kind == a.kind && d.key == a.key))
        .filter_map(|a| {
            let id = a.discord_id?;
            let (name, detail) = match a.kind {
                ItemKind::Role => (guild.role(id)?.name.clone(), None),
                ItemKind::Category | ItemKind::Channel => {
                    let channel = guild.channel(id)?;
                    (channel.name.clone(), last_activity(channel, now_ms))
                }
            };
            Some(ExtraItem { kind: a.kind, key: a.key.clone(), discord_id: id.to_string(), name, detail })
        })
        .collect();
    out.sort_by_key(|e| match e.kind {
        ItemKind::Channel => 0,
        ItemKind::Category => 1,
        ItemKind::Role => 2,
    });
    out
}

/// When a text channel was last used, in words; voice channels and categories say nothing.
fn last_activity(channel: &ActualChannel, now_ms: u64) -> Option<String> {
    if !matches!(channel.kind, 0 | 5) {
        return None;
    }
    Some(match channel.last_message_id {
        None => "no messages".to_string(),
        Some(id) => {
            let at = (id >> 22) + DISCORD_EPOCH_MS;
            let days = now_ms.saturating_sub(at) / 86_400_000;
            match days {
                0 => "last message today".to_string(),
                1 => "last message yesterday".to_string(),
                d => format!("last message {d} days ago"),
            }
        }
    })
}

/// How REVIEW describes an item: its type, where it sits and who sees it, or what grants it.
pub fn describe_item(manifest: &CommunityManifest, entry: &DesiredEntry) -> String {
    let seen_by = |keys: &[String]| {
        if keys.is_empty() {
            "everyone sees it".to_string()
        } else {
            let names: Vec<String> = keys
                .iter()
                .map(|k| manifest.roles.iter().find(|r| &r.key == k).map_or(k.clone(), |r| format!("@{}", r.name)))
                .collect();
            format!("only {} see it", names.join(", "))
        }
    };
    match entry.kind {
        ItemKind::Role => match manifest.roles.iter().find(|r| r.key == entry.key).map(|r| &r.grant) {
            Some(RoleGrant::Rule(rule)) => format!("granted by rule `{rule}`"),
            Some(RoleGrant::Tier(tier)) => format!("granted to tier `{tier}`"),
            Some(RoleGrant::Badge(badge)) => format!("granted with badge `{badge}`"),
            None => String::new(),
        },
        ItemKind::Category => format!("category; {}", seen_by(&entry.item.visible_to)),
        ItemKind::Channel => {
            let kind = match entry.item.channel_type {
                2 => "voice channel",
                5 => "announcement channel",
                _ => "text channel",
            };
            let category = entry
                .item
                .parent_key
                .as_ref()
                .and_then(|k| manifest.channels.categories.iter().find(|c| &c.key == k))
                .map_or_else(String::new, |c| format!(" in {}", c.name));
            format!("{kind}{category}; {}", seen_by(&entry.item.visible_to))
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_recreated_role_goes_back_below_the_manifest_role_before_it() {
        // Bottom to top: 7 (recreated B, at the bottom), 5 (another bot's), 3 (C), 2 (B was
        // here), 1 (A); manifest order A, B, C.
        let ranks: std::collections::BTreeMap<u64, i64> = [(99, 0), (7, 1), (5, 2), (3, 3), (1, 4)].into();
        let restored = restore_recreated(&ranks, &[1, 7, 3], &[7]);
        assert_eq!(restored, [(99, 0), (5, 1), (3, 2), (7, 3), (1, 4)].into());
        // The first manifest role goes right above the one after it.
        let restored = restore_recreated(&ranks, &[7, 3], &[7]);
        assert_eq!(restored, [(99, 0), (5, 1), (3, 2), (7, 3), (1, 4)].into());
        // Nothing recreated: nothing moves.
        assert_eq!(restore_recreated(&ranks, &[1, 7, 3], &[]), ranks);
    }

    use super::*;

    #[test]
    fn ranks_read_gaps_and_ties_as_the_order_they_give() {
        let ranks = role_ranks(&[(9, 0), (1, 100), (2, 90), (3, 90), (4, 1)], 9);
        assert_eq!(ranks.into_iter().collect::<Vec<_>>(), vec![(1, 4), (2, 2), (3, 3), (4, 1), (9, 0)]);
    }
    use serde_json::json;

    const GUILD: u64 = 1100000000000000001;
    const BOT: u64 = 1000000000000000001;

    fn manifest() -> CommunityManifest {
        serde_json::from_value(json!({
            "guild_id": GUILD.to_string(), "name": "Sietch", "mode": "exclusive",
            "roles": [
                {"key": "naib", "name": "Naib", "grant": {"tier": "gold"}},
                {"key": "fremen", "name": "Fremen", "grant": {"tier": "silver"}}
            ],
            "channels": {"strategy": "custom", "categories": [
                {"key": "sietch", "name": "Sietch", "visible_to": ["fremen"], "channels": [
                    {"key": "spice", "name": "Spice Chat"},
                    {"key": "lounge", "name": "Lounge", "kind": "voice", "visible_to": ["naib"]}
                ]}
            ]}
        }))
        .expect("manifest")
    }

    /// The guild as a finished synthesis left it, and the matching shadow state.
    fn synthesised() -> (GuildSnapshot, Vec<AppliedItem>) {
        let m = manifest();
        let ids: BTreeMap<&str, u64> =
            [("naib", 11), ("fremen", 12), ("sietch", 21), ("spice", 31), ("lounge", 32)].into();
        let mut guild = GuildSnapshot { guild_id: GUILD, bot_user_id: Some(BOT), ..Default::default() };
        let mut applied = Vec::new();
        for entry in desired_items(&m) {
            let id = ids[entry.key.as_str()];
            applied.push(AppliedItem {
                kind: entry.kind,
                key: entry.key.clone(),
                discord_id: Some(id),
                applied_hash: item_hash(&entry.item),
            });
            match entry.kind {
                ItemKind::Role => guild.roles.push(ActualRole {
                    id,
                    name: entry.item.name.clone(),
                    color: 0,
                    hoist: false,
                    mentionable: false,
                    permissions: 0,
                    managed: false,
                    position: 1,
                }),
                _ => {
                    let roles: Vec<u64> = entry.item.visible_to.iter().map(|k| ids[k.as_str()]).collect();
                    guild.channels.push(ActualChannel {
                        id,
                        kind: entry.item.channel_type,
                        name: entry.item.name.clone(),
                        topic: None,
                        parent_id: entry.item.parent_key.as_ref().map(|k| ids[k.as_str()]),
                        overwrites: wanted_overwrites(GUILD, Some(BOT), &roles),
                        last_message_id: None,
                    });
                }
            }
        }
        (guild, applied)
    }

    #[test]
    fn a_synthesised_guild_has_nothing_to_do() {
        let (guild, applied) = synthesised();
        let a = assess(&manifest(), 1, &applied, &guild, 0);
        assert_eq!((a.ops.len(), a.drift.len(), a.removals.len(), a.unchanged), (0, 0, 0, 5), "{a:?}");
    }

    #[test]
    fn text_channel_names_are_compared_as_discord_stores_them() {
        assert_eq!(text_channel_name("Spice Chat"), "spice-chat");
        assert_eq!(text_channel_name("  Joey's Cool -- Channel! "), "joeys-cool-channel");
        assert_eq!(text_channel_name("🔊 Lounge"), "🔊-lounge");
        assert_eq!(text_channel_name("water_discipline"), "water_discipline");
        assert_eq!(text_channel_name("!!!"), "");
        let spice = desired_items(&manifest()).into_iter().find(|e| e.key == "spice").expect("spice");
        assert_eq!(spice.item.name, "spice-chat");
        let lounge = desired_items(&manifest()).into_iter().find(|e| e.key == "lounge").expect("lounge");
        assert_eq!(lounge.item.name, "Lounge", "voice channels keep their names");
    }

    #[test]
    fn a_role_deleted_by_hand_is_recreated_and_everything_it_showed_is_rewritten_in_one_pass() {
        let (mut guild, applied) = synthesised();
        // Deleted in Discord, which also drops its overwrites (discord-api-docs #4303).
        guild.roles.retain(|r| r.id != 12);
        for c in &mut guild.channels {
            c.overwrites.retain(|o| o.id != 12);
        }
        let a = assess(&manifest(), 1, &applied, &guild, 0);
        let ops: Vec<(Phase, &str, OpAction)> = a.ops.iter().map(|o| (o.phase, o.key.as_str(), o.action)).collect();
        assert_eq!(
            ops,
            vec![
                (Phase::Roles, "fremen", OpAction::Create),
                (Phase::Categories, "sietch", OpAction::Update),
                (Phase::Channels, "spice", OpAction::Update),
            ]
        );
        let create = &a.ops[0];
        assert_eq!(create.discord_id, None, "a create never names the dead id");
        assert_eq!(a.unchanged, 2, "naib and lounge are untouched");
    }

    #[test]
    fn dependents_are_rewritten_even_when_discord_keeps_the_dead_overwrite() {
        // An implementation of Discord that leaves the overwrite behind (the race Discord
        // warns about): nothing looks changed on the channel, but it must follow the new id.
        let (mut guild, applied) = synthesised();
        guild.roles.retain(|r| r.id != 12);
        let a = assess(&manifest(), 1, &applied, &guild, 0);
        let spice = a.drift.iter().find(|d| d.key == "spice").expect("spice is rewritten");
        assert_eq!(spice.kind, DriftKind::DependencyRecreated);
        assert!(spice.detail.contains("fremen"), "{}", spice.detail);
        assert!(a.ops.iter().any(|o| o.key == "sietch" && o.action == OpAction::Update));
    }

    #[test]
    fn a_dropped_category_is_a_removal_not_an_op() {
        let (mut guild, applied) = synthesised();
        let mut m = manifest();
        m.channels.categories.clear();
        let spice = guild.channels.iter_mut().find(|c| c.id == 31).expect("spice");
        let day = 86_400_000;
        // A message eight days after Discord's epoch, read ten days after it.
        spice.last_message_id = Some((8 * day) << 22);
        let a = assess(&m, 2, &applied, &guild, DISCORD_EPOCH_MS + 10 * day);
        assert!(a.ops.is_empty(), "{:?}", a.ops);
        let removed: Vec<(ItemKind, &str, Option<&str>)> =
            a.removals.iter().map(|r| (r.kind, r.key.as_str(), r.detail.as_deref())).collect();
        assert_eq!(
            removed,
            vec![
                (ItemKind::Channel, "spice", Some("last message 2 days ago")),
                (ItemKind::Channel, "lounge", None),
                (ItemKind::Category, "sietch", None),
            ]
        );
    }

    #[test]
    fn a_rename_by_hand_is_drift_with_both_names() {
        let (mut guild, applied) = synthesised();
        guild.channels.iter_mut().find(|c| c.id == 31).expect("spice").name = "spice-old".into();
        let a = assess(&manifest(), 1, &applied, &guild, 0);
        assert_eq!(a.drift.len(), 1);
        assert_eq!(a.drift[0].kind, DriftKind::ChangedInDiscord);
        assert!(a.drift[0].detail.contains("'spice-old'") && a.drift[0].detail.contains("'spice-chat'"));
        assert_eq!(a.ops[0].action, OpAction::Update);
    }

    #[test]
    fn review_describes_type_place_and_audience() {
        let m = manifest();
        let entries = desired_items(&m);
        let describe = |key: &str| describe_item(&m, entries.iter().find(|e| e.key == key).expect("entry"));
        assert_eq!(describe("lounge"), "voice channel in Sietch; only @Naib see it");
        assert_eq!(describe("sietch"), "category; only @Fremen see it");
        assert_eq!(describe("naib"), "granted to tier `gold`");
    }
}
