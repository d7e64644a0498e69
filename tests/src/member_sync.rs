//! A deployed guild for the member-sync tests and `member-sync-bench`: Arrakis's Holder (100
//! SPICE) and Whale (10,000 SPICE) roles made by a real synthesis, members in the stand-in,
//! wallets linked in Postgres, balances on anvil, and an incumbent's role Arrakis must never
//! touch. `expected` is exactly the (member, role) set a sweep must leave.

use crate::{SynthesisStack, chain::ChainFixture, chain::random_wallet, run_runbook, run_shell};
use alloy::primitives::{Address, U256};
use arrakis_sim::{ChannelSeed, GenerateMembers, MemberSeed, MembersSeed, RoleSeed};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The first generated member id.
pub const FIRST_MEMBER: u64 = 200_000_000_000_000_000;

/// What to seed.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Members (bots excluded).
    pub members: u64,
    /// Every n-th member links a wallet.
    pub linked_every: u64,
    /// Every n-th linked wallet holds enough for Holder (the rest hold a little, not enough).
    pub holder_every: u64,
    /// Every n-th Holder holds enough for Whale too.
    pub whale_every: u64,
    /// Members without a wallet who were given Arrakis's Holder role by hand (revoked after
    /// the second read).
    pub hand_given: u64,
}

/// The seeded guild.
pub struct SyncedGuild {
    /// The guild id.
    pub guild: String,
    /// Arrakis's Holder role.
    pub holder: u64,
    /// Arrakis's Whale role.
    pub whale: u64,
    /// The incumbent's role (never Arrakis's to touch).
    pub incumbent: u64,
    /// The operator channel.
    pub operator_channel: u64,
    /// Each linked member's wallet.
    pub wallets: BTreeMap<u64, Address>,
    /// Exactly the (member, Arrakis role) pairs that must hold after a sweep.
    pub expected: BTreeSet<(u64, u64)>,
}

impl Drop for SyncedGuild {
    /// A test that failed half-way leaves no member sync running on the dev server.
    fn drop(&mut self) {
        let _ = run_shell(
            &format!("temporal workflow terminate --workflow-id member-sync-{} --reason 'test over'", self.guild),
            &[],
        );
    }
}

/// `whole` SPICE in base units.
pub fn spice(whole: u64) -> U256 {
    U256::from(whole) * U256::from(10u64).pow(U256::from(18))
}

/// The manifest: Holder from 100 SPICE, Whale from `whale_at`, in exclusive mode.
pub fn manifest(guild: &str, chain: &ChainFixture, operator_channel: u64, holder_at: u64) -> Value {
    json!({
        "guild_id": guild, "name": "Sietch", "mode": "exclusive", "chains": [31337],
        "operator_channel_id": operator_channel.to_string(),
        "assets": [{"key": "spice", "chain_id": 31337, "kind": "erc20", "address": chain.erc20.to_checksum(None), "decimals": 18}],
        "rules": {
            "holder": {"min_balance": {"asset": "spice", "amount": holder_at.to_string()}},
            "whale": {"min_balance": {"asset": "spice", "amount": "10000"}}
        },
        "roles": [
            {"key": "holder", "name": "Spice Holder", "grant": {"rule": "holder"}},
            {"key": "whale", "name": "Spice Whale", "grant": {"rule": "whale"}}
        ]
    })
}

