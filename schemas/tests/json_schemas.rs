//! The checked-in JSON Schemas match the types, and they accept what the types accept.

use arrakis_schemas::{all_schemas, render_schema};
use std::path::Path;

fn json_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("json")
}

#[test]
fn checked_in_schemas_are_current() {
    let mut stale = Vec::new();
    for file in all_schemas() {
        let on_disk = std::fs::read_to_string(json_dir().join(file.file_name)).unwrap_or_default();
        if on_disk != render_schema(&file.schema) {
            stale.push(file.file_name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale JSON Schemas {stale:?}: run `cargo run -p arrakis-schemas --bin export-schemas` and commit schemas/json/"
    );
}

#[test]
fn the_example_manifest_validates_against_its_json_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(json_dir().join("community-manifest.json")).expect("schema file"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let example: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sietch-tabr.json"))
            .expect("example"),
    )
    .expect("example is JSON");
    let errors: Vec<String> = validator.iter_errors(&example).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let manifest: arrakis_schemas::CommunityManifest = serde_json::from_value(example.clone()).expect("typed parse");
    manifest.validate().expect("the example passes the Rust validator too");

    let mut bad = example;
    bad["roles"][0]["color"] = serde_json::json!("gold");
    assert!(!validator.is_valid(&bad), "a string colour must fail the JSON Schema too");
}
