//! The member commands end to end: the stand-in delivers `/verify`, the signature form and
//! `/check-eligibility` to the gateway, which runs the WalletLink and EligibilityCheck
//! workflows; the worker reads anvil and Postgres.

use alloy::{primitives::U256, signers::local::PrivateKeySigner};
use arrakis_tests::{
    SynthesisStack,
    chain::{ChainFixture, anvil_url, personal_sign},
    json_of,
    operator::{Operator, challenge_text},
};
use serde_json::json;

const MEMBER: u64 = 333_333_333_333_333_333;

/// A stack whose worker reads anvil, a guild with a published manifest over a fresh ERC20
/// (holder: 100 SPICE, whale: 10,000), and a wallet holding 150.
async fn community() -> (SynthesisStack, arrakis_tests::TestWorker, String, PrivateKeySigner) {
    community_reading(&[anvil_url()]).await
}

/// [`community`] with the worker reading the chain through `rpc_urls`.
async fn community_reading(
    rpc_urls: &[String],
) -> (SynthesisStack, arrakis_tests::TestWorker, String, PrivateKeySigner) {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = std::env::temp_dir().join(format!("chains-{}.yaml", uuid::Uuid::new_v4().simple()));
    let urls = rpc_urls.iter().map(|u| format!("\"{u}\"")).collect::<Vec<_>>().join(", ");
    std::fs::write(&chains, format!("chains:\n  - id: 31337\n    name: anvil\n    rpc_urls: [{urls}]\n"))
        .expect("chains file");
    let worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", &chains.display().to_string())]);
    let guild = stack.new_guild().await;
    let spice = chain.erc20.to_checksum(None);
    stack.publish(
        &guild,
        json!({
            "guild_id": guild, "name": "Sietch", "mode": "exclusive", "chains": [31337],
            "assets": [{"key": "spice", "chain_id": 31337, "kind": "erc20", "address": spice, "decimals": 18}],
            "rules": {
                "holder": {"min_balance": {"asset": "spice", "amount": "100"}},
                "whale": {"min_balance": {"asset": "spice", "amount": "10000"}}
            },
            "roles": [
                {"key": "holder", "name": "Holder", "grant": {"rule": "holder"}},
                {"key": "whale", "name": "Whale", "grant": {"rule": "whale"}}
            ]
        }),
    );
    let key = PrivateKeySigner::random();
    chain.mint_erc20(key.address(), U256::from(150u64) * U256::from(10u64).pow(U256::from(18))).await;
    (stack, worker, guild, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_links_a_wallet_and_checks_eligibility_through_the_gateway() {
    let (stack, _worker, guild, key) = community().await;
    let _gateway = stack.gateway().await;
    let member = Operator::member(stack.control.clone(), guild.parse().expect("id"), MEMBER);

    let before = member.slash("check-eligibility", &[]).await.expect("check");
    assert!(before.ephemeral() && before.content().contains("no linked wallet"), "{}", before.content());

    let bad = member.slash("verify", &[("address", "0x1234")]).await.expect("verify");
    assert!(bad.content().contains("address: expected 0x followed by 40 hex digits"), "{}", bad.content());

    let address = key.address().to_checksum(None);
    let challenge = member.slash("verify", &[("address", &address)]).await.expect("verify");
    assert!(challenge.ephemeral() && challenge.offers("verify:sign"), "{:?}", challenge.callback());
    let text = challenge_text(&challenge.content());
    assert!(text.contains(&address) && text.contains(&format!("Discord user: {MEMBER}")), "{text}");

    let form = member.press("verify:sign").await.expect("form");
    assert_eq!(form.kind(), 9, "the button opens the signature form");
    let other = PrivateKeySigner::random();
    let wrong =
        member.submit("verify:signature", &[("signature", &personal_sign(&other, &text))]).await.expect("submit");
    assert!(wrong.content().contains("signature: signed by"), "{}", wrong.content());
    let malformed = member.submit("verify:signature", &[("signature", "0xnope")]).await.expect("submit");
    assert!(
        malformed.content().contains("signature: expected 0x followed by 130 hex digits"),
        "{}",
        malformed.content()
    );
    let linked =
        member.submit("verify:signature", &[("signature", &personal_sign(&key, &text))]).await.expect("submit");
    assert!(linked.content().contains(&format!("Linked **{address}**")), "{}", linked.content());

    let check = member.slash("check-eligibility", &[]).await.expect("check");
    let content = check.content();
    assert!(content.contains("`holder`: eligible") && content.contains("`whale`: not eligible"), "{content}");
    assert!(!content.contains("from the last 5 minutes"), "the first check reads the chain: {content}");
    let again = member.slash("check-eligibility", &[]).await.expect("check");
    assert!(again.content().contains("from the last 5 minutes"), "the second is cached: {}", again.content());
}

/// Links `key`'s wallet for [`MEMBER`] through the runbook's lines.
fn link_from_the_cli(stack: &SynthesisStack, guild: &str, key: &PrivateKeySigner) {
    let user = MEMBER.to_string();
    let address = key.address().to_checksum(None);
    let (ok, text) = stack.shell("wallet-link-start", guild, &[("USER_ID", &user)]);
    assert!(ok, "{text}");
    let (ok, text) = stack.shell("wallet-link-challenge", guild, &[("USER_ID", &user), ("ADDRESS", &address)]);
    assert!(ok, "{text}");
    let message = json_of(&text)["challenge"]["message"].as_str().unwrap_or_default().to_string();
    let (ok, text) =
        stack.shell("wallet-link-submit", guild, &[("USER_ID", &user), ("SIGNATURE", &personal_sign(key, &message))]);
    assert!(ok && text.contains(&address), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_rpc_url_dead_a_check_is_retried_then_unknown_never_not_eligible() {
    let dead = [arrakis_tests::chain::dead_url().await, arrakis_tests::chain::dead_url().await];
    let (stack, _worker, guild, key) = community_reading(&dead).await;
    link_from_the_cli(&stack, &guild, &key);
    let (ok, text) = stack.shell("eligibility-check", &guild, &[("USER_ID", &MEMBER.to_string())]);
    assert!(ok, "{text}");
    let report = json_of(&text);
    let roles = report["roles"].as_array().cloned().unwrap_or_default();
    assert_eq!(roles.len(), 2, "{text}");
    for role in roles {
        assert_eq!(role["verdict"], "unknown", "{text}");
        assert!(role["reason"].as_str().unwrap_or_default().contains("no RPC endpoint answered"), "{text}");
    }
    assert_eq!(report["cached"], false, "an unknown is never cached: {text}");
    // Temporal retried the check before answering unknown.
    let id = format!("eligibility-{guild}-{MEMBER}");
    let out = arrakis_tests::run_shell(&format!("temporal workflow show --workflow-id {id} -o json"), &[]);
    let history = String::from_utf8_lossy(&out.stdout);
    assert!(history.contains("\"attempt\": 3"), "the activity ran its 3 attempts: {history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runbook_links_a_wallet_and_checks_eligibility_from_the_cli() {
    let (stack, _worker, guild, key) = community().await;
    let user = MEMBER.to_string();
    let address = key.address().to_checksum(None);
    let env = |extra: &[(&'static str, String)]| {
        let mut env = vec![("USER_ID", user.clone())];
        env.extend(extra.iter().cloned());
        env
    };
    let run = |name: &str, extra: &[(&'static str, String)]| {
        let env = env(extra);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        stack.shell(name, &guild, &env)
    };
    let (ok, text) = run("wallet-link-start", &[]);
    assert!(ok, "{text}");
    let (ok, text) = run("wallet-link-challenge", &[("ADDRESS", "not-an-address".into())]);
    assert!(!ok && text.contains("address: expected 0x"), "{text}");
    let (ok, text) = run("wallet-link-challenge", &[("ADDRESS", address.clone())]);
    assert!(ok, "{text}");
    let challenge = json_of(&text)["challenge"]["message"].as_str().unwrap_or_default().to_string();
    assert!(challenge.contains(&address), "{text}");
    let (ok, text) = run("wallet-link-submit", &[("SIGNATURE", personal_sign(&key, &challenge))]);
    assert!(ok && text.contains(&address), "{text}");
    let (ok, text) = run("wallet-link-status", &[]);
    assert!(ok && json_of(&text)["linked"] == address.as_str(), "{text}");
    let (ok, text) = run("wallet-links", &[("ARRAKIS_SERVICE_DATABASE_URL", stack.db.service_url.clone())]);
    assert!(ok && text.contains(&address) && text.contains(&user), "{text}");

    let (ok, text) = run("eligibility-check", &[]);
    assert!(ok, "{text}");
    let report = json_of(&text);
    let verdicts: Vec<(String, String)> = report["roles"]
        .as_array()
        .map(|roles| {
            roles
                .iter()
                .map(|r| (r["role"].as_str().unwrap_or("").into(), r["verdict"].as_str().unwrap_or("").into()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        verdicts,
        vec![("holder".to_string(), "eligible".to_string()), ("whale".to_string(), "not_eligible".to_string())],
        "{text}"
    );
}
