//! Property tests over everything that reads input from outside: the manifest validator, the
//! wizard's step parsers and every workflow's input, signals and updates (`contracts::all`).
//! Whatever they are given, they never panic, and every refusal names a field. (The bounded
//! case count keeps CI fast; `PROPTEST_CASES=100000` runs a long campaign.)

use arrakis_schemas::{
    JSON_ENCODING, RawPayload,
    workflows::{
        contracts::{self, Check},
        wizard::form::{
            parse_assets, parse_channels, parse_roles, parse_rules, render_assets, render_roles, render_rules,
        },
    },
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Strings an attacker, a typo or a bad day would type.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("\u{200b}\u{200b}".to_string()),
        Just("\u{202e}gnp.exe".to_string()),
        Just("🐳🐳".to_string()),
        Just("x".repeat(101)),
        Just("é".repeat(100)),
        Just("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed".to_string()),
        Just("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".to_string()),
        Just("-1".to_string()),
        Just("1e400".to_string()),
        Just("99999999999999999999999999999999".to_string()),
        Just("1.000000000000000000001".to_string()),
        Just("Robert'); DROP TABLE communities;--".to_string()),
        "[ -~]{0,40}",
        "\\PC{0,20}",
    ]
}

/// Any JSON value, a few levels deep, leaning on the shapes the contracts use.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop_oneof![Just(-1i64), Just(0), Just(1), Just(u32::MAX as i64 + 1), Just(i64::MAX)].prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        tricky_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(tricky_string(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the node at a pseudo-random path of `value` (chosen by `picks`) with `with`.
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
        leaf => *leaf = with,
    }
}

fn payload(value: &Value) -> Vec<RawPayload> {
    vec![RawPayload { encoding: JSON_ENCODING.into(), data: value.to_string().into_bytes() }]
}

/// Runs a check: it must not panic, and a refusal must name each field it refuses.
fn holds(check: Check, value: &Value) -> Result<(), TestCaseError> {
    match check(&payload(value)) {
        Ok(()) => Ok(()),
        Err(errors) => {
            prop_assert!(!errors.0.is_empty(), "a refusal with no reason for {value}");
            for e in &errors.0 {
                prop_assert!(!e.field.trim().is_empty() && !e.rule.trim().is_empty(), "{e:?} for {value}");
            }
            Ok(())
        }
    }
}

fn example_manifest() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sietch-tabr.json"))
        .expect("the example manifest");
    serde_json::from_str(&text).expect("JSON")
}

/// A valid input per workflow type, to mutate: most mutations then land near valid input,
/// where validators have the most to get right.
fn valid_input(workflow_type: &str) -> Value {
    let guild = "1100000000000000001";
    match workflow_type {
        "ManifestPublish" => json!({"manifest": example_manifest(), "actor": "cli:alice"}),
        "Synthesis" => json!({"guild_id": guild, "version": 1, "removals": "remove"}),
        "KillSwitch" => json!({"guild_id": guild, "frozen": true, "reason": "incident", "actor": "cli:oncall"}),
        "Reconcile" => json!({"guild_id": guild, "mode": "apply", "remove": [{"kind": "role", "key": "naib"}]}),
        "Wizard" => json!({"guild_id": guild, "operator_id": "1100000000000000002", "idle_timeout_secs": 60}),
        "WalletLink" | "EligibilityCheck" => json!({"guild_id": guild, "user_id": "1100000000000000002"}),
        "ShadowSync" => json!({"guild_id": guild, "pages_per_run": 20}),
        "IncumbentDetect" => json!({"guild_id": guild, "override": "collabland", "digest": true}),
        "MemberSync" => {
            json!({"guild_id": guild, "settings": {"sweep_interval_secs": 600, "max_revoke_fraction": 0.1}})
        }
        "Migration" => json!({"guild_id": guild, "strategy": "gradual", "days": 7, "batches": 4, "actor": "cli:a",
            "force": {"reason": "operator knows"}}),
        _ => json!({"guild_id": guild}),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_workflow_input_is_refused_by_field_or_accepted_never_panics(
        contract in prop::sample::select(contracts::all()),
        picks in prop::collection::vec(any::<usize>(), 0..6),
        with in any_json(),
        whole in any_json(),
    ) {
        let mut mutated = valid_input(contract.workflow_type);
        mutate(&mut mutated, &picks, with);
        holds(contract.valid_input, &mutated)?;
        holds(contract.input, &mutated)?;
        holds(contract.valid_input, &whole)?;
    }

    #[test]
    fn every_signal_and_update_payload_is_refused_by_field_or_accepted(
        contract in prop::sample::select(contracts::all()),
        pick in any::<usize>(),
        value in any_json(),
    ) {
        let handlers: Vec<Check> =
            contract.signals.iter().chain(contract.updates.iter()).map(|(_, check)| *check).collect();
        if !handlers.is_empty() {
            holds(handlers[pick % handlers.len()], &value)?;
        }
    }

    #[test]
    fn the_manifest_validator_names_every_field_it_refuses(
        picks in prop::collection::vec(prop::collection::vec(any::<usize>(), 1..7), 1..4),
        withs in prop::collection::vec(any_json(), 4),
    ) {
        let mut manifest = example_manifest();
        for (path, with) in picks.iter().zip(withs) {
            mutate(&mut manifest, path, with);
        }
        let publish = contracts::of("ManifestPublish").expect("a contract");
        holds(publish.valid_input, &json!({"manifest": manifest, "actor": "cli:fuzz"}))?;
    }

    #[test]
    fn the_wizard_step_parsers_refuse_by_line_or_round_trip(
        lines in prop::collection::vec(
            prop::collection::vec(
                prop_oneof![
                    Just("spice"), Just("erc20"), Just("erc721"), Just("erc1155"), Just("1"), Just("-1"), Just("31337"),
                    Just("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"), Just("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
                    Just("decimals=18"), Just("decimals=99"), Just("token_id=7"), Just("holder"), Just("="), Just("any("),
                    Just("all("), Just("at_least(2,"), Just("balance(spice)"), Just("rank(spice)"), Just("owns(spice)"),
                    Just(">="), Just("<="), Just("10000.5"), Just(")"), Just(","), Just("|"), Just("rule:holder"),
                    Just("tier:naib"), Just("#f1c40f"), Just("#zzzzzz"), Just("voice:Lounge"), Just("general"),
                    Just("Spice Holder"), Just("\u{200b}"), Just("🐳"), Just(":"),
                ],
                0..10,
            ).prop_map(|words| words.join(" ")),
            0..5,
        ),
        junk in tricky_string(),
    ) {
        let text = format!("{}\n{junk}", lines.join("\n"));
        let named = |e: &arrakis_schemas::ValidationErrors| e.0.iter().all(|e| !e.field.is_empty() && !e.rule.is_empty());
        match parse_assets(&text) {
            Ok(assets) => prop_assert!(parse_assets(&render_assets(&assets)).is_ok(), "assets round trip"),
            Err(e) => prop_assert!(named(&e), "{e:?}"),
        }
        match parse_rules(&text) {
            Ok(rules) => prop_assert_eq!(parse_rules(&render_rules(&rules)).ok(), Some(rules)),
            Err(e) => prop_assert!(named(&e), "{e:?}"),
        }
        match parse_roles(&text) {
            Ok(roles) => prop_assert!(parse_roles(&render_roles(&roles)).is_ok(), "roles round trip"),
            Err(e) => prop_assert!(named(&e), "{e:?}"),
        }
        if let Err(e) = parse_channels(&text) {
            prop_assert!(named(&e), "{e:?}");
        }
    }
}
