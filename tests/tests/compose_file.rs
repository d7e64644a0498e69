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

#[test]
fn no_service_logs_in_to_postgres_as_a_superuser_or_as_another_service() {
    let file = compose();
    let services = &file["services"];
    let env =
        |service: &str, name: &str| services[service]["environment"][name].as_str().unwrap_or_default().to_string();
    let user = |url: String| url.split("://").nth(1).and_then(|rest| rest.split([':', '@']).next()).map(str::to_string);
    assert_eq!(user(env("worker", "DATABASE_URL")).as_deref(), Some("arrakis_app"));
    assert_eq!(user(env("worker", "ARRAKIS_SERVICE_DATABASE_URL")).as_deref(), Some("arrakis_service"));
    assert_eq!(env("worker", "ARRAKIS_MIGRATION_DATABASE_URL"), "", "workers never hold the migration login");
    assert_eq!(user(env("migrate", "ARRAKIS_MIGRATION_DATABASE_URL")).as_deref(), Some("arrakis_migrator"));
    assert_eq!(env("temporal", "POSTGRES_USER"), "temporal", "Temporal has a role of its own");
    assert_ne!(env("temporal", "POSTGRES_USER"), env("postgres", "POSTGRES_USER"), "Temporal is no superuser");
    let init = std::fs::read_to_string(repo_root().join("docker/postgres-init.sh")).expect("the init script");
    assert!(init.contains("bootstrap.sql") && init.contains("CREATE DATABASE temporal OWNER temporal"), "{init}");
}
