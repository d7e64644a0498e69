//! The onboarding wizard end to end: the stand-in delivers an operator's clicks to the gateway,
//! the gateway calls Temporal, the worker runs the wizard and synthesis against the stand-in.

use arrakis_gateway::interactions::BUSY;
use arrakis_tests::{
    SynthesisStack, TestGateway,
    operator::{Operator, demo, planned},
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
async fn beside_a_detected_incumbent_the_defaults_deploy_shadow_and_exclusive_asks_to_confirm() {
    let stack = SynthesisStack::start(50).await;
    let _worker = stack.in_process_worker();
    let _gateway = stack.gateway().await;
    let guild = stack.new_guild().await;
    let channel = setup_channel(&stack, &guild).await;
    // The gateway judged the guild when it joined (nothing found); the operator's word follows.
    let detect = format!("incumbent-detect-{guild}");
    wait_until(Duration::from_secs(60), "the detection on join", || {
        let id = detect.clone();
        async move { workflow_completed(&id).then_some(()) }
    })
    .await;
    let (ok, text) = stack.shell("incumbent-override", &guild, &[("INCUMBENT", "collabland")]);
    assert!(ok && text.contains("\"collabland\""), "{text}");
    let op = Operator::admin(stack.control.clone(), guild.parse().expect("id"), OPERATOR, Some(channel));

    // The first step names the bot and starts in shadow mode; exclusive is a confirmation.
    let setup = op.command("setup", &[]).await.expect("setup");
    assert!(setup.content().contains("Collab.Land runs in this server"), "{}", setup.content());
    assert!(setup.content().contains("mode shadow"), "{}", setup.content());
    let form = op.press("wiz:open:INIT").await.expect("form").callback().to_string();
    assert!(
        form.contains("exclusive_beside:collabland") && form.contains("Shadow: watch beside Collab.Land"),
        "{form}"
    );
    let before = wizard_status(&stack, &guild);
    let init = [("name", demo::NAME), ("theme", "basic")];
    let refused = op.fill("INIT", &[init[0], init[1], ("mode", "exclusive")]).await.expect("refused");
    assert!(refused.content().contains("Collab.Land runs in this server"), "{}", refused.content());
    assert_eq!(wizard_status(&stack, &guild), before, "the state is unchanged");

    // The defaults: shadow. REVIEW lists nothing to create, and what a parallel step would.
    let chains = op.fill("INIT", &[init[0], init[1], ("mode", "shadow")]).await.expect("init");
    assert!(chains.content().contains("step 2/8"), "{}", chains.content());
    op.select("wiz:chains", &["1"]).await.expect("chains");
    op.fill("ASSET_CONFIG", &[("assets", demo::ASSETS)]).await.expect("assets");
    op.fill("ELIGIBILITY_RULES", &[("rules", demo::RULES)]).await.expect("rules");
    op.fill("ROLE_MAPPING", &[("roles", demo::ROLES)]).await.expect("roles");
    let review = op.fill("CHANNEL_STRUCTURE", &[("channels", demo::CHANNELS)]).await.expect("channels");
    let plan = review.content();
    assert!(plan.contains("step 7/8") && !plan.contains("Will create"), "{plan}");
    assert!(plan.contains("Nothing changes in Discord") && plan.contains("@arrakis-spice-holder"), "{plan}");
    let roles_before = names(&stack.control.guild(guild.parse().expect("id")).await.expect("guild").roles);
    op.press("wiz:deploy").await.expect("deploy");
    let wizard_id = format!("wizard-{guild}");
    wait_until(Duration::from_secs(90), "the wizard to finish deploying", || {
        let id = wizard_id.clone();
        async move { workflow_completed(&id).then_some(()) }
    })
    .await;
    let status = wizard_status(&stack, &guild);
    assert_eq!(
        (status["deploy"].as_str(), status["draft"]["mode"].as_str()),
        (Some("done"), Some("shadow")),
        "{status}"
    );
    let roles_after = names(&stack.control.guild(guild.parse().expect("id")).await.expect("guild").roles);
    assert_eq!(roles_after, roles_before, "a shadow deploy creates nothing");
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
    // "Try again" opens the form with what was typed, as Back opens it with what was saved.
    let again = bad.custom_ids().into_iter().next().expect("a Try again button");
    let form = op.press_on(&bad, &again).await.expect("try again");
    assert_eq!(form.kind(), 9, "{:?}", form.callback());
    assert!(form.callback().to_string().contains("rule:hodler"), "prefilled: {:?}", form.callback());
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
    // The gateway counts an answer once Discord has accepted it, which is after the stand-in
    // shows it to the operator: wait for the count rather than read it at once.
    wait_until(Duration::from_secs(10), "both busy answers to be counted", || async {
        gateway.metrics().await.contains("arrakis_gateway_interactions_total{outcome=\"busy\"} 2").then_some(())
    })
    .await;
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

/// The options of the first select a message offers: (value, label).
fn select_options(message: &Value) -> Vec<(String, String)> {
    let rows = message["components"].as_array().cloned().unwrap_or_default();
    let select =
        rows.iter().flat_map(|r| r["components"].as_array().cloned().unwrap_or_default()).find(|c| c["type"] == 3);
    select
        .and_then(|s| s["options"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|o| {
            (o["value"].as_str().unwrap_or_default().to_string(), o["label"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

/// A wizard stack whose worker reads anvil, with the project's contracts deployed and a guild.
struct OnAnvil {
    stack: SynthesisStack,
    contracts: arrakis_tests::chain::ChainFixture,
    guild: String,
    _worker: arrakis_tests::TestWorker,
    _gateway: TestGateway,
}

async fn on_anvil() -> OnAnvil {
    let stack = SynthesisStack::start(50).await;
    let chains = arrakis_tests::shadow::chains_file(100);
    let _worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", &chains.display().to_string())]);
    let _gateway = stack.gateway().await;
    let contracts = arrakis_tests::chain::ChainFixture::deploy().await;
    let guild = stack.new_guild().await;
    OnAnvil { stack, contracts, guild, _worker, _gateway }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_adds_assets_by_address_and_the_chain_fills_in_the_rest() {
    let OnAnvil { stack, contracts, guild, _worker, _gateway } = on_anvil().await;
    let op = Operator::admin(stack.control.clone(), guild.parse().expect("id"), OPERATOR, None);
    let within_discords_deadline = |answer: &arrakis_tests::operator::Answer| {
        assert!(answer.ack_ms().is_some_and(|ms| ms < 3_000), "acknowledged within 3 s: {:?}", answer.report);
    };

    op.command("setup", &[]).await.expect("setup");
    let init = op.fill("INIT", &[("name", demo::NAME), ("theme", "basic"), ("mode", "exclusive")]).await.expect("init");
    // The chain select offers what the worker reads (its ARRAKIS_CHAINS), by that file's names.
    assert_eq!(
        select_options(init.message()),
        vec![("31337".to_string(), "anvil".to_string())],
        "{:?}",
        init.message()
    );
    let elsewhere = op.select("wiz:chains", &["1"]).await.expect("a chain it does not read");
    assert!(elsewhere.content().contains("chain 1 is not read by this deployment"), "{}", elsewhere.content());
    let chosen = op.select("wiz:chains", &["31337"]).await.expect("anvil");
    assert!(chosen.content().contains("step 3/8") && chosen.content().contains("nothing yet"), "{}", chosen.content());
    assert!(chosen.offers("wiz:asset:add") && chosen.offers("wiz:open:ASSET_CONFIG"), "{:?}", chosen.custom_ids());

    // The lookup form offers the community's chains and asks for an address.
    let form = op.press("wiz:asset:add").await.expect("the lookup form");
    assert_eq!(form.kind(), 9, "a modal at once: {:?}", form.callback());
    assert!(form.custom_ids().contains(&"wiz:asset:lookup".to_string()), "{:?}", form.custom_ids());
    let lookup = |address: String, token_id: &'static str| {
        let op = op.clone();
        async move {
            op.submit("wiz:asset:lookup", &[("chain_id", "31337"), ("address", &address), ("token_id", token_id)])
                .await
                .expect("lookup")
        }
    };

    // An account, a malformed address and an ERC-1155 without its token are refused with what
    // was found, and "Try again" opens the form with what was typed.
    let account = arrakis_tests::chain::random_wallet().to_checksum(None);
    let refused = lookup(account.clone(), "").await;
    within_discords_deadline(&refused);
    assert!(refused.content().contains("address: there is no contract at"), "{}", refused.content());
    let again = op.press_on(&refused, "wiz:asset:add").await.expect("try again");
    assert!(again.callback().to_string().contains(&account), "prefilled: {:?}", again.callback());
    let malformed = lookup("0x1234".into(), "").await;
    assert!(malformed.content().contains("address:"), "{}", malformed.content());
    let multi = lookup(contracts.erc1155.to_checksum(None), "").await;
    assert!(multi.content().contains("ERC-1155 collection: say which token id"), "{}", multi.content());
    // The runbook's line does what the form does, and is refused the same way.
    let (ok, text) = stack.shell("wizard-asset-lookup", &guild, &[("ASSET_ADDRESS", &account)]);
    assert!(!ok && text.contains("there is no contract at"), "{text}");
    let status = wizard_status(&stack, &guild);
    assert!(status["draft"]["assets"].as_array().is_none_or(Vec::is_empty), "nothing was added: {status}");

    // The ERC-20, pasted in lowercase: its metadata read from the contract, then confirmed.
    let spice = lookup(contracts.erc20.to_string().to_lowercase(), "").await;
    within_discords_deadline(&spice);
    assert!(spice.content().contains("**SPICE (Spice), ERC-20, 18 decimals**"), "{}", spice.content());
    assert!(spice.content().contains(&contracts.erc20.to_checksum(None)), "shown checksummed: {}", spice.content());
    let confirmed = op.press("wiz:asset:confirm").await.expect("confirm");
    assert!(
        confirmed.content().contains("`spice`") && !confirmed.content().contains("right?"),
        "{}",
        confirmed.content()
    );

    // The ERC-721: Change reopens the form with the finding, then confirmed.
    let worms = lookup(contracts.erc721.to_checksum(None), "").await;
    assert!(worms.content().contains("WORM (Worms), ERC-721 collection"), "{}", worms.content());
    let change = op.press_on(&worms, "wiz:asset:change").await.expect("change");
    assert!(change.callback().to_string().contains(&contracts.erc721.to_checksum(None)), "{:?}", change.callback());
    op.press("wiz:asset:confirm").await.expect("confirm the collection");
    // An ERC-1155 with its token, then removed again with the select.
    let multi = lookup(contracts.erc1155.to_checksum(None), "7").await;
    assert!(multi.content().contains("ERC-1155 collection, token 7"), "{}", multi.content());
    op.press("wiz:asset:confirm").await.expect("confirm the ERC-1155");
    let removed = op.select("wiz:asset:remove", &["collection"]).await.expect("remove");
    assert!(!removed.content().contains("`collection`"), "{}", removed.content());

    let next = op.press("wiz:asset:next").await.expect("next");
    assert!(next.content().contains("step 4/8"), "{}", next.content());
    let status = wizard_status(&stack, &guild);
    let assets = status["draft"]["assets"].as_array().cloned().unwrap_or_default();
    let erc20 = contracts.erc20.to_checksum(None);
    let erc721 = contracts.erc721.to_checksum(None);
    assert_eq!(
        assets,
        vec![
            json!({"key": "spice", "chain_id": 31337, "kind": "erc20", "address": erc20, "decimals": 18}),
            json!({"key": "worm", "chain_id": 31337, "kind": "erc721", "address": erc721}),
        ],
        "{status}"
    );
}

/// An operator's session that counts what it costs them: interactions, and characters typed
/// into form fields (a select's choice is a click, not typing).
struct Counted<'a> {
    op: &'a Operator,
    interactions: usize,
    typed: usize,
}

impl Counted<'_> {
    async fn press(&mut self, custom_id: &str) -> arrakis_tests::operator::Answer {
        self.interactions += 1;
        self.op.press(custom_id).await.unwrap_or_else(|e| panic!("{custom_id}: {e}"))
    }

    async fn select(&mut self, custom_id: &str, values: &[&str]) -> arrakis_tests::operator::Answer {
        self.interactions += 1;
        self.op.select(custom_id, values).await.unwrap_or_else(|e| panic!("{custom_id}: {e}"))
    }

    /// Opens a form with `button` and submits `typed` text fields and `picked` selects.
    async fn form(
        &mut self,
        button: &str,
        typed: &[(&str, &str)],
        picked: &[(&str, &str)],
    ) -> arrakis_tests::operator::Answer {
        // Two interactions: the button that opens the form, and its submission.
        self.interactions += 2;
        self.typed += typed.iter().map(|(_, v)| v.chars().count()).sum::<usize>();
        let fields: Vec<(&str, &str)> = typed.iter().chain(picked).copied().collect();
        self.op.form(button, &fields).await.unwrap_or_else(|e| panic!("{button}: {e}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_who_only_clicks_and_fills_fields_sets_up_tiers_and_an_nft_role_on_anvil() {
    let OnAnvil { stack, contracts, guild, _worker, _gateway } = on_anvil().await;
    let channel = setup_channel(&stack, &guild).await;
    let op = Operator::admin(stack.control.clone(), guild.parse().expect("id"), OPERATOR, Some(channel));
    let mut s = Counted { op: &op, interactions: 1, typed: 0 };
    op.command("setup", &[]).await.expect("setup");

    // Reports go to a channel the operator picks, not the one they happen to type in.
    let seed = serde_json::from_value(json!({"name": "ops", "type": 0})).expect("seed");
    let ops = stack.control.seed_channels(guild.parse().expect("id"), &[seed]).await.expect("channel")[0].to_string();
    let init = s
        .form(
            "wiz:open:INIT",
            &[("name", demo::NAME)],
            &[("theme", "basic"), ("mode", "exclusive"), ("operator_channel", &ops)],
        )
        .await;
    assert!(init.content().contains("step 2/8"), "{}", init.content());
    s.select("wiz:chains", &["31337"]).await;
    for address in [contracts.erc20, contracts.erc721] {
        let found = s.form("wiz:asset:add", &[("address", &address.to_checksum(None))], &[("chain_id", "31337")]).await;
        assert!(found.content().contains("right?"), "{}", found.content());
        s.press("wiz:asset:confirm").await;
    }
    let rules = s.press("wiz:asset:next").await;
    assert!(rules.content().contains("step 4/8"), "{}", rules.content());

    // Bad input at the rules step: refused naming the field, and the step still works.
    for (amount, says) in [
        ("1.0000000000000000001", "amount: '1.0000000000000000001' is not an amount of spice"),
        ("-1", "amount: '-1' is negative"),
        ("", "amount: enter how many"),
    ] {
        let op = &op;
        let refused = op
            .submit("wiz:picked:holds", &[("asset", "spice"), ("amount", amount), ("key", "")])
            .await
            .expect("refused");
        assert!(refused.content().contains(says), "{amount:?}: {}", refused.content());
        assert!(refused.offers("wiz:pick:holds"), "Try again: {:?}", refused.custom_ids());
    }
    let emoji = op.submit("wiz:picked:owns", &[("asset", "worm"), ("key", "🐛")]).await.expect("emoji key");
    assert!(emoji.content().contains("a key is 1–64 of a–z"), "{}", emoji.content());
    let rules = s.form("wiz:pick:owns", &[], &[("asset", "worm")]).await;
    assert!(rules.content().contains("`worm-holder`: owns any worm"), "{}", rules.content());
    // Edit…: a threshold raised with the picker, no "Edit as text" (#28); its key stays.
    let rules = s.form("wiz:pick:holds", &[("amount", "100"), ("key", "rich")], &[("asset", "spice")]).await;
    assert!(rules.content().contains("`rich`: holds at least 100 spice"), "{}", rules.content());
    let rules = s.form("wiz:pick:change-rule", &[("amount", "150")], &[("key", "rich"), ("asset", "spice")]).await;
    assert!(rules.content().contains("`rich`: holds at least 150 spice"), "{}", rules.content());
    assert!(!rules.content().contains("at least 100 spice"), "{}", rules.content());
    let refused = op
        .submit("wiz:picked:change-rule", &[("key", "rich"), ("asset", "spice"), ("amount", "-5")])
        .await
        .expect("refused");
    assert!(refused.content().contains("amount: '-5' is negative"), "{}", refused.content());
    let rules = s.select("wiz:remove:ELIGIBILITY_RULES", &["rich"]).await;
    assert!(!rules.content().contains("`rich`"), "{}", rules.content());
    let roles = s.press("wiz:next:ELIGIBILITY_RULES").await;
    assert!(roles.content().contains("step 5/8"), "{}", roles.content());

    // Roles: the theme's tiers in one click, and one role for the collection's holders.
    let tiers = s.press("wiz:tiers").await;
    assert!(tiers.content().contains("**Gold**: the Gold tier (holders ranked 1–10)"), "{}", tiers.content());
    let long = "x".repeat(101);
    let refused = op
        .submit("wiz:picked:role", &[("name", &long), ("grant", "rule:worm-holder"), ("color", "3447003")])
        .await
        .expect("a long name");
    assert!(refused.content().contains("roles[3].name"), "{}", refused.content());
    let roles = s
        .form("wiz:pick:role", &[("name", "Worm Rider")], &[("grant", "rule:worm-holder"), ("color", "3447003")])
        .await;
    assert!(roles.content().contains("**Worm Rider**: members who meet `worm-holder`"), "{}", roles.content());
    let channels = s.press("wiz:next:ROLE_MAPPING").await;
    assert!(channels.content().contains("step 6/8"), "{}", channels.content());
    let template = s.press("wiz:template").await;
    assert!(template.content().contains("**Gold**, seen by Gold: #chat, voice: Lounge"), "{}", template.content());
    let review = s.press("wiz:next:CHANNEL_STRUCTURE").await;
    let plan = planned(&review.content());
    assert!(review.content().contains("step 7/8"), "{}", review.content());
    assert_eq!(plan.len(), 4 + 4 * 3, "4 roles, and a category with two channels for each: {plan:?}");

    let deploy = s.press("wiz:deploy").await;
    assert!(deploy.content().contains("step 8/8"), "{}", deploy.content());
    let wizard_id = format!("wizard-{guild}");
    println!("recorded as wizard-deployed-from-pickers: {wizard_id}");
    wait_until(Duration::from_secs(90), "the wizard to finish deploying", || {
        let id = wizard_id.clone();
        async move { workflow_completed(&id).then_some(()) }
    })
    .await;
    // What was created is what REVIEW showed (a text channel's name as Discord stores it).
    let state = stack.control.guild(guild.parse().expect("id")).await.expect("guild");
    let mut made: Vec<String> = names(&state.roles).into_iter().chain(names(&state.channels)).collect();
    made.retain(|n| plan.contains(n));
    made.sort();
    let mut wanted = plan.clone();
    wanted.sort();
    assert_eq!(made, wanted, "every planned object exists");
    let status = wizard_status(&stack, &guild);
    assert_eq!(status["deploy"], "done", "{status}");
    let _ =
        run_shell(&format!("temporal workflow terminate --workflow-id member-sync-{guild} --reason 'test over'"), &[]);

    let posted = stack.control.channel_messages(ops.parse().expect("id")).await.expect("messages");
    assert!(posted.iter().any(|m| m["content"].as_str().unwrap_or_default().starts_with("Deployed")), "{posted:?}");
    assert!(review.content().contains(&format!("reports go to <#{ops}>")), "{}", review.content());

    // `/arrakis setup` again starts from what is deployed, to edit it.
    let again = op.command("setup", &[]).await.expect("setup again");
    assert!(again.content().contains("Starting from the deployed version 1"), "{}", again.content());
    assert!(again.content().contains(demo::NAME), "{}", again.content());
    let status = wizard_status(&stack, &guild);
    assert_eq!(status["draft"]["roles"].as_array().map(Vec::len), Some(4), "{status}");
    assert_eq!(status["editing_version"], 1, "{status}");

    // What it cost: against the line syntax for the same community (one form per step).
    let text = [
        demo::NAME.to_string(),
        format!("spice erc20 31337 {} decimals=18\nworm erc721 31337 {}", contracts.erc20, contracts.erc721),
        "worm-holder = nft(worm)".to_string(),
        "gold | Gold | tier:gold\nsilver | Silver | tier:silver\nbronze | Bronze | tier:bronze\nworm-rider | Worm Rider | rule:worm-holder | #3498db".to_string(),
        "gold-area | Gold | gold | chat, voice:Lounge\nsilver-area | Silver | silver | chat, voice:Lounge\nbronze-area | Bronze | bronze | chat, voice:Lounge\nworm-rider-area | Worm Rider | worm-rider | chat, voice:Lounge".to_string(),
    ];
    let text_typed: usize = text.iter().map(|t| t.chars().count()).sum();
    let text_interactions = 1 + 2 + 1 + 2 * 4 + 1;
    println!(
        "| path | interactions | characters typed |\n|---|---|---|\n| line syntax | {text_interactions} | {text_typed} |\n| pickers | {} | {} |",
        s.interactions, s.typed
    );
    assert!(s.typed * 2 < text_typed, "pickers need less than half the typing: {} vs {text_typed}", s.typed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_changes_the_themes_roles_and_channels_item_by_item() {
    let stack = SynthesisStack::start(50).await;
    let _worker = stack.in_process_worker();
    let _gateway = stack.gateway().await;
    let guild = stack.new_guild().await;
    let channel = setup_channel(&stack, &guild).await;
    let op = Operator::admin(stack.control.clone(), guild.parse().expect("id"), OPERATOR, Some(channel));
    first_two_steps(&op).await;
    op.fill("ASSET_CONFIG", &[("assets", demo::ASSETS)]).await.expect("assets");
    op.fill("ELIGIBILITY_RULES", &[("rules", demo::RULES)]).await.expect("rules");
    let mut s = Counted { op: &op, interactions: 0, typed: 0 };

    // A tier's role renamed and recoloured; its grant stays. Asking for no change is refused.
    s.press("wiz:tiers").await;
    let blue = "3447003";
    let lords = s.form("wiz:pick:change-role", &[("name", "Spice Lords")], &[("key", "gold"), ("color", blue)]).await;
    assert!(lords.content().contains("**Spice Lords**: the Gold tier"), "{}", lords.content());
    let nothing = s.form("wiz:pick:change-role", &[("name", "")], &[("key", "silver")]).await;
    assert!(nothing.content().contains("name: give a new name, a colour, or both"), "{}", nothing.content());
    let channels = s.press("wiz:next:ROLE_MAPPING").await;
    assert!(channels.content().contains("step 6/8"), "{}", channels.content());

    // The theme's template fills the step in place; then each item is changed where it is.
    let template = s.press("wiz:template").await;
    assert!(template.content().contains("step 6/8"), "{}", template.content());
    assert!(
        template.content().contains("**Spice Lords**, seen by Spice Lords: #chat, voice: Lounge"),
        "{}",
        template.content()
    );
    let renamed = s.form("wiz:pick:rename", &[("name", "Spice Lounge")], &[("key", "gold-voice")]).await;
    assert!(renamed.content().contains("#chat, voice: Spice Lounge"), "{}", renamed.content());
    let removed = s.select("wiz:remove:CHANNEL_STRUCTURE", &["silver-text"]).await;
    assert!(removed.content().contains("**Silver**, seen by Silver: voice: Lounge\n"), "{}", removed.content());
    // Who sees a new category is picked from the roles just defined.
    let hall = s.form("wiz:pick:category", &[("name", "Riders' Hall")], &[("visible_to", "gold,bronze")]).await;
    assert!(
        hall.content().contains("**Riders' Hall**, seen by Spice Lords, Bronze: no channels yet"),
        "{}",
        hall.content()
    );
    let long = "x".repeat(101);
    let refused =
        s.form("wiz:pick:channel", &[("name", &long)], &[("category", "riders-hall"), ("kind", "text")]).await;
    assert!(refused.content().contains("channels.categories[3].channels[0].name"), "{}", refused.content());
    let stage =
        s.form("wiz:pick:channel", &[("name", "Stage")], &[("category", "riders-hall"), ("kind", "voice")]).await;
    assert!(stage.content().contains("seen by Spice Lords, Bronze: voice: Stage"), "{}", stage.content());

    // REVIEW plans exactly the edited structure.
    let review = s.press("wiz:next:CHANNEL_STRUCTURE").await;
    assert!(review.content().contains("step 7/8"), "{}", review.content());
    let plan = planned(&review.content());
    for name in ["Spice Lords", "Spice Lounge", "Riders' Hall", "Stage"] {
        assert!(plan.iter().any(|p| p == name), "{name} in {plan:?}");
    }
    assert_eq!(plan.len(), 3 + 3 * 3 - 1 + 2, "3 roles, the template less a channel, a category with one: {plan:?}");
    let status = arrakis_tests::wizard::WizardDriver::new(&stack.task_queue, &guild, None).await.status().await;
    let lords = &status.draft.roles[0];
    assert_eq!((lords.key.as_str(), lords.name.as_str(), lords.color), ("gold", "Spice Lords", 0x3498db));
    println!("recorded as wizard-channels-edited: wizard-{guild}");
}

/// The demo community as an operator who has a manifest would paste it: YAML, no guild id.
fn pasted_manifest() -> String {
    "name: Sietch Tabr\ntheme: basic\nmode: exclusive\nchains: [1]\nassets:\n  - key: spice\n    chain_id: 1\n    kind: erc20\n    \
     address: \"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\"\n    decimals: 18\nrules:\n  holder:\n    min_balance:\n      \
     asset: spice\n      amount: \"100\"\nroles:\n  - key: holder\n    name: Spice Holder\n    grant:\n      rule: holder\n\
     channels:\n  strategy: none\n"
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_pastes_a_manifest_deploys_it_and_watches_the_deploy_screen_move() {
    let stack = SynthesisStack::start(50).await;
    let _worker = stack.in_process_worker();
    let _gateway = stack.gateway().await;
    let guild = stack.new_guild().await;
    let channel = setup_channel(&stack, &guild).await;
    let op = Operator::admin(stack.control.clone(), guild.parse().expect("id"), OPERATOR, Some(channel));
    let setup = op.command("setup", &[]).await.expect("setup");
    assert!(setup.offers("wiz:paste"), "{:?}", setup.custom_ids());

    // The form opens at once; what it cannot read is refused by field, and Try again keeps it.
    let form = op.press("wiz:paste").await.expect("the paste form");
    assert_eq!(form.kind(), 9, "a modal: {:?}", form.callback());
    let typo = pasted_manifest().replace("kind: erc20", "kind: erc2O");
    let refused = op.submit("wiz:pasted", &[("manifest", &typo)]).await.expect("refused");
    assert!(refused.content().contains("assets[0].kind"), "{}", refused.content());
    let again = op.press_on(&refused, "wiz:paste").await.expect("try again");
    assert!(again.callback().to_string().contains("erc2O"), "prefilled: {:?}", again.callback());
    let elsewhere = format!("guild_id: \"223456789012345678\"\n{}", pasted_manifest());
    let refused = op.submit("wiz:pasted", &[("manifest", &elsewhere)]).await.expect("another server's");
    assert!(
        refused.content().contains("guild_id: this manifest is for server 223456789012345678"),
        "{}",
        refused.content()
    );
    // The runbook's line does the same from a file, and is refused the same way.
    let mut other: Value = serde_yaml_ng::from_str(&pasted_manifest()).expect("yaml");
    other["guild_id"] = json!("223456789012345678");
    let file = std::env::temp_dir().join(format!("manifest-{guild}.json"));
    std::fs::write(&file, other.to_string()).expect("write");
    let (ok, text) = stack.shell("wizard-paste", &guild, &[("MANIFEST_JSON", &file.display().to_string())]);
    assert!(!ok && text.contains("this manifest is for server 223456789012345678"), "{text}");
    let status = wizard_status(&stack, &guild);
    assert_eq!(status["step"], "INIT", "nothing changed: {status}");

    // The manifest takes the session to REVIEW, with the plan against Discord.
    let review = op.submit("wiz:pasted", &[("manifest", &pasted_manifest())]).await.expect("pasted");
    assert!(review.content().contains("step 7/8") && review.content().contains("Spice Holder"), "{}", review.content());
    let shown = op.command("status", &[]).await.expect("status");
    assert!(
        shown.content().contains("Setup funnel: Community ✓ →") && shown.content().contains("Review ← here"),
        "{}",
        shown.content()
    );

    // Deploy: the screen the operator pressed it on moves by itself and ends with the outcome.
    let deploy = op.press("wiz:deploy").await.expect("deploy");
    assert!(deploy.content().contains("step 8/8"), "{}", deploy.content());
    println!("recorded as wizard-pasted-and-deployed: wizard-{guild}");
    let ended = wait_until(Duration::from_secs(90), "the Deploy screen to show the outcome", || {
        let (control, id) = (stack.control.clone(), deploy.id);
        async move {
            let original = control.interaction(id, 0).await.ok()?.original?;
            let content = original["content"].as_str()?.to_string();
            content.contains("Deployed **Sietch Tabr**").then_some(original)
        }
    })
    .await;
    assert_eq!(ended["components"].as_array().map(Vec::len), Some(0), "no Refresh once done: {ended}");
    let state = stack.control.guild(guild.parse().expect("id")).await.expect("guild");
    assert!(names(&state.roles).contains(&"Spice Holder".to_string()), "{:?}", names(&state.roles));
    let _ =
        run_shell(&format!("temporal workflow terminate --workflow-id member-sync-{guild} --reason 'test over'"), &[]);
}
