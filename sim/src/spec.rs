//! Discord's OpenAPI spec as the contract: request bodies are validated against it (a mismatch
//! gets Discord's 50035 "Invalid Form Body") and responses can be checked against it too.

use jsonschema::Validator;
use serde_json::{Map, Value, json};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

const SPEC: &str = include_str!("../spec/openapi.json");

/// Which part of an operation a schema describes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Part {
    Request,
    Response(u16),
}

/// Compiled validators by (method, route, part); `None` when the spec has no schema there.
type ValidatorCache = HashMap<(String, String, Part), Option<Arc<Validator>>>;

/// The parsed spec and a cache of compiled validators, one per (operation, part).
pub struct Spec {
    document: Value,
    validators: Mutex<ValidatorCache>,
}

/// One way a body breaks the schema: where (a JSON pointer) and why.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaViolation {
    /// JSON pointer into the body, e.g. `/name`.
    pub pointer: String,
    /// Discord's error code for it, e.g. `BASE_TYPE_MAX_LENGTH`.
    pub code: &'static str,
    /// A readable message.
    pub message: String,
}

impl Spec {
    /// Parses the vendored spec and applies the documented corrections.
    pub fn load() -> Self {
        let mut document: Value = serde_json::from_str(SPEC).unwrap_or(Value::Null);
        relax_to_docs(&mut document);
        Self { document, validators: Mutex::new(HashMap::new()) }
    }

    /// True when the spec describes `method` on `template` (e.g. `post`, `/guilds/{guild_id}/roles`).
    pub fn has_operation(&self, method: &str, template: &str) -> bool {
        self.document.pointer(&operation_pointer(method, template)).is_some()
    }

    /// Checks a JSON request body; `Ok` when the operation takes no JSON body schema.
    pub fn check_request(&self, method: &str, template: &str, body: &Value) -> Result<(), Vec<SchemaViolation>> {
        self.check(method, template, Part::Request, body)
    }

    /// Checks a JSON response body for a status code; `Ok` when the spec has no schema for it.
    pub fn check_response(
        &self,
        method: &str,
        template: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), Vec<SchemaViolation>> {
        self.check(method, template, Part::Response(status), body)
    }

    /// The status codes the spec lists for an operation's success responses.
    pub fn success_statuses(&self, method: &str, template: &str) -> Vec<u16> {
        let pointer = format!("{}/responses", operation_pointer(method, template));
        self.document
            .pointer(&pointer)
            .and_then(Value::as_object)
            .map(|r| r.keys().filter_map(|k| k.parse().ok()).filter(|s: &u16| *s < 300).collect())
            .unwrap_or_default()
    }

    fn check(&self, method: &str, template: &str, part: Part, body: &Value) -> Result<(), Vec<SchemaViolation>> {
        let Some(validator) = self.validator(method, template, part) else { return Ok(()) };
        let violations: Vec<SchemaViolation> = validator
            .iter_errors(body)
            .map(|e| SchemaViolation {
                pointer: e.instance_path().to_string(),
                code: discord_code(e.kind()),
                message: e.to_string(),
            })
            .collect();
        if violations.is_empty() { Ok(()) } else { Err(violations) }
    }

    fn validator(&self, method: &str, template: &str, part: Part) -> Option<Arc<Validator>> {
        let key = (method.to_string(), template.to_string(), part.clone());
        if let Some(cached) = self.validators.lock().ok()?.get(&key) {
            return cached.clone();
        }
        let op = operation_pointer(method, template);
        let schema_pointer = match part {
            Part::Request => format!("{op}/requestBody/content/application~1json/schema"),
            Part::Response(status) => format!("{op}/responses/{status}/content/application~1json/schema"),
        };
        let compiled = self.document.pointer(&schema_pointer).is_some().then(|| {
            // The whole spec is the root document, so every "#/components/..." reference
            // resolves; the root's own "$ref" selects the operation's schema.
            let mut root = self.document.clone();
            if let Some(obj) = root.as_object_mut() {
                // A URI fragment: the template's braces must be percent-encoded.
                let fragment = schema_pointer.replace('{', "%7B").replace('}', "%7D");
                obj.insert("$ref".into(), Value::String(format!("#{fragment}")));
                obj.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
            }
            jsonschema::options()
                .build(&root)
                .map_err(|e| tracing::error!("spec schema {schema_pointer} does not compile: {e}"))
                .ok()
                .map(Arc::new)
        });
        let compiled = compiled.flatten();
        if let Ok(mut cache) = self.validators.lock() {
            cache.insert(key, compiled.clone());
        }
        compiled
    }
}

