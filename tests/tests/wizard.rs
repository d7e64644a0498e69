//! The onboarding wizard end to end: the stand-in delivers an operator's clicks to the gateway,
//! the gateway calls Temporal, the worker runs the wizard and synthesis against the stand-in.

use arrakis_gateway::interactions::BUSY;
use arrakis_tests::{
    SynthesisStack, TestGateway,
    operator::{Operator, demo},
    run_shell, wait_until, workflow_completed,
};
use serde_json::{Value, json};
use std::time::Duration;

const OPERATOR: u64 = 222_222_222_222_222_222;

async fn setup_channel(stack: &SynthesisStack, guild: &str) -> u64 {
    let seed = serde_json::from_value(json!({"name": "setup", "type": 0})).expect("seed");
    stack.control.seed_channels(guild.parse().expect("id"), &[seed]).await.expect("channel")[0]
}

fn names(items: &[Value]) -> Vec<String> {
    items.iter().filter_map(|i| i["name"].as_str().map(str::to_string)).collect()
}

fn wizard_status(stack: &SynthesisStack, guild: &str) -> Value {
    let (ok, text) = stack.shell("wizard-status", guild, &[]);
    assert!(ok, "{text}");
    serde_json::from_str(text[text.find('{').unwrap_or(0)..].trim()).unwrap_or(Value::Null)
}

