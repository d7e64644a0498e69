//! The stand-in's world: guilds with their roles, channels and members, and the JSON shapes
//! Discord gives them (as the OpenAPI spec and twilight-model describe).

use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Discord's epoch (2015-01-01) in Unix milliseconds.
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// Permission bits the stand-in enforces.
pub mod permissions {
    /// Everything.
    pub const ADMINISTRATOR: u64 = 1 << 3;
    /// Create, edit and delete channels.
    pub const MANAGE_CHANNELS: u64 = 1 << 4;
    /// Manage Guild (admin commands in Arrakis).
    pub const MANAGE_GUILD: u64 = 1 << 5;
    /// Read the guild's audit log.
    pub const VIEW_AUDIT_LOG: u64 = 1 << 7;
    /// View a channel.
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    /// Send messages.
    pub const SEND_MESSAGES: u64 = 1 << 11;
    /// Create, edit, delete and grant roles below one's own.
    pub const MANAGE_ROLES: u64 = 1 << 28;
    /// What Arrakis's invite asks for: Manage Roles, Manage Channels and View Audit Log (the
    /// incumbent's health is read from the audit log).
    pub const ARRAKIS_INVITE: u64 = MANAGE_ROLES | MANAGE_CHANNELS | VIEW_AUDIT_LOG;
    /// Every bit Discord defines today.
    pub const ALL: u64 = (1 << 53) - 1;
}

/// Discord's per-guild limits.
pub const MAX_ROLES: usize = 250;
/// Channels, categories included.
pub const MAX_CHANNELS: usize = 500;

/// A role.
#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    /// Id (the guild id for @everyone).
    pub id: u64,
    /// Name.
    pub name: String,
    /// RGB colour.
    pub color: u32,
    /// Shown separately.
    pub hoist: bool,
    /// Mentionable.
    pub mentionable: bool,
    /// Position; higher is more powerful.
    pub position: i64,
    /// Permission bits.
    pub permissions: u64,
    /// Managed by an integration (a bot's own role).
    pub managed: bool,
}

/// A permission overwrite on a channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Overwrite {
    /// Role or member id.
    pub id: u64,
    /// 0 role, 1 member.
    pub kind: u8,
    /// Allowed bits.
    pub allow: u64,
    /// Denied bits.
    pub deny: u64,
}

/// A channel or category.
#[derive(Clone, Debug, PartialEq)]
pub struct Channel {
    /// Id.
    pub id: u64,
    /// 0 text, 2 voice, 4 category, 5 announcement.
    pub kind: u8,
    /// Name.
    pub name: String,
    /// Sorting position.
    pub position: i64,
    /// The category it sits in.
    pub parent_id: Option<u64>,
    /// Topic.
    pub topic: Option<String>,
    /// Overwrites.
    pub overwrites: Vec<Overwrite>,
    /// The newest message's id (text and announcement channels).
    pub last_message_id: Option<u64>,
}

/// The name Discord stores for a channel of `kind`. Text and announcement channels are
/// lowercased, runs of whitespace and dashes become one dash, ASCII punctuation other than `-`
/// and `_` is dropped, and no dash is left at either end; voice channels and categories keep
/// the name as given. Discord does not document this; bot libraries have learned it (JDA
/// #1124, nextcord #957, yesbot-ts #971 on collapsed dashes). `None`: nothing is left.
pub fn stored_channel_name(kind: u8, name: &str) -> Option<String> {
    if !matches!(kind, 0 | 5) {
        return (!name.trim().is_empty()).then(|| name.to_string());
    }
    let mut stored = String::with_capacity(name.len());
    for c in name.to_lowercase().chars() {
        let dash = c.is_whitespace() || c == '-';
        if dash {
            if !stored.is_empty() && !stored.ends_with('-') {
                stored.push('-');
            }
        } else if !(c.is_ascii_punctuation() && c != '_') {
            stored.push(c);
        }
    }
    while stored.ends_with('-') {
        stored.pop();
    }
    (!stored.is_empty()).then_some(stored)
}