fn operation_pointer(method: &str, template: &str) -> String {
    format!("/paths/{}/{}", template.replace('~', "~0").replace('/', "~1"), method.to_ascii_lowercase())
}

/// Discord's `_errors[].code` for a schema failure.
fn discord_code(kind: &jsonschema::error::ValidationErrorKind) -> &'static str {
    use jsonschema::error::ValidationErrorKind as K;
    match kind {
        K::MaxLength { .. } => "BASE_TYPE_MAX_LENGTH",
        K::MinLength { .. } => "BASE_TYPE_MIN_LENGTH",
        K::Required { .. } => "BASE_TYPE_REQUIRED",
        K::Maximum { .. } | K::ExclusiveMaximum { .. } => "NUMBER_TYPE_MAX",
        K::Minimum { .. } | K::ExclusiveMinimum { .. } => "NUMBER_TYPE_MIN",
        K::MaxItems { .. } => "BASE_TYPE_MAX_LENGTH",
        K::MinItems { .. } => "BASE_TYPE_MIN_LENGTH",
        K::Enum { .. } | K::Constant { .. } => "BASE_TYPE_CHOICES",
        K::Type { .. } => "BASE_TYPE_BAD_TYPE",
        _ => "BASE_TYPE_INVALID",
    }
}

/// Where the spec and the docs disagree, follow the docs (see `spec/README.md`).
fn relax_to_docs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get_mut("properties") {
                for name in ["permissions", "allow", "deny", "default_member_permissions"] {
                    if let Some(Value::Object(prop)) = props.get_mut(name) {
                        accept_digit_strings(prop);
                    }
                }
            }
            map.values_mut().for_each(relax_to_docs);
        }
        Value::Array(items) => items.iter_mut().for_each(relax_to_docs),
        _ => {}
    }
}

fn accept_digit_strings(prop: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = prop.get_mut("type") else {
        if prop.get("type") == Some(&json!("integer")) {
            prop.insert("type".into(), json!(["integer", "string"]));
            prop.insert("pattern".into(), json!("^[0-9]+$"));
        }
        return;
    };
    if types.contains(&json!("integer")) && !types.contains(&json!("string")) {
        types.push(json!("string"));
        prop.insert("pattern".into(), json!("^[0-9]+$"));
    }
}

/// Discord's 50035 body from schema violations: `errors` mirrors the body's shape, each leaf
/// holding `_errors: [{code, message}]`.
pub fn invalid_form_body(violations: &[SchemaViolation]) -> Value {
    let mut errors = Value::Object(Map::new());
    for v in violations {
        let mut node = &mut errors;
        for segment in v.pointer.split('/').skip(1) {
            let segment = segment.replace("~1", "/").replace("~0", "~");
            node = node
                .as_object_mut()
                .map(|m| m.entry(segment).or_insert_with(|| Value::Object(Map::new())))
                .expect("errors nodes are objects");
        }
        if let Some(obj) = node.as_object_mut() {
            let list = obj.entry("_errors").or_insert_with(|| json!([]));
            if let Some(items) = list.as_array_mut() {
                items.push(json!({"code": v.code, "message": v.message}));
            }
        }
    }
    json!({"code": 50035, "errors": errors, "message": "Invalid Form Body"})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_role_name_is_an_invalid_form_body_at_its_path() {
        let spec = Spec::load();
        let body = json!({"name": "x".repeat(101), "permissions": "0"});
        let violations = spec.check_request("post", "/guilds/{guild_id}/roles", &body).expect_err("too long");
        let discord = invalid_form_body(&violations);
        assert_eq!(discord["code"], 50035);
        assert_eq!(discord["errors"]["name"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH");
        assert!(
            spec.check_request("post", "/guilds/{guild_id}/roles", &json!({"name": "ok", "permissions": "8"})).is_ok()
        );
        assert!(spec.check_request("post", "/guilds/{guild_id}/roles", &json!({"color": "red"})).is_err());
    }

    #[test]
    fn responses_are_checked_too() {
        let spec = Spec::load();
        let role = crate::world::role_json(&crate::world::Role {
            id: 5,
            name: "naib".into(),
            color: 1,
            hoist: false,
            mentionable: false,
            position: 1,
            permissions: 0,
            managed: false,
        });
        assert_eq!(spec.check_response("post", "/guilds/{guild_id}/roles", 200, &role), Ok(()));
        let mut broken = role;
        broken.as_object_mut().map(|o| o.remove("id"));
        assert!(spec.check_response("post", "/guilds/{guild_id}/roles", 200, &broken).is_err());
    }
}
