//! Discord snowflakes: 64-bit ids that travel as decimal strings in JSON, as Discord sends them.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::{borrow::Cow, fmt, str::FromStr};

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

#[cfg(test)]
mod tests {
    use super::*;

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
