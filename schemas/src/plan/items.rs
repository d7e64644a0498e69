//! The items of a plan, shared by synthesis, reconciliation and the wizard's REVIEW: what
//! kind of Discord object a manifest item makes, what it should look like, the op that makes it
//! so, and how it drifted. They live here, below the workflows' contracts, so the plan's rules
//! and the contracts that carry them depend in one direction only.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The kind of Discord object a manifest item makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A role.
    Role,
    /// A category.
    Category,
    /// A text, voice or announcement channel.
    Channel,
}

impl ItemKind {
    /// The stable name (`role`, `category`, `channel`), as stored in `shadow_states.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Role => "role",
            Self::Category => "category",
            Self::Channel => "channel",
        }
    }

    /// Parses the stored name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Role, Self::Category, Self::Channel].into_iter().find(|k| k.as_str() == s)
    }

    /// The synthesis phase that applies this kind.
    pub fn phase(self) -> Phase {
        match self {
            Self::Role => Phase::Roles,
            Self::Category => Phase::Categories,
            Self::Channel => Phase::Channels,
        }
    }

    /// The kind a phase applies.
    pub fn of_phase(phase: Phase) -> Self {
        match phase {
            Phase::Roles => Self::Role,
            Phase::Categories => Self::Category,
            Phase::Channels => Self::Channel,
        }
    }
}

/// The phases of a synthesis, applied in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Roles first: channels refer to them.
    Roles,
    /// Categories next: channels sit in them.
    Categories,
    /// Channels, with their permission overwrites.
    Channels,
}

/// What an op does to its Discord object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OpAction {
    /// Nothing Arrakis made exists yet: create it.
    Create,
    /// It exists but differs from the manifest: change it.
    Update,
}

/// The desired state of one Discord object, as the manifest says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DesiredItem {
    /// Name.
    pub name: String,
    /// Role colour.
    #[serde(default)]
    pub color: u32,
    /// Role shown separately.
    #[serde(default)]
    pub hoist: bool,
    /// Role mentionable.
    #[serde(default)]
    pub mentionable: bool,
    /// Role permission bits.
    #[serde(default)]
    pub permissions: u64,
    /// Channel type (0 text, 2 voice, 4 category, 5 announcement).
    #[serde(default)]
    pub channel_type: u8,
    /// Channel topic.
    #[serde(default)]
    pub topic: Option<String>,
    /// The category's manifest key, for a channel.
    #[serde(default)]
    pub parent_key: Option<String>,
    /// Role keys that may see it; empty means everyone.
    #[serde(default)]
    pub visible_to: Vec<String>,
}

/// One step of a plan: make one Discord object match one manifest item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SynthesisOp {
    /// Which phase it belongs to.
    pub phase: Phase,
    /// The manifest key.
    pub key: String,
    /// Create or update.
    pub action: OpAction,
    /// The Discord object to update (or that an earlier run made), if known.
    pub discord_id: Option<String>,
    /// What it should look like.
    pub desired: DesiredItem,
    /// Hash of `desired`, recorded in the shadow state once applied.
    pub desired_hash: String,
}

impl SynthesisOp {
    /// A short description for the status query and the audit log, e.g. `create role naib`.
    pub fn describe(&self) -> String {
        let action = match self.action {
            OpAction::Create => "create",
            OpAction::Update => "update",
        };
        let what = match self.phase {
            Phase::Roles => "role",
            Phase::Categories => "category",
            Phase::Channels => "channel",
        };
        format!("{action} {what} {}", self.key)
    }
}

/// One manifest item, by kind and key: how the operator names what to remove or detach.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRef {
    /// `role`, `category` or `channel`.
    pub kind: ItemKind,
    /// The manifest key it was made for.
    pub key: String,
}

/// One difference between what should be and what is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// In the manifest, never applied.
    Missing,
    /// Applied, then changed by hand in Discord.
    ChangedInDiscord,
    /// Applied, then deleted by hand in Discord.
    DeletedInDiscord,
    /// Made by Arrakis, no longer in the manifest.
    ExtraButOurs,
    /// The manifest changed since this item was applied (a version not yet synthesised).
    Outdated,
    /// Unchanged itself, but it names a role or category that is being recreated, so it is
    /// rewritten in the same pass to point at the new one.
    DependencyRecreated,
}

impl DriftKind {
    /// What happened, in an operator's words.
    pub fn words(self) -> &'static str {
        match self {
            Self::Missing => "not created yet",
            Self::ChangedInDiscord => "changed by hand in Discord",
            Self::DeletedInDiscord => "deleted by hand in Discord",
            Self::ExtraButOurs => "no longer in the manifest",
            Self::Outdated => "the manifest changed since it was applied",
            Self::DependencyRecreated => "follows an item that is recreated",
        }
    }
}

/// A drifted manifest item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Drift {
    /// The manifest key.
    pub key: String,
    /// What happened to it.
    pub kind: DriftKind,
    /// A human-readable account, e.g. `renamed to 'council-old' (the manifest says 'council')`.
    pub detail: String,
    /// What kind of object it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<ItemKind>,
    /// Its name, as the manifest wants it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An object Arrakis made for a manifest item that is gone from the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtraItem {
    /// `role`, `category` or `channel`.
    pub kind: ItemKind,
    /// The manifest key it was made for.
    pub key: String,
    /// The Discord object.
    pub discord_id: String,
    /// Its name in Discord.
    #[serde(default)]
    pub name: String,
    /// For a text channel, when it was last used (`last message 3 days ago`, `no messages`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl ExtraItem {
    /// The item's reference, as removal decisions name it.
    pub fn reference(&self) -> ItemRef {
        ItemRef { kind: self.kind, key: self.key.clone() }
    }
}