/// INIT and CHAIN_SELECT, as every test starts.
async fn first_two_steps(op: &Operator) {
    let setup = op.command("setup", &[]).await.expect("setup");
    assert!(setup.ephemeral(), "{:?}", setup.callback());
    assert!(setup.content().contains("step 1/8"), "{}", setup.content());
    let init = op.fill("INIT", &[("name", demo::NAME), ("theme", "basic"), ("mode", "exclusive")]).await.expect("init");
    assert!(matches!(init.kind(), 4 | 6), "a modal submit is answered with a message (or deferred, then followed up)");
    assert!(init.content().contains("step 2/8"), "{}", init.content());
    let chains = op.select("wiz:chains", &["1"]).await.expect("chains");
    assert!(matches!(chains.kind(), 7 | 6), "the select edits the wizard message (or defers, then edits it)");
    assert!(chains.content().contains("step 3/8"), "{}", chains.content());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sets_up_a_guild_through_all_eight_steps() {
    let stack = SynthesisStack::start(50).await;
    let _worker = stack.in_process_worker();
    let _gateway = stack.gateway().await;
    let guild = stack.new_guild().await;
    let channel = setup_channel(&stack, &guild).await;
    let op = Operator::admin(stack.control.clone(), guild.parse().expect("id"), OPERATOR, Some(channel));

    first_two_steps(&op).await;
    let assets = op.fill("ASSET_CONFIG", &[("assets", demo::ASSETS)]).await.expect("assets");
    assert!(assets.content().contains("step 4/8"), "{}", assets.content());
    let rules = op.fill("ELIGIBILITY_RULES", &[("rules", demo::RULES)]).await.expect("rules");
    assert!(rules.content().contains("step 5/8"), "{}", rules.content());
    // The roles form opens with a role suggested per rule.
    let roles_form = op.press("wiz:open:ROLE_MAPPING").await.expect("roles form");
    assert!(roles_form.callback().to_string().contains("holder | Holder | rule:holder"), "{:?}", roles_form.callback());
    let roles = op.fill("ROLE_MAPPING", &[("roles", demo::ROLES)]).await.expect("roles");
    assert!(roles.content().contains("step 6/8"), "{}", roles.content());
    let review = op.fill("CHANNEL_STRUCTURE", &[("channels", demo::CHANNELS)]).await.expect("channels");
    let plan = review.content();
    assert!(plan.contains("step 7/8") && plan.contains("Will create 7"), "{plan}");
    for name in ["Spice Holder", "Spice Whale", "Holders", "general", "Lounge", "Whale Pod", "alpha"] {
        assert!(plan.contains(name), "the plan names {name}: {plan}");
    }

    // Back to edit CHANNEL_STRUCTURE: the form opens with the saved answer; dropping the
    // voice channel changes the plan.
    let back = op.press("wiz:back").await.expect("back");
    assert!(back.content().contains("step 6/8"), "{}", back.content());
    let form = op.press("wiz:open:CHANNEL_STRUCTURE").await.expect("form");
    assert!(form.callback().to_string().contains("voice:Lounge"), "prefilled: {:?}", form.callback());
    let edited = "holders | Holders | holder | general\nwhales | Whale Pod | whale | alpha";
    let review = op.fill("CHANNEL_STRUCTURE", &[("channels", edited)]).await.expect("edited channels");
    assert!(review.content().contains("Will create 6") && !review.content().contains("Lounge"), "{}", review.content());

    let deploy = op.press("wiz:deploy").await.expect("deploy");
    assert!(deploy.content().contains("step 8/8"), "{}", deploy.content());
    let wizard_id = format!("wizard-{guild}");
    wait_until(Duration::from_secs(90), "the wizard to finish deploying", || {
        let id = wizard_id.clone();
        async move { workflow_completed(&id).then_some(()) }
    })
    .await;

    let state = stack.control.guild(guild.parse().expect("id")).await.expect("guild");
    let (roles, channels) = (names(&state.roles), names(&state.channels));
    for role in ["Spice Holder", "Spice Whale"] {
        assert!(roles.contains(&role.to_string()), "{role} in {roles:?}");
    }
    for ch in ["Holders", "general", "Whale Pod", "alpha"] {
        assert!(channels.contains(&ch.to_string()), "{ch} in {channels:?}");
    }
    assert!(!channels.contains(&"Lounge".to_string()), "the edit took effect: {channels:?}");

    let status = wizard_status(&stack, &guild);
    assert_eq!(status["deploy"], "done", "{status}");
    assert_eq!(status["deployed_version"], 1, "{status}");
    assert!(status["summary"].as_str().unwrap_or_default().contains("Deployed"), "{status}");
    // `/arrakis resume` after the deploy tells the operator it is done.
    let resume = op.command("resume", &[]).await.expect("resume");
    assert!(resume.content().contains("Deployed"), "{}", resume.content());
    // The mode the operator chose is the community's, and member sync runs on it.
    let shown = wait_until(Duration::from_secs(60), "status to show the deployed mode", || async {
        let status = op.command("status", &[]).await.ok()?;
        status.content().contains("Mode: exclusive").then(|| status.content())
    })
    .await;
    assert!(shown.contains("Member roles:"), "{shown}");
    let sync = op.command("sync", &[("mode", "dry_run")]).await.expect("sync");
    assert!(
        sync.content().contains("Dry-run sweep started") || sync.content().contains("already under way"),
        "{}",
        sync.content()
    );
    let _ = arrakis_tests::run_shell(
        &format!("temporal workflow terminate --workflow-id member-sync-{guild} --reason 'test over'"),
        &[],
    );

    // The progress message in the operator's channel ends with the summary.
    let messages = stack.control.channel_messages(channel).await.expect("messages");
    assert!(messages.iter().any(|m| m["content"].as_str().unwrap_or_default().starts_with("Deployed")), "{messages:?}");

    // Every step reached is in the funnel; the runbook line shows it.
    let (ok, funnel) = stack.shell("wizard-funnel", &guild, &[("ARRAKIS_SERVICE_DATABASE_URL", &stack.db.service_url)]);
    assert!(ok, "{funnel}");
    for step in [
        "INIT",
        "CHAIN_SELECT",
        "ASSET_CONFIG",
        "ELIGIBILITY_RULES",
        "ROLE_MAPPING",
        "CHANNEL_STRUCTURE",
        "REVIEW",
        "DEPLOY",
        "DEPLOYED",
    ] {
        assert!(funnel.contains(step), "{step} in the funnel:\n{funnel}");
    }

    // DEPLOY created the reconciliation schedule.
    let (ok, text) = stack.shell("reconcile-unschedule", &guild, &[]);
    assert!(ok, "the schedule existed and is removed: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_at_three_steps_is_refused_with_the_validators_message_and_nothing_changes() {
    let stack = SynthesisStack::start(50).await;
    let _worker = stack.in_process_worker();
    let _gateway = stack.gateway().await;
    let guild = stack.new_guild().await;
    let op = Operator::admin(stack.control.clone(), guild.parse().expect("id"), OPERATOR, None);
    first_two_steps(&op).await;

    // ASSET_CONFIG: an address whose EIP-55 checksum is wrong.
    let before = wizard_status(&stack, &guild);
    let bad = op
        .fill("ASSET_CONFIG", &[("assets", "spice erc20 1 0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")])
        .await
        .expect("bad");
    assert!(bad.content().contains("not accepted") && bad.content().contains("assets[0].address"), "{}", bad.content());
    assert!(bad.content().contains("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"), "what was typed is shown back");
    assert!(bad.offers("wiz:open:ASSET_CONFIG"), "a way back to the form");
    assert_eq!(wizard_status(&stack, &guild), before, "the state is unchanged");
    op.fill("ASSET_CONFIG", &[("assets", demo::ASSETS)]).await.expect("assets");

    // ELIGIBILITY_RULES: a rule on an asset that does not exist.
    let before = wizard_status(&stack, &guild);
    let bad = op.fill("ELIGIBILITY_RULES", &[("rules", "holder = balance(water) >= 1")]).await.expect("bad");
    assert!(bad.content().contains("rules.holder.min_balance.asset: no asset with key 'water'"), "{}", bad.content());
    assert_eq!(wizard_status(&stack, &guild), before, "the state is unchanged");
    op.fill("ELIGIBILITY_RULES", &[("rules", demo::RULES)]).await.expect("rules");

    // ROLE_MAPPING: a role granted by a rule that does not exist.
    let before = wizard_status(&stack, &guild);
    let bad = op.fill("ROLE_MAPPING", &[("roles", "holder | Holder | rule:hodler")]).await.expect("bad");
    assert!(bad.content().contains("roles[0].grant.rule: no rule with key 'hodler'"), "{}", bad.content());
    assert_eq!(wizard_status(&stack, &guild), before, "the state is unchanged");
    // A form that does not parse never reaches the workflow, and says which line.
    let bad = op.fill("ROLE_MAPPING", &[("roles", "holder Holder")]).await.expect("bad");
    assert!(bad.content().contains("roles line 1"), "{}", bad.content());
    assert_eq!(wizard_status(&stack, &guild), before, "the state is unchanged");
    let ok = op.fill("ROLE_MAPPING", &[("roles", demo::ROLES)]).await.expect("roles");
    assert!(ok.content().contains("step 6/8"), "{}", ok.content());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wizard_survives_a_killed_worker_and_resumes_with_a_fresh_interaction() {
    let stack = SynthesisStack::start(50).await;
    let worker = stack.worker();
    let _gateway = stack.gateway().await;
    let guild = stack.new_guild().await;
    let op = Operator::admin(stack.control.clone(), guild.parse().expect("id"), OPERATOR, None);
    first_two_steps(&op).await;

    worker.kill();
    let _worker = stack.worker();
    let resumed = op.command("resume", &[]).await.expect("resume");
    assert!(resumed.content().contains("step 3/8"), "resumes at ASSET_CONFIG: {}", resumed.content());
    assert!(resumed.offers("wiz:open:ASSET_CONFIG"), "{:?}", resumed.custom_ids());
    let assets = op.fill("ASSET_CONFIG", &[("assets", demo::ASSETS)]).await.expect("assets");
    assert!(assets.content().contains("step 4/8"), "{}", assets.content());
    let status = wizard_status(&stack, &guild);
    assert_eq!(status["draft"]["name"], demo::NAME, "answers from before the kill are kept: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_temporal_down_a_command_still_gets_an_ephemeral_error_within_three_seconds() {
    let stack = SynthesisStack::start(50).await;
    let mut env = stack.gateway_env();
    // Nothing listens on port 1: Temporal is down for this gateway.
    env.push(("TEMPORAL_ADDRESS".into(), "127.0.0.1:1".into()));
    let gateway = TestGateway::start(env);
    gateway.wait_ready().await;
    let guild = stack.new_guild().await;
    let op = Operator::admin(stack.control.clone(), guild.parse().expect("id"), OPERATOR, None);
    for sub in ["setup", "status"] {
        let answer = op.command(sub, &[]).await.expect("answered");
        assert_eq!(answer.content(), BUSY);
        assert!(answer.ephemeral());
        let ack = answer.ack_ms().expect("acknowledged");
        assert!(ack < 3_000, "inside Discord's window: {ack} ms");
    }
    assert!(gateway.metrics().await.contains("arrakis_gateway_interactions_total{outcome=\"busy\"} 2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_without_manage_server_is_refused() {
    let stack = SynthesisStack::start(50).await;
    let _gateway = stack.gateway().await;
    let guild = stack.new_guild().await;
    let mut op = Operator::admin(stack.control.clone(), guild.parse().expect("id"), OPERATOR, None);
    op.permissions = 1 << 11; // Send Messages only.
    let answer = op.command("setup", &[]).await.expect("answered");
    assert!(answer.ephemeral());
    assert!(answer.content().contains("Manage Server"), "{}", answer.content());
    assert!(!workflow_completed(&format!("wizard-{guild}")), "no wizard was started");
    let out = run_shell(&format!("temporal workflow describe --workflow-id wizard-{guild}"), &[]);
    assert!(!out.status.success(), "no wizard exists for the guild");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wizard_started_from_the_cli_expires_when_idle() {
    let stack = SynthesisStack::start(50).await;
    let _worker = stack.in_process_worker();
    let guild = stack.new_guild().await;
    let (ok, text) = stack.shell("wizard-start", &guild, &[("OPERATOR_ID", &OPERATOR.to_string()), ("IDLE_SECS", "2")]);
    assert!(ok, "{text}");
    let (ok, text) = stack.shell("wizard-submit", &guild, &[]);
    assert!(ok, "{text}");
    assert!(text.contains("CHAIN_SELECT"), "the CLI answer moved the wizard on: {text}");
    let wizard_id = format!("wizard-{guild}");
    wait_until(Duration::from_secs(30), "the idle session to expire", || {
        let id = wizard_id.clone();
        async move { workflow_completed(&id).then_some(()) }
    })
    .await;
    assert_eq!(wizard_status(&stack, &guild)["expired"], true);
    let (ok, funnel) = stack.shell("wizard-funnel", &guild, &[("ARRAKIS_SERVICE_DATABASE_URL", &stack.db.service_url)]);
    assert!(ok && funnel.contains("EXPIRED") && funnel.contains("CHAIN_SELECT"), "{funnel}");
}
