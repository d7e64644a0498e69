//! Validation errors that name the field and the rule (`roles[2].name: at most 100 characters`),
//! and [`Lenient`], the wrapper that lets a workflow receive malformed JSON without failing its
//! task: it accepts any JSON and parses it into the typed contract inside the workflow, where a
//! bad field becomes a clean, non-retryable failure instead of a stuck run.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::{borrow::Cow, fmt, marker::PhantomData};

/// One broken rule: where (a JSON path such as `roles[2].name`) and what is allowed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ValidationError {
    /// The path of the failing field, e.g. `roles[2].name`.
    pub field: String,
    /// The rule it breaks, e.g. `at most 100 characters`.
    pub rule: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

/// Every rule a value breaks, in field order, so an operator can fix them all in one pass.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// Records a broken rule at `field`.
    pub fn push(&mut self, field: impl Into<String>, rule: impl Into<String>) {
        self.0.push(ValidationError { field: field.into(), rule: rule.into() });
    }

    /// `Ok(())` when nothing was recorded.
    pub fn into_result(self) -> Result<(), Self> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// True when `field` (exactly) has a recorded error.
    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Parses JSON into `T`, reporting a type or shape error at its path (`roles[1].color: …`).
pub fn parse_json<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, ValidationErrors> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "(input)".to_string() } else { path };
        let mut errors = ValidationErrors::default();
        errors.push(field, e.into_inner().to_string());
        errors
    })
}

/// Any JSON, to be parsed into `T` by the code that receives it. Its JSON Schema is `T`'s, so
/// the CLI contract stays typed while the workflow never fails to decode its input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Lenient<T> {
    raw: serde_json::Value,
    #[serde(skip)]
    _type: PhantomData<T>,
}

impl<T: Serialize + DeserializeOwned> Lenient<T> {
    /// Wraps a typed value (for callers that already hold a valid `T`).
    pub fn new(value: &T) -> Self {
        Self { raw: serde_json::to_value(value).unwrap_or_default(), _type: PhantomData }
    }

    /// Wraps raw JSON as received.
    pub fn from_json(raw: serde_json::Value) -> Self {
        Self { raw, _type: PhantomData }
    }

    /// Parses the JSON into `T`, naming the field that does not fit.
    pub fn parse(&self) -> Result<T, ValidationErrors> {
        parse_json(&self.raw)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Inner {
        items: Vec<Item>,
    }
    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Item {
        color: u32,
    }

    #[test]
    fn a_type_error_names_its_path() {
        let lenient: Lenient<Inner> =
            serde_json::from_value(serde_json::json!({"items": [{"color": 1}, {"color": "red"}]}))
                .expect("anything deserializes");
        let err = lenient.parse().expect_err("color must be a number");
        assert_eq!(err.0[0].field, "items[1].color");
        assert!(err.to_string().starts_with("items[1].color: invalid type"), "{err}");
    }
}
