//! Validation errors that name the field and the rule (`roles[2].name: at most 100 characters`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

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
#[cfg(test)]
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> Result<T, ValidationErrors> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "(input)".to_string() } else { path };
        let mut errors = ValidationErrors::default();
        errors.push(field, e.into_inner().to_string());
        errors
    })
}

/// The longest `actor` (who asked: `cli:alice`, `discord:<user id>`) any input accepts.
pub const ACTOR_MAX: usize = 100;
/// The longest `reason` any input accepts.
pub const REASON_MAX: usize = 500;

/// True for a character that shows nothing: whitespace, controls, and Unicode's default-
/// ignorable code points (zero-width spaces and joiners, bidi marks, variation selectors,
/// fillers, tags). A name made only of these would look empty in Discord and in audit logs.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{2800}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
            | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}')
}

/// Checks a free-text field a person typed (a name, an actor, a reason): at most `max`
/// characters and, when `required`, at least one visible one. The one validator every input
/// uses for such fields, so a gap closed here is closed everywhere.
pub fn check_text(errors: &mut ValidationErrors, field: &str, value: &str, required: bool, max: usize) {
    let chars = value.chars().count();
    if chars > max {
        errors.push(field, format!("at most {max} characters (got {chars})"));
    } else if required && value.chars().all(is_invisible) {
        let rule = if value.is_empty() { "must not be empty" } else { "must contain a visible character" };
        errors.push(field, rule);
    }
}

/// Checks an `actor`: 1 to [`ACTOR_MAX`] characters, something visible.
pub fn check_actor(errors: &mut ValidationErrors, field: &str, actor: &str) {
    let before = errors.0.len();
    check_text(errors, field, actor, true, ACTOR_MAX);
    if errors.0.len() > before {
        errors.0.truncate(before);
        errors.push(field, format!("1 to {ACTOR_MAX} characters with something visible, e.g. `cli:alice`"));
    }
}

/// Checks an operator's decision (a pause, a confirmation, a migration's start): the `actor`
/// as [`check_actor`] does, and a `reason` of at most [`REASON_MAX`] characters.
pub fn check_decision(actor: &str, reason: &str) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    check_actor(&mut errors, "actor", actor);
    check_text(&mut errors, "reason", reason, false, REASON_MAX);
    errors.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_need_a_visible_bounded_actor() {
        for bad in ["", "   ", "\u{200b}\u{200b}"] {
            assert!(check_decision(bad, "").expect_err("invisible").has("actor"), "{bad:?}");
        }
        assert!(check_decision(&"a".repeat(101), "").is_err());
        assert!(check_decision("cli:alice", &"r".repeat(501)).expect_err("long").has("reason"));
        assert_eq!(check_decision("discord:42", "looks wrong"), Ok(()));
    }

    fn refused(value: &str, required: bool, max: usize) -> Option<String> {
        let mut errors = ValidationErrors::default();
        check_text(&mut errors, "name", value, required, max);
        errors.0.first().map(|e| e.rule.clone())
    }

    #[test]
    fn invisible_text_is_refused_where_something_is_required() {
        for blank in ["", " ", "\u{200b}\u{200b}", "\u{200d}\u{feff}", "\t\u{2060}", "\u{3164}", "\u{e0041}"] {
            assert!(refused(blank, true, 100).is_some(), "{blank:?} should be refused");
            assert!(refused(blank, false, 100).is_none(), "{blank:?} is fine where nothing is required");
        }
        for visible in ["a", "🐳", "Spice \u{200b}Holder", "é"] {
            assert_eq!(refused(visible, true, 100), None, "{visible:?}");
        }
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(refused(&"é".repeat(100), true, 100), None);
        assert_eq!(refused(&"é".repeat(101), true, 100).as_deref(), Some("at most 100 characters (got 101)"));
    }

    #[test]
    fn an_actor_names_its_rule_once() {
        let mut errors = ValidationErrors::default();
        check_actor(&mut errors, "actor", &"x".repeat(1_000_000));
        check_actor(&mut errors, "by", "\u{200b}");
        check_actor(&mut errors, "ok", "cli:alice");
        assert_eq!(errors.0.len(), 2, "{errors}");
        assert!(errors.has("actor") && errors.has("by"));
    }
}
