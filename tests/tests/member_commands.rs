//! The member commands end to end: the stand-in delivers `/verify`, the signature form and
//! `/check-eligibility` to the gateway, which runs the WalletLink and EligibilityCheck
//! workflows; the worker reads anvil and Postgres.

use alloy::{
    primitives::U256,
    signers::{SignerSync, local::PrivateKeySigner},
};
use arrakis_tests::{SynthesisStack, chain::ChainFixture, chain::anvil_url, operator::Operator};
use serde_json::json;

const MEMBER: u64 = 333_333_333_333_333_333;

fn sign(key: &PrivateKeySigner, message: &str) -> String {
    let sig = key.sign_message_sync(message.as_bytes()).expect("sign");
    format!("0x{}", sig.as_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The challenge text between the code fences of the `/verify` answer.
fn challenge_text(content: &str) -> String {
    let start = content.find("```\n").map(|i| i + 4).expect("a code block");
    let end = content[start..].find("\n```").map(|i| start + i).expect("its end");
    content[start..end].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_links_a_wallet_and_checks_eligibility_through_the_gateway() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = std::env::temp_dir().join(format!("chains-{}.yaml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&chains, format!("chains:\n  - id: 31337\n    name: anvil\n    rpc_urls: [\"{}\"]\n", anvil_url()))
        .expect("chains file");
    let _worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", &chains.display().to_string())]);
    let _gateway = stack.gateway().await;
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
    let wrong = member.submit("verify:signature", &[("signature", &sign(&other, &text))]).await.expect("submit");
    assert!(wrong.content().contains("signature: signed by"), "{}", wrong.content());
    let malformed = member.submit("verify:signature", &[("signature", "0xnope")]).await.expect("submit");
    assert!(
        malformed.content().contains("signature: expected 0x followed by 130 hex digits"),
        "{}",
        malformed.content()
    );
    let linked = member.submit("verify:signature", &[("signature", &sign(&key, &text))]).await.expect("submit");
    assert!(linked.content().contains(&format!("Linked **{address}**")), "{}", linked.content());

    let check = member.slash("check-eligibility", &[]).await.expect("check");
    let content = check.content();
    assert!(content.contains("`holder`: eligible") && content.contains("`whale`: not eligible"), "{content}");
    assert!(!content.contains("from the last 5 minutes"), "the first check reads the chain: {content}");
    let again = member.slash("check-eligibility", &[]).await.expect("check");
    assert!(again.content().contains("from the last 5 minutes"), "the second is cached: {}", again.content());
}
