//! Eligibility end to end on the real anvil: balances set with real OpenZeppelin contracts,
//! read through Multicall3 by the failover chain client, decided by the engine.

use alloy::primitives::{Address, U256};
use arrakis_activities::{
    chain::{Chains, Probe},
    circuit::CircuitConfig,
};
use arrakis_schemas::{
    CommunityManifest, Condition,
    eligibility::{Verdict, evaluate},
};
use arrakis_tests::chain::{
    ANVIL_CHAIN_ID, ChainFixture, TcpRelay, anvil_addr, anvil_chain, anvil_chains, anvil_url, dead_url, random_wallet,
};
use serde_json::json;
use std::collections::BTreeMap;

const RULES: [&str; 7] = ["holder", "rider", "maker", "wet", "both", "either", "two_of_three"];

fn manifest(f: &ChainFixture) -> CommunityManifest {
    let manifest = json!({
        "guild_id": "1100000000000000001", "name": "Sietch", "theme": "basic", "mode": "exclusive",
        "chains": [31337],
        "assets": [
            {"key": "spice", "chain_id": 31337, "kind": "erc20", "address": f.erc20.to_checksum(None), "decimals": 18},
            {"key": "worm", "chain_id": 31337, "kind": "erc721", "address": f.erc721.to_checksum(None)},
            {"key": "water", "chain_id": 31337, "kind": "erc1155", "address": f.erc1155.to_checksum(None), "token_id": "7"}
        ],
        "rules": {
            "holder": {"min_balance": {"asset": "spice", "amount": "100"}},
            "rider": {"owns_nft": {"asset": "worm"}},
            "maker": {"owns_nft": {"asset": "worm", "token_id": "42"}},
            "wet": {"min_balance": {"asset": "water", "amount": "3"}},
            "both": {"all_of": [{"rule": "holder"}, {"rule": "rider"}]},
            "either": {"any_of": [{"rule": "holder"}, {"rule": "wet"}]},
            "two_of_three": {"at_least": {"n": 2, "of": [{"rule": "holder"}, {"rule": "rider"}, {"rule": "wet"}]}}
        },
        "roles": [{"key": "holder", "name": "Holder", "grant": {"rule": "holder"}}]
    });
    let manifest: CommunityManifest = serde_json::from_value(manifest).expect("manifest");
    manifest.validate().expect("the test manifest is valid");
    manifest
}

fn spice(whole: u64) -> U256 {
    U256::from(whole) * U256::from(10u64).pow(U256::from(18))
}

/// A member's holdings as set on chain, and what each rule must say.
struct Case {
    name: &'static str,
    wallets: Vec<Address>,
    expect: [bool; 7],
}

/// Sets balances for a spread of members and returns them with the expected verdicts.
async fn seed(f: &ChainFixture) -> Vec<Case> {
    let w = || random_wallet();
    let (holder, rider, maker, wet, combo, split_a, split_b, almost, nothing) =
        (w(), w(), w(), w(), w(), w(), w(), w(), w());
    f.mint_erc20(holder, spice(100)).await;
    f.mint_erc721(rider, 1).await;
    f.mint_erc721(maker, 42).await;
    f.mint_erc1155(wet, 7, 3).await;
    f.mint_erc1155(wet, 8, 50).await; // another token id of the contract counts for nothing
    f.mint_erc20(combo, spice(250)).await;
    f.mint_erc1155(combo, 7, 5).await;
    f.mint_erc20(split_a, spice(60)).await; // two wallets of one member: 60 + 40
    f.mint_erc20(split_b, spice(40)).await;
    f.mint_erc20(almost, spice(100) - U256::from(1)).await;
    f.mint_erc1155(almost, 7, 2).await;
    //            holder rider  maker  wet    both   either two
    vec![
        Case { name: "holder", wallets: vec![holder], expect: [true, false, false, false, false, true, false] },
        Case { name: "rider", wallets: vec![rider], expect: [false, true, false, false, false, false, false] },
        Case { name: "maker", wallets: vec![maker], expect: [false, true, true, false, false, false, false] },
        Case { name: "wet", wallets: vec![wet], expect: [false, false, false, true, false, true, false] },
        Case { name: "combo", wallets: vec![combo], expect: [true, false, false, true, false, true, true] },
        Case {
            name: "split",
            wallets: vec![split_a, split_b],
            expect: [true, false, false, false, false, true, false],
        },
        Case { name: "almost", wallets: vec![almost], expect: [false, false, false, false, false, false, false] },
        Case { name: "nothing", wallets: vec![nothing], expect: [false, false, false, false, false, false, false] },
        Case { name: "no_wallet", wallets: vec![], expect: [false, false, false, false, false, false, false] },
    ]
}

fn members(cases: &[Case]) -> BTreeMap<String, Vec<Address>> {
    cases.iter().map(|c| (c.name.to_string(), c.wallets.clone())).collect()
}

async fn verdicts(
    chains: &arrakis_activities::chain::Chains,
    manifest: &CommunityManifest,
    cases: &[Case],
) -> BTreeMap<(String, &'static str), Verdict> {
    let readout = chains.holdings(manifest, &members(cases), &BTreeMap::new()).await;
    let (blocks, facts) = (readout.blocks, readout.facts);
    let mut out = BTreeMap::new();
    for case in cases {
        for rule in RULES {
            let e = evaluate(manifest, &Condition::Rule(rule.into()), &facts[case.name]);
            out.insert((case.name.to_string(), rule), e.verdict);
        }
    }
    assert!(blocks.is_empty() || blocks.contains_key(&31337));
    out
}

