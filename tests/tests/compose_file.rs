//! `docker-compose.yml` is valid against the Compose Specification's JSON Schema and holds the
//! production-shaped stack. No Docker engine runs here, so this is the check it gets.

use arrakis_tests::repo_root;

fn compose() -> serde_json::Value {
    let text = std::fs::read_to_string(repo_root().join("docker-compose.yml")).expect("docker-compose.yml");
    serde_yaml_ng::from_str(&text).expect("docker-compose.yml is YAML")
}

#[test]
fn the_compose_file_follows_the_compose_specification() {
    let spec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/fixtures/compose-spec.json")).expect("schema"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::validator_for(&spec).expect("the compose schema compiles");
    let file = compose();
    let errors: Vec<String> = validator.iter_errors(&file).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");

    // The validator catches what Compose would reject.
    let mut broken = file.clone();
    broken["services"]["worker"]["restart_policy"] = serde_json::json!("always");
    assert!(!validator.is_valid(&broken), "an unknown service key must be rejected");
}

#[test]
fn the_stack_has_every_component_of_the_architecture() {
    let file = compose();
    let services = file["services"].as_object().expect("services");
    for name in ["temporal", "temporal-ui", "postgres", "redis", "scylla", "worker", "gateway"] {
        assert!(services.contains_key(name), "service {name} is missing");
    }
    for (service, dockerfile) in [("worker", "worker/Dockerfile"), ("gateway", "gateway/Dockerfile")] {
        assert_eq!(services[service]["build"]["dockerfile"], dockerfile);
        assert!(repo_root().join(dockerfile).is_file(), "{dockerfile} exists");
    }
    assert_eq!(services["temporal"]["environment"]["DB"], "postgres12", "Temporal persists to PostgreSQL");
}
