//! Discord snowflakes: 64-bit ids that travel as decimal strings in JSON, as Discord sends them;
//! and the community id, the tenant key every contract that writes to a tenant carries.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::{borrow::Cow, fmt, str::FromStr};
use uuid::Uuid;

/// A Discord id. Stored in Postgres as `BIGINT`, so it must also fit in an `i64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Snowflake(u64);

impl Snowflake {
    /// Wraps a raw id; fails for 0 and for values Postgres' `BIGINT` cannot hold.
    pub fn new(raw: u64) -> Result<Self, String> {
        if raw == 0 || i64::try_from(raw).is_err() {
            return Err(format!("must be a Discord id between 1 and {}", i64::MAX));
        }
        Ok(Self(raw))
    }

    /// The id as Discord's u64.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The id as Postgres' `BIGINT`; lossless because [`Snowflake::new`] checked the range.
    pub fn as_i64(self) -> i64 {
        self.0 as i64
    }
}

impl fmt::Display for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Snowflake {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("must be a Discord id (1 to 19 digits), got {s:?}"));
        }
        s.parse::<u64>().map_err(|_| format!("must be a Discord id, got {s:?}")).and_then(Self::new)
    }
}

impl Serialize for Snowflake {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Snowflake {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Cow::<'de, str>::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Snowflake {
    fn schema_name() -> Cow<'static, str> {
        "Snowflake".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]{1,19}$",
            "description": "A Discord id as a decimal string, as Discord sends it."
        })
    }
}

/// The guild (server) a community lives in; the key of every per-community workflow ID.
pub type GuildId = Snowflake;
/// A Discord user: an operator, a member, or a bot.
pub type UserId = Snowflake;

/// A community's id: the tenant key of every tenant table, and of every contract that writes
/// to one. A UUID on the wire, as a string; the default (no community read yet, as a plan
/// before it is made) is the nil UUID, written as the empty string the contracts always used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommunityId(pub Uuid);

impl CommunityId {
    /// Whether no community is named (the default).
    pub fn is_none(self) -> bool {
        self.0.is_nil()
    }
}

impl fmt::Display for CommunityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for CommunityId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Ok(Self::default());
        }
        s.parse().map(Self).map_err(|_| format!("community_id: must be a UUID, got {s:?}"))
    }
}

impl Serialize for CommunityId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.is_none() { serializer.serialize_str("") } else { serializer.collect_str(&self.0) }
    }
}

impl<'de> Deserialize<'de> for CommunityId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Cow::<'de, str>::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for CommunityId {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "CommunityId".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        String::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_community_id_round_trips_and_the_empty_string_is_none() {
        let id: CommunityId = serde_json::from_str("\"6f1c2c9e-4a57-4d0b-9d5e-3b7f0d1e2a10\"").expect("a UUID");
        assert_eq!(serde_json::to_string(&id).expect("json"), "\"6f1c2c9e-4a57-4d0b-9d5e-3b7f0d1e2a10\"");
        let none: CommunityId = serde_json::from_str("\"\"").expect("empty decodes");
        assert!(none.is_none());
        assert_eq!(serde_json::to_string(&none).expect("json"), "\"\"");
        let err = serde_json::from_str::<CommunityId>("\"guild-7\"").expect_err("not a UUID");
        assert!(err.to_string().contains("community_id: must be a UUID"), "{err}");
    }

    #[test]
    fn parses_discord_ids_and_rejects_the_rest() {
        assert_eq!("80351110224678912".parse::<Snowflake>().map(Snowflake::get), Ok(80351110224678912));
        for bad in ["", "0", "-1", "12a", "99999999999999999999", "9223372036854775808"] {
            assert!(bad.parse::<Snowflake>().is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn travels_as_a_string() {
        let id: Snowflake = serde_json::from_str("\"42\"").expect("valid id");
        assert_eq!(serde_json::to_string(&id).expect("serializes"), "\"42\"");
        assert!(serde_json::from_str::<Snowflake>("42").is_err());
    }
}