fn assert_matches_chain(cases: &[Case], got: &BTreeMap<(String, &'static str), Verdict>) {
    for case in cases {
        for (rule, want) in RULES.iter().zip(case.expect) {
            let want = if want { Verdict::Eligible } else { Verdict::NotEligible };
            assert_eq!(got[&(case.name.to_string(), *rule)], want, "member {} rule {rule}", case.name);
        }
    }
}

#[tokio::test]
async fn eligibility_agrees_with_balances_on_anvil_for_every_token_standard_and_combinator() {
    let f = ChainFixture::deploy().await;
    let cases = seed(&f).await;
    let manifest = manifest(&f);
    // Batches of 4 so the 20-odd probes span several aggregate3 calls.
    let chains = anvil_chains(&[anvil_url()], 4);
    assert_matches_chain(&cases, &verdicts(&chains, &manifest, &cases).await);
    let trips = chains.round_trips();
    assert!(trips >= 2, "one block number and at least one multicall: {trips}");
}

#[tokio::test]
async fn a_dead_first_url_fails_over_to_the_second() {
    let f = ChainFixture::deploy().await;
    let cases = seed(&f).await;
    let manifest = manifest(&f);
    let chains = anvil_chains(&[dead_url().await, anvil_url()], 4);
    assert_matches_chain(&cases, &verdicts(&chains, &manifest, &cases).await);
}

#[tokio::test]
async fn a_first_url_killed_mid_run_fails_over_and_every_answer_stays_right() {
    let f = ChainFixture::deploy().await;
    let manifest = manifest(&f);
    // 1,500 holders read in batches of 10 (150 multicalls) through a relay that dies early.
    let holders: Vec<Address> = (0..1500).map(|_| random_wallet()).collect();
    let funded: Vec<Address> = holders.iter().step_by(3).copied().collect();
    f.mint_erc20_batch(&funded, spice(100)).await;
    let relay = TcpRelay::start(anvil_addr()).await;
    let chains = anvil_chains(&[relay.url(), anvil_url()], 10);
    let members: BTreeMap<String, Vec<Address>> =
        holders.iter().enumerate().map(|(i, a)| (format!("m{i:04}"), vec![*a])).collect();
    let unpinned = BTreeMap::new();
    let read = chains.holdings(&manifest, &members, &unpinned);
    let killer = async {
        arrakis_tests::wait_until(std::time::Duration::from_secs(30), "the relay to carry traffic", || async {
            (relay.connections() > 0).then_some(())
        })
        .await;
        relay.kill();
    };
    let (readout, ()) = tokio::join!(read, killer);
    assert!(readout.unreachable.is_empty(), "the second URL answered: {:?}", readout.unreachable);
    let facts = readout.facts;
    // 6,000 probes (4 per member) in 600 multicalls plus the block number: anything more is
    // the dead relay being tried before the direct URL answered.
    let minimum = 600 + 1;
    assert!(chains.round_trips() > minimum, "the relay died mid-run: {} requests", chains.round_trips());
    for (i, (member, _)) in members.iter().enumerate() {
        let e = evaluate(&manifest, &Condition::Rule("holder".into()), &facts[member]);
        let want = if i % 3 == 0 { Verdict::Eligible } else { Verdict::NotEligible };
        assert_eq!(e.verdict, want, "{member}");
    }
}

#[tokio::test]
async fn with_every_url_dead_checks_are_unknown_never_not_eligible() {
    let f = ChainFixture::deploy().await;
    let cases = seed(&f).await;
    let manifest = manifest(&f);
    let chains = anvil_chains(&[dead_url().await, dead_url().await], 4);
    let got = verdicts(&chains, &manifest, &cases).await;
    // A member with no wallet needs no read: a definite no. Everyone else is unknown.
    for ((member, rule), verdict) in &got {
        if member == "no_wallet" {
            assert_eq!(*verdict, Verdict::NotEligible);
            continue;
        }
        match verdict {
            Verdict::Unknown { reason } => {
                assert!(reason.contains("no RPC endpoint answered"), "{member}/{rule}: {reason}");
                assert!(!reason.contains("127.0.0.1"), "URLs stay out of reasons: {reason}");
            }
            other => panic!("{member}/{rule}: {other:?} with every URL dead"),
        }
    }
}

#[tokio::test]
async fn a_full_bulkhead_sheds_to_the_next_url_or_refuses() {
    let f = ChainFixture::deploy().await;
    let probes: Vec<Probe> = (0..48).map(|_| Probe::BalanceOf { token: f.erc20, holder: random_wallet() }).collect();
    // One URL that takes 2 at a time: 16 at once are refused, not queued.
    let mut narrow = anvil_chain(&[anvil_url()], 10);
    narrow.max_in_flight = 2;
    let chains = Chains::new(vec![narrow], CircuitConfig::default());
    let client = chains.client(ANVIL_CHAIN_ID).expect("configured");
    let block = client.block_number().await.expect("block");
    let refused = client.read_one_by_one(&probes, block, 16).await.expect_err("shed");
    assert!(refused.to_string().contains("shed (2 in flight)"), "{refused}");
    // With a second URL the overflow goes there, and every answer is right.
    let relay = TcpRelay::start(anvil_addr()).await;
    let mut wide = anvil_chain(&[anvil_url(), relay.url()], 10);
    wide.max_in_flight = 2;
    let chains = Chains::new(vec![wide], CircuitConfig::default());
    let client = chains.client(ANVIL_CHAIN_ID).expect("configured");
    let results = client.read_one_by_one(&probes, block, 4).await.expect("read");
    assert!(results.iter().all(|r| r.as_ref().is_ok_and(|units| units.is_zero())), "{results:?}");
    assert!(relay.connections() > 0, "the second URL took the overflow");
}
