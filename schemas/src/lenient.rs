//! [`Lenient`]: what a workflow receives from outside (its start input, a signal, an update)
//! exactly as Temporal delivered it — any number of payloads, in any encoding — parsed into
//! the typed contract by the code that receives it.
//!
//! Temporal's SDK decodes a typed input before the workflow sees it; a payload that does not
//! decode (no `--input`, two of them, `binary/plain`, JSON nested past serde's recursion limit,
//! `{}` where nothing was expected) fails the workflow task, which the server retries forever:
//! the run is wedged, and its queries fail with it. Receiving raw payloads never fails, so a
//! bad input becomes a clean, non-retryable failure that names the field, and a bad signal a
//! dropped one.

use crate::{objects_only::ObjectsOnly, validation::ValidationErrors};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Serialize, de::DeserializeOwned};
use std::{borrow::Cow, fmt, marker::PhantomData};

/// The encoding Temporal's JSON converter writes (and the CLI's `--input`).
pub const JSON_ENCODING: &str = "json/plain";
/// The encoding of a JSON `null` (and of Rust's `None`).
pub const NULL_ENCODING: &str = "binary/null";

/// One payload as delivered: its `encoding` metadata and its bytes, nothing decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct RawPayload {
    /// The `encoding` metadata (`json/plain`, `binary/null`, `binary/plain`, …); empty when absent.
    pub encoding: String,
    /// The bytes.
    pub data: Vec<u8>,
}

impl fmt::Debug for RawPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} bytes)", self.encoding, self.data.len())
    }
}

/// Any input, to be parsed into `T` by the code that receives it. Its JSON Schema is `T`'s, so
/// the CLI contract stays typed while the workflow never fails to decode what it was sent.
pub struct Lenient<T> {
    payloads: Vec<RawPayload>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Lenient<T> {
    fn clone(&self) -> Self {
        Self { payloads: self.payloads.clone(), _type: PhantomData }
    }
}

impl<T> PartialEq for Lenient<T> {
    fn eq(&self, other: &Self) -> bool {
        self.payloads == other.payloads
    }
}

impl<T> fmt::Debug for Lenient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.payloads).finish()
    }
}

/// serde_json refuses input nested deeper than this (its recursion limit); reported as such
/// instead of as the deepest path it reached.
const JSON_DEPTH_LIMIT: usize = 128;

impl<T> Lenient<T> {
    /// The payloads exactly as received (none, one, or several).
    pub fn from_payloads(payloads: Vec<RawPayload>) -> Self {
        Self { payloads, _type: PhantomData }
    }

    /// The payloads as received.
    pub fn payloads(&self) -> &[RawPayload] {
        &self.payloads
    }

    /// True when nothing was sent (a signal or a start without `--input`), or only `null`.
    pub fn is_empty(&self) -> bool {
        match self.payloads.as_slice() {
            [] => true,
            [p] => p.encoding == NULL_ENCODING || (p.encoding == JSON_ENCODING && p.data.trim_ascii() == b"null"),
            _ => false,
        }
    }

    /// One line for a log: how many payloads, their encodings and sizes.
    pub fn describe(&self) -> String {
        format!("{self:?}")
    }

    /// Wraps raw JSON as if a client had sent it.
    pub fn from_json(raw: serde_json::Value) -> Self {
        Self::from_payloads(vec![RawPayload { encoding: JSON_ENCODING.into(), data: raw.to_string().into_bytes() }])
    }
}

impl<T: Serialize> Lenient<T> {
    /// Wraps a typed value (for callers that already hold a valid `T`).
    pub fn new(value: &T) -> Self {
        // Serializing the contract types cannot fail (no maps with non-string keys); if one ever
        // did, the receiver would report a clean "not JSON" refusal rather than panic here.
        let data = serde_json::to_vec(value).unwrap_or_default();
        Self::from_payloads(vec![RawPayload { encoding: JSON_ENCODING.into(), data }])
    }
}

impl<T: DeserializeOwned> Lenient<T> {
    /// Parses the one JSON payload into `T`, naming the field that does not fit; `input` when
    /// there is no payload, more than one, or one that is not JSON. A struct is read from a
    /// JSON object only, never from an array by position.
    pub fn parse(&self) -> Result<T, ValidationErrors> {
        let refuse = |rule: String| {
            let mut errors = ValidationErrors::default();
            errors.push("input", rule);
            Err(errors)
        };
        let payload = match self.payloads.as_slice() {
            [] => return refuse("missing: pass one JSON value (`--input '{…}'`)".into()),
            [payload] => payload,
            several => {
                return refuse(format!("{} values were sent: pass exactly one JSON value", several.len()));
            }
        };
        let data: &[u8] = match payload.encoding.as_str() {
            JSON_ENCODING => &payload.data,
            NULL_ENCODING => b"null",
            "" => return refuse("a payload without an encoding: send JSON (json/plain)".into()),
            other => return refuse(format!("encoding {other} is not JSON: send JSON (json/plain)")),
        };
        let mut deserializer = serde_json::Deserializer::from_slice(data);
        let value = serde_path_to_error::deserialize(ObjectsOnly(&mut deserializer)).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let mut errors = ValidationErrors::default();
            if inner.to_string().starts_with("recursion limit exceeded") {
                errors.push("input", format!("nested more than {JSON_DEPTH_LIMIT} levels deep"));
            } else if path == "." || path.trim().is_empty() || inner.is_syntax() || inner.is_eof() {
                // Not JSON at all (or a key with no name): the whole input is at fault.
                errors.push("input", inner.to_string());
            } else {
                errors.push(path, inner.to_string());
            }
            errors
        })?;
        match deserializer.end() {
            Ok(()) => Ok(value),
            Err(e) => refuse(e.to_string()),
        }
    }
}