/// Seeds the guild, publishes and synthesises its manifest, links the wallets and sets the
/// balances.
pub async fn seed(stack: &SynthesisStack, chain: &ChainFixture, spec: Spec) -> SyncedGuild {
    let control = &stack.control;
    let guild = stack.new_guild().await;
    let guild_id: u64 = guild.parse().expect("guild id");
    let incumbent = control
        .seed_roles(guild_id, &[RoleSeed { name: "Collab Holder".into(), position: 1, ..Default::default() }])
        .await
        .expect("roles")[0];
    let operator_channel = control
        .seed_channels(guild_id, &[ChannelSeed { name: "arrakis-admin".into(), ..Default::default() }])
        .await
        .expect("channel")[0];
    let generate = GenerateMembers { count: spec.members, first_id: FIRST_MEMBER, ..Default::default() };
    control
        .seed_members(guild_id, &MembersSeed { generate: Some(generate), ..Default::default() })
        .await
        .expect("members");
    stack.publish(&guild, manifest(&guild, chain, operator_channel, 100));
    let (ok, text) = stack.shell("synthesis-run", &guild, &[]);
    assert!(ok, "{text}");
    let state = control.guild(guild_id).await.expect("state");
    let role = |name: &str| -> u64 {
        state
            .roles
            .iter()
            .find(|r| r["name"] == name)
            .and_then(|r| r["id"].as_str())
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("role {name} exists"))
    };
    let (holder, whale) = (role("Spice Holder"), role("Spice Whale"));

    let (mut wallets, mut expected) = (BTreeMap::new(), BTreeSet::new());
    let (mut holders, mut whales, mut dust, mut seeded) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut hand_given = spec.hand_given;
    for n in 0..spec.members {
        let user = FIRST_MEMBER + n;
        let mut roles = Vec::new();
        if n % 3 == 0 {
            roles.push(incumbent);
        }
        if n % spec.linked_every == 0 {
            let k = n / spec.linked_every;
            let wallet = random_wallet();
            wallets.insert(user, wallet);
            if k.is_multiple_of(spec.holder_every) {
                expected.insert((user, holder));
                if (k / spec.holder_every).is_multiple_of(spec.whale_every) {
                    whales.push(wallet);
                    expected.insert((user, whale));
                } else {
                    holders.push(wallet);
                }
            } else {
                dust.push(wallet);
            }
        } else if hand_given > 0 {
            hand_given -= 1;
            roles.push(holder);
        }
        if !roles.is_empty() {
            seeded.push(MemberSeed {
                id: Some(user),
                username: None,
                bot: false,
                roles: roles.iter().map(u64::to_string).collect(),
                long_standing: true,
            });
        }
    }
    while !seeded.is_empty() {
        let slice: Vec<MemberSeed> = seeded.drain(..seeded.len().min(5_000)).collect();
        control.seed_members(guild_id, &MembersSeed { members: slice, generate: None }).await.expect("role holders");
    }
    link_wallets(stack, guild_id, &wallets).await;
    chain.mint_erc20_batch(&holders, spice(150)).await;
    chain.mint_erc20_batch(&whales, spice(20_000)).await;
    chain.mint_erc20_batch(&dust, spice(10)).await;
    SyncedGuild { guild, holder, whale, incumbent, operator_channel, wallets, expected }
}

/// Links `wallets` in Postgres, as `/verify` would have.
pub async fn link_wallets(stack: &SynthesisStack, guild_id: u64, wallets: &BTreeMap<u64, Address>) {
    let mut admin = stack.db.admin().await;
    let (community,): (uuid::Uuid,) = sqlx::query_as("SELECT community_id FROM communities WHERE guild_id = $1")
        .bind(guild_id as i64)
        .fetch_one(&mut admin)
        .await
        .expect("community");
    let rows: Vec<(i64, String)> = wallets.iter().map(|(u, w)| (*u as i64, w.to_checksum(None))).collect();
    for slice in rows.chunks(10_000) {
        sqlx::query(
            "INSERT INTO wallet_links (community_id, discord_user_id, address)
             SELECT $1, u, a FROM unnest($2::bigint[], $3::text[]) AS w(u, a) ON CONFLICT DO NOTHING",
        )
        .bind(community)
        .bind(slice.iter().map(|(u, _)| *u).collect::<Vec<_>>())
        .bind(slice.iter().map(|(_, w)| w.clone()).collect::<Vec<_>>())
        .execute(&mut admin)
        .await
        .expect("wallet links");
    }
}

/// Every member's roles among `roles`: the (member, role) pairs that hold, read through the
/// stand-in's control API, so the test neither spends the bot's rate limits nor is refused by
/// them.
pub async fn held(stack: &SynthesisStack, guild: &str, roles: &[u64]) -> BTreeSet<(u64, u64)> {
    let members = stack.control.member_roles(guild.parse().expect("guild id")).await.expect("member roles");
    members
        .iter()
        .flat_map(|(user, held)| held.iter().filter(|r| roles.contains(r)).map(move |r| (*user, *r)))
        .collect()
}

/// Runs a member-sync runbook line for `guild`; the status it answers, as JSON.
pub fn shell(stack: &SynthesisStack, name: &str, guild: &str, extra: &[(&str, &str)]) -> (bool, Value, String) {
    let mut env = vec![("ARRAKIS_TASK_QUEUE", stack.task_queue.as_str()), ("GUILD_ID", guild), ("USER", "tester")];
    env.extend_from_slice(extra);
    let out = run_runbook(name, &env);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), crate::json_of(&text), text)
}

/// The sync's status (`Value::Null` until it answers).
pub fn status(stack: &SynthesisStack, guild: &str) -> Value {
    shell(stack, "member-sync-status", guild, &[]).1
}

/// Starts mining a block every `every` on anvil until dropped: a chain that moves, so a
/// second read can be at a later block as on a live network.
pub fn keep_mining(every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        loop {
            let _ = client
                .post(crate::chain::anvil_url())
                .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": []}))
                .send()
                .await;
            tokio::time::sleep(every).await;
        }
    })
}