/// A member of a guild.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// User id.
    pub user_id: u64,
    /// Username.
    pub username: String,
    /// A bot account.
    pub bot: bool,
    /// Role ids (without @everyone).
    pub roles: Vec<u64>,
    /// Nickname.
    pub nick: Option<String>,
    /// When they joined (Unix ms); `None` for members seeded as long-standing ([`JOINED_AT`]).
    pub joined_at_ms: Option<u64>,
}

/// `MEMBER_ROLE_UPDATE`: the audit-log action of a role added to or taken from a member.
pub const MEMBER_ROLE_UPDATE: u8 = 25;

/// One audit-log entry (the member-role changes the stand-in records).
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// Snowflake: its timestamp is when it happened.
    pub id: u64,
    /// The action ([`MEMBER_ROLE_UPDATE`]).
    pub action_type: u8,
    /// Who did it (a bot or a person).
    pub user_id: u64,
    /// Whom it was done to.
    pub target_id: u64,
    /// Roles added (`$add`) or removed (`$remove`): (id, name).
    pub added: bool,
    /// The role.
    pub role: (u64, String),
    /// `X-Audit-Log-Reason`, if given.
    pub reason: Option<String>,
}

/// Renders an entry as `AuditLogEntryResponse`.
pub fn audit_entry_json(entry: &AuditEntry) -> Value {
    let key = if entry.added { "$add" } else { "$remove" };
    let mut value = json!({
        "id": entry.id.to_string(),
        "action_type": entry.action_type,
        "user_id": entry.user_id.to_string(),
        "target_id": entry.target_id.to_string(),
        "changes": [{"key": key, "new_value": [{"id": entry.role.0.to_string(), "name": entry.role.1}]}],
    });
    if let (Some(reason), Some(obj)) = (&entry.reason, value.as_object_mut()) {
        obj.insert("reason".into(), json!(reason));
    }
    value
}

/// Entries a guild's audit log keeps (Discord keeps 45 days; the stand-in the newest 10,000).
pub const AUDIT_LOG_MAX: usize = 10_000;

/// An ISO 8601 timestamp as Discord writes them, from Unix milliseconds.
pub fn iso8601(ms: u64) -> String {
    let (days, rem) = ((ms / 86_400_000) as i64, ms % 86_400_000);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, sec, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1_000 % 60, rem % 1_000);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{sec:02}.{milli:03}000+00:00")
}

/// A guild.
#[derive(Clone, Debug)]
pub struct Guild {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Owner's user id.
    pub owner_id: u64,
    /// Roles by id (the @everyone role has the guild's id).
    pub roles: BTreeMap<u64, Role>,
    /// Channels by id.
    pub channels: BTreeMap<u64, Channel>,
    /// Members by user id (ordered, as member listing pages by id).
    pub members: BTreeMap<u64, Member>,
    /// The audit log's member-role changes, oldest first.
    pub audit_log: Vec<AuditEntry>,
}

impl Guild {
    /// Records a member-role change in the audit log (the oldest entries go past the cap).
    pub fn audit_role_change(&mut self, entry: AuditEntry) {
        if self.audit_log.len() >= AUDIT_LOG_MAX {
            self.audit_log.drain(..AUDIT_LOG_MAX / 10);
        }
        self.audit_log.push(entry);
    }

    /// The permissions a member has in the guild (no channel overwrites).
    pub fn member_permissions(&self, user_id: u64) -> u64 {
        if user_id == self.owner_id {
            return permissions::ALL;
        }
        let everyone = self.roles.get(&self.id).map_or(0, |r| r.permissions);
        let bits = self
            .members
            .get(&user_id)
            .map(|m| m.roles.iter().filter_map(|r| self.roles.get(r)).fold(everyone, |acc, r| acc | r.permissions))
            .unwrap_or(everyone);
        if bits & permissions::ADMINISTRATOR != 0 { permissions::ALL } else { bits }
    }