impl<T: JsonSchema> JsonSchema for Lenient<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

#[cfg(feature = "temporal")]
mod temporal {
    //! Temporal's payload traits: every list of payloads is accepted as it is.

    use super::{Lenient, RawPayload};
    use temporalio_common::{
        data_converters::{PayloadConversionError, SerializationContext, TemporalDeserializable, TemporalSerializable},
        protos::temporal::api::common::v1::Payload,
    };

    const ENCODING_KEY: &str = "encoding";

    impl From<Payload> for RawPayload {
        fn from(payload: Payload) -> Self {
            let encoding =
                payload.metadata.get(ENCODING_KEY).map(|e| String::from_utf8_lossy(e).into_owned()).unwrap_or_default();
            Self { encoding, data: payload.data }
        }
    }

    impl From<&RawPayload> for Payload {
        fn from(raw: &RawPayload) -> Self {
            let mut payload = Payload { data: raw.data.clone(), ..Payload::default() };
            if !raw.encoding.is_empty() {
                payload.metadata.insert(ENCODING_KEY.to_string(), raw.encoding.as_bytes().to_vec());
            }
            payload
        }
    }

    impl<T> TemporalDeserializable for Lenient<T> {
        fn from_payload(ctx: &SerializationContext<'_>, payload: Payload) -> Result<Self, PayloadConversionError> {
            <Self as TemporalDeserializable>::from_payloads(ctx, vec![payload])
        }

        fn from_payloads(_: &SerializationContext<'_>, payloads: Vec<Payload>) -> Result<Self, PayloadConversionError> {
            Ok(Lenient::from_payloads(payloads.into_iter().map(RawPayload::from).collect()))
        }
    }

    impl<T> TemporalSerializable for Lenient<T> {
        fn to_payload(&self, _: &SerializationContext<'_>) -> Result<Payload, PayloadConversionError> {
            match self.payloads.as_slice() {
                [one] => Ok(one.into()),
                _ => Err(PayloadConversionError::WrongEncoding),
            }
        }

        fn to_payloads(&self, _: &SerializationContext<'_>) -> Result<Vec<Payload>, PayloadConversionError> {
            Ok(self.payloads.iter().map(Payload::from).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Inner {
        items: Vec<Item>,
    }
    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Item {
        color: u32,
    }

    fn payload(encoding: &str, data: &str) -> RawPayload {
        RawPayload { encoding: encoding.into(), data: data.as_bytes().to_vec() }
    }

    fn refusal(lenient: &Lenient<Inner>) -> String {
        lenient.parse().expect_err("refused").to_string()
    }

    #[test]
    fn a_type_error_names_its_path() {
        let lenient = Lenient::<Inner>::from_json(serde_json::json!({"items": [{"color": 1}, {"color": "red"}]}));
        let err = lenient.parse().expect_err("color must be a number");
        assert_eq!(err.0[0].field, "items[1].color");
        assert!(err.to_string().starts_with("items[1].color: invalid type"), "{err}");
    }

    #[test]
    fn a_typed_value_round_trips() {
        let value = Inner { items: vec![Item { color: 7 }] };
        assert_eq!(Lenient::new(&value).parse().expect("parses"), value);
    }

    #[test]
    fn what_the_sdk_would_wedge_on_is_refused_naming_the_input() {
        let none = Lenient::<Inner>::from_payloads(vec![]);
        assert!(refusal(&none).starts_with("input: missing"), "{}", refusal(&none));
        assert!(none.is_empty());
        let two = Lenient::<Inner>::from_payloads(vec![payload(JSON_ENCODING, "{}"), payload(JSON_ENCODING, "{}")]);
        assert!(refusal(&two).starts_with("input: 2 values"), "{}", refusal(&two));
        let binary = Lenient::<Inner>::from_payloads(vec![payload("binary/plain", "abc")]);
        assert_eq!(refusal(&binary), "input: encoding binary/plain is not JSON: send JSON (json/plain)");
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let deep = Lenient::<serde_json::Value>::from_payloads(vec![payload(JSON_ENCODING, &deep)]);
        assert_eq!(deep.parse().expect_err("too deep").to_string(), "input: nested more than 128 levels deep");
        let garbage = Lenient::<Inner>::from_payloads(vec![payload(JSON_ENCODING, "{not json")]);
        assert!(refusal(&garbage).starts_with("input: key must be a string"), "{}", refusal(&garbage));
        let trailing = Lenient::<Inner>::from_payloads(vec![payload(JSON_ENCODING, r#"{"items": []} 1"#)]);
        assert!(refusal(&trailing).starts_with("input: trailing characters"), "{}", refusal(&trailing));
    }

    #[test]
    fn null_is_empty_and_parses_where_the_type_allows_it() {
        let null = Lenient::<Option<u32>>::from_payloads(vec![payload(NULL_ENCODING, "")]);
        assert!(null.is_empty());
        assert_eq!(null.parse().expect("null is None"), None);
        let json_null = Lenient::<()>::from_payloads(vec![payload(JSON_ENCODING, " null ")]);
        assert!(json_null.is_empty());
        assert!(!Lenient::<()>::from_json(serde_json::json!({})).is_empty());
    }
}
