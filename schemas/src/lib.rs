#![doc = include_str!("../README.md")]

mod address;
pub mod eligibility;
mod export;
mod ids;
mod lenient;
mod manifest;
mod objects_only;
pub mod plan;
pub mod score;
#[cfg(feature = "temporal")]
pub mod temporal;
mod validation;
pub mod wire;
pub mod workflows;

pub use address::{checksum_address, normalize_address, validate_checksum_address};
pub use export::{JsonSchemaFile, all_schemas, render as render_schema};
pub use ids::{CommunityId, GuildId, Snowflake, UserId};
pub use lenient::{JSON_ENCODING, Lenient, NULL_ENCODING, RawPayload};
pub use manifest::{
    Asset, AssetKind, Category, Channel, ChannelKind, ChannelPlan, ChannelStrategy, CommunityManifest, Condition,
    Limits, Mode, RoleGrant, RoleSpec, Rules, Theme, key_from,
};
pub use validation::{
    ACTOR_MAX, REASON_MAX, ValidationError, ValidationErrors, check_actor, check_decision, check_text, is_invisible,
};
