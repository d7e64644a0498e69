//! Wire forms kept from before a field was typed. Some contracts wrote an absent value as the
//! empty string (`"mode": ""` before detection has run); their fields are now `Option`s of an
//! enum, and [`empty_as_none`] keeps the JSON they always had, so recorded histories and
//! queries read the same. Such fields keep their JSON Schema too (`schemars(with = "String")`).

/// `None` on the wire as `""`, `Some(v)` as `v`'s own string form.
pub mod empty_as_none {
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::DeserializeOwned, de::value::StrDeserializer};

    /// Writes `None` as `""`.
    pub fn serialize<T: Serialize, S: Serializer>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => v.serialize(serializer),
            None => serializer.serialize_str(""),
        }
    }

    /// Reads `""` as `None`, and any other string as `T`.
    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
        let raw = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        if raw.is_empty() {
            return Ok(None);
        }
        T::deserialize(StrDeserializer::<serde::de::value::Error>::new(&raw))
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use crate::Mode;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "super::empty_as_none")]
        mode: Option<Mode>,
    }

    #[test]
    fn the_empty_string_is_none_and_a_name_is_the_enum() {
        for (json, mode) in [(r#"{"mode":""}"#, None), (r#"{"mode":"parallel"}"#, Some(Mode::Parallel))] {
            let holder: Holder = serde_json::from_str(json).expect(json);
            assert_eq!(holder, Holder { mode });
            assert_eq!(serde_json::to_string(&holder).expect("json"), json);
        }
        let err = serde_json::from_str::<Holder>(r#"{"mode":"loud"}"#).expect_err("not a mode");
        assert!(err.to_string().contains("unknown variant `loud`"), "{err}");
    }
}
