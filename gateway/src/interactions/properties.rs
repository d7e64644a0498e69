//! Whatever Discord (or someone pretending to be it) sends, the gateway's parsing never
//! panics, and a form it refuses names the field.

use super::*;
use crate::wizard::{WizardAction, parse_form};
use proptest::prelude::*;
use serde_json::{Value, json};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256)
}

/// Interactions as Discord sends them: a slash command, a button, a select, a modal.
fn templates() -> Vec<Value> {
    let base = |kind: u8, data: Value| {
        json!({
            "id": "1200000000000000001", "application_id": "1100000000000000001", "type": kind, "data": data,
            "guild_id": "1100000000000000009", "channel_id": "1200000000000000002",
            "member": {"user": {"id": "1200000000000000003", "username": "op", "discriminator": "0", "avatar": null},
                "roles": [], "permissions": "32", "joined_at": "2026-01-01T00:00:00+00:00", "deaf": false, "mute": false,
                "flags": 0, "pending": false},
            "token": "dG9rZW4", "version": 1, "locale": "en-US", "entitlements": [], "context": 0,
            "authorizing_integration_owners": {"0": "1100000000000000009"}, "attachment_size_limit": 10485760
        })
    };
    vec![
        base(
            2,
            json!({"id": "1", "name": "arrakis", "type": 1, "options": [{"name": "migrate", "type": 1,
            "options": [{"name": "strategy", "type": 3, "value": "gradual"}]}]}),
        ),
        base(3, json!({"custom_id": "wiz:open:ASSET_CONFIG", "component_type": 2})),
        base(3, json!({"custom_id": "wiz:chains", "component_type": 3, "values": ["1", "31337"]})),
        base(
            5,
            json!({"custom_id": "wiz:submit:ROLE_MAPPING", "components": [
            {"type": 18, "id": 1, "component": {"type": 4, "id": 2, "custom_id": "roles", "value": "holder | Holder | rule:holder"}},
            {"type": 1, "id": 3, "components": [{"type": 4, "id": 4, "custom_id": "x", "value": "y"}]}]}),
        ),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "\\PC{0,30}".prop_map(Value::String),
        Just(json!("wiz:submit:INIT")),
        Just(json!("mig:rollback:1")),
        Just(json!([])),
        Just(json!({})),
    ]
}

fn mutate(value: &mut Value, picks: &[usize], with: Value) {
    let Some((pick, rest)) = picks.split_first() else {
        *value = with;
        return;
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(pick % map.len()).cloned().unwrap_or_default();
            if let Some(next) = map.get_mut(&key) {
                mutate(next, rest, with);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = pick % items.len();
            mutate(&mut items[i], rest, with);
        }
        other => *other = with,
    }
}

#[test]
fn the_templates_are_interactions_discord_would_send() {
    for template in templates() {
        let interaction: Interaction =
            serde_json::from_value(template.clone()).unwrap_or_else(|e| panic!("{e}: {template}"));
        assert!(interaction.data.is_some(), "{template}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_interaction_payload_parses_or_is_refused_without_a_panic(
        template in 0usize..4,
        mutations in prop::collection::vec((prop::collection::vec(any::<usize>(), 1..6), leaf()), 0..4),
    ) {
        let mut payload = templates()[template].clone();
        for (path, with) in mutations {
            mutate(&mut payload, &path, with);
        }
        if let Ok(interaction) = serde_json::from_value::<Interaction>(payload) {
            let _ = kind_label(&interaction);
            match &interaction.data {
                Some(InteractionData::ModalSubmit(data)) => {
                    let fields = modal_fields(data);
                    if let Some(WizardAction::SubmitForm(step)) = WizardAction::parse(&data.custom_id)
                        && let Err(errors) = parse_form(step, &fields)
                    {
                        prop_assert!(errors.0.iter().all(|e| !e.field.is_empty() && !e.rule.is_empty()));
                    }
                }
                Some(InteractionData::ApplicationCommand(command)) => {
                    let _ = subcommand(command);
                }
                Some(InteractionData::MessageComponent(component)) => {
                    let _ = WizardAction::parse(&component.custom_id);
                    let _ = crate::member_sync::parse_button(&component.custom_id);
                    let _ = crate::migration::MigrationAction::parse(&component.custom_id);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn custom_ids_parse_or_are_ignored_and_round_trip(id in prop_oneof![
        "\\PC{0,40}",
        "(wiz|mig|ms):[a-z_-]{0,12}(:[A-Za-z0-9_-]{0,20}){0,3}",
    ]) {
        if let Some(action) = WizardAction::parse(&id) {
            prop_assert_eq!(WizardAction::parse(&action.custom_id()), Some(action));
        }
        let _ = crate::member_sync::parse_button(&id);
        let _ = crate::migration::MigrationAction::parse(&id);
    }

    #[test]
    fn a_form_is_refused_by_field_or_becomes_its_step_answer(
        step in prop::sample::select(vec![WizardStep::Init, WizardStep::AssetConfig, WizardStep::EligibilityRules,
            WizardStep::RoleMapping, WizardStep::ChannelStructure, WizardStep::Review]),
        fields in prop::collection::btree_map(
            prop_oneof![Just("name".to_string()), Just("theme".to_string()), Just("mode".to_string()),
                Just("assets".to_string()), Just("rules".to_string()), Just("roles".to_string()),
                Just("channels".to_string()), "[a-z]{0,6}"],
            "\\PC{0,80}",
            0..6,
        ),
    ) {
        match parse_form(step, &fields) {
            Ok(answer) => prop_assert_eq!(answer.step(), step),
            Err(errors) => prop_assert!(errors.0.iter().all(|e| !e.field.is_empty() && !e.rule.is_empty()), "{errors}"),
        }
    }
}