    /// The position of a member's highest role (0 for @everyone only).
    pub fn highest_position(&self, user_id: u64) -> i64 {
        if user_id == self.owner_id {
            return i64::MAX;
        }
        self.members
            .get(&user_id)
            .map(|m| m.roles.iter().filter_map(|r| self.roles.get(r)).map(|r| r.position).max().unwrap_or(0))
            .unwrap_or(0)
    }
}

/// Renders a role as `GuildRoleResponse`.
pub fn role_json(role: &Role) -> Value {
    json!({
        "id": role.id.to_string(),
        "name": role.name,
        "permissions": role.permissions.to_string(),
        "position": role.position,
        "color": role.color,
        "colors": {"primary_color": role.color, "secondary_color": null, "tertiary_color": null},
        "hoist": role.hoist,
        "managed": role.managed,
        "mentionable": role.mentionable,
        "icon": null,
        "unicode_emoji": null,
        "flags": 0
    })
}

/// Renders a channel as `GuildChannelResponse`.
pub fn channel_json(guild_id: u64, channel: &Channel) -> Value {
    let mut value = json!({
        "id": channel.id.to_string(),
        "type": channel.kind,
        "flags": 0,
        "guild_id": guild_id.to_string(),
        "name": channel.name,
        "parent_id": channel.parent_id.map(|p| p.to_string()),
        "position": channel.position,
        "permission_overwrites": channel.overwrites.iter().map(|o| json!({
            "id": o.id.to_string(), "type": o.kind, "allow": o.allow.to_string(), "deny": o.deny.to_string()
        })).collect::<Vec<_>>(),
    });
    if let Some(obj) = value.as_object_mut() {
        match channel.kind {
            0 | 5 => {
                obj.insert("topic".into(), json!(channel.topic));
                obj.insert("nsfw".into(), json!(false));
                obj.insert("last_message_id".into(), json!(channel.last_message_id.map(|m| m.to_string())));
                obj.insert("rate_limit_per_user".into(), json!(0));
            }
            2 => {
                obj.insert("bitrate".into(), json!(64000));
                obj.insert("user_limit".into(), json!(0));
                obj.insert("rtc_region".into(), Value::Null);
                obj.insert("nsfw".into(), json!(false));
            }
            _ => {}
        }
    }
    value
}

/// Renders a user as `UserResponse`.
pub fn user_json(id: u64, username: &str, bot: bool) -> Value {
    json!({
        "id": id.to_string(),
        "username": username,
        "avatar": null,
        "discriminator": "0",
        "public_flags": 0,
        "flags": 0,
        "bot": bot,
        "global_name": null,
        "primary_guild": null
    })
}

/// A fixed join time: the stand-in has no history to report.
pub const JOINED_AT: &str = "2025-01-01T00:00:00.000000+00:00";

/// Renders a member as `GuildMemberResponse`.
pub fn member_json(member: &Member) -> Value {
    json!({
        "avatar": null,
        "banner": null,
        "communication_disabled_until": null,
        "flags": 0,
        "joined_at": member.joined_at_ms.map_or_else(|| JOINED_AT.to_string(), iso8601),
        "nick": member.nick,
        "pending": false,
        "premium_since": null,
        "roles": member.roles.iter().map(u64::to_string).collect::<Vec<_>>(),
        "user": user_json(member.user_id, &member.username, member.bot),
        "mute": false,
        "deaf": false
    })
}

/// Renders a guild as `GuildWithCountsResponse`.
pub fn guild_json(guild: &Guild) -> Value {
    json!({
        "id": guild.id.to_string(),
        "name": guild.name,
        "icon": null,
        "description": null,
        "home_header": null,
        "splash": null,
        "discovery_splash": null,
        "features": [],
        "banner": null,
        "owner_id": guild.owner_id.to_string(),
        "application_id": null,
        "region": "",
        "afk_channel_id": null,
        "afk_timeout": 300,
        "system_channel_id": null,
        "system_channel_flags": 0,
        "widget_enabled": false,
        "widget_channel_id": null,
        "verification_level": 0,
        "roles": guild.roles.values().map(role_json).collect::<Vec<_>>(),
        "default_message_notifications": 0,
        "mfa_level": 0,
        "explicit_content_filter": 0,
        "max_presences": null,
        "max_members": 500000,
        "max_stage_video_channel_users": 50,
        "max_video_channel_users": 25,
        "vanity_url_code": null,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "rules_channel_id": null,
        "safety_alerts_channel_id": null,
        "public_updates_channel_id": null,
        "premium_progress_bar_enabled": false,
        "nsfw": false,
        "nsfw_level": 0,
        "emojis": [],
        "stickers": [],
        "incidents_data": null,
        "approximate_member_count": guild.members.len(),
        "approximate_presence_count": 0
    })
}

/// The GUILD_CREATE payload: the guild plus its channels, member count and the bot's member.
pub fn guild_create_json(guild: &Guild, bot_user_id: u64) -> Value {
    let mut value = guild_json(guild);
    if let Some(obj) = value.as_object_mut() {
        obj.remove("approximate_member_count");
        obj.remove("approximate_presence_count");
        obj.insert("channels".into(), guild.channels.values().map(|c| channel_json(guild.id, c)).collect());
        obj.insert("threads".into(), json!([]));
        obj.insert("members".into(), guild.members.get(&bot_user_id).map(member_json).into_iter().collect());
        obj.insert("member_count".into(), json!(guild.members.len()));
        obj.insert("large".into(), json!(guild.members.len() > 250));
        obj.insert("joined_at".into(), json!(JOINED_AT));
        obj.insert("unavailable".into(), json!(false));
        for empty in ["presences", "voice_states", "stage_instances", "guild_scheduled_events", "soundboard_sounds"] {
            obj.insert(empty.into(), json!([]));
        }
    }
    value
}

/// A snowflake from a path segment.
pub(crate) fn snowflake(v: &str) -> Option<u64> {
    v.parse().ok()
}

/// A snowflake from a JSON body, which Discord accepts as a string or a number.
pub(crate) fn id_of(value: &Value) -> Option<u64> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// Permission bits from a JSON body (a string, or a number).
pub(crate) fn bits(value: &Value) -> Option<u64> {
    id_of(value)
}

#[cfg(test)]
mod tests {
    use super::{iso8601, stored_channel_name};

    #[test]
    fn timestamps_are_written_as_discord_writes_them() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(iso8601(1_735_689_600_000), "2025-01-01T00:00:00.000000+00:00");
        assert_eq!(iso8601(1_709_210_096_789), "2024-02-29T12:34:56.789000+00:00");
    }

    #[test]
    fn text_channel_names_are_stored_as_discord_stores_them() {
        let text = |name: &str| stored_channel_name(0, name);
        assert_eq!(text("Spice Chat").as_deref(), Some("spice-chat"));
        assert_eq!(text("Joey's  Cool -- Channel!").as_deref(), Some("joeys-cool-channel"));
        assert_eq!(text("water_discipline").as_deref(), Some("water_discipline"));
        assert_eq!(text("🔊 Lounge").as_deref(), Some("🔊-lounge"));
        assert_eq!(stored_channel_name(5, "News Desk").as_deref(), Some("news-desk"));
        assert_eq!(text("!!!"), None);
        // Voice channels and categories keep their names.
        assert_eq!(stored_channel_name(2, "Council Voice").as_deref(), Some("Council Voice"));
        assert_eq!(stored_channel_name(4, "The Sietch").as_deref(), Some("The Sietch"));
    }
}
