//! A guild where Collab.Land already gates two roles, with a known set of divergences: the
//! shadow-mode tests and `shadow-bench` seed it at any size.
//!
//! Every `linked_every`-th member links a wallet; their k-th in turn falls in one of four
//! cases (k mod 4): agrees (150 SPICE, holds Holder), would grant Holder (150 SPICE, holds
//! nothing), would revoke Holder (no SPICE, holds Holder), would grant Whale (20,000 SPICE,
//! holds Holder only). Every 7th member without a wallet holds Holder too: Arrakis has
//! nothing to say about them, so they never diverge.

use crate::{SynthesisStack, chain::ChainFixture, chain::random_wallet};
use alloy::primitives::U256;
use arrakis_sim::{ChannelSeed, GenerateMembers, MemberSeed, MembersSeed, RoleSeed};
use serde_json::json;
use std::collections::BTreeSet;

/// Collab.Land's bot user id (the `client_id` of its invite link).
pub const COLLABLAND_BOT: u64 = 704_521_096_837_464_076;

/// The first generated member id.
pub const FIRST_MEMBER: u64 = 100_000_000_000_000_000;

/// One expected divergence: (user id, role key, kind).
pub type Divergence = (i64, String, String);

/// The seeded guild and what a sync must find in it.
pub struct ShadowGuild {
    /// The guild id.
    pub guild: String,
    /// The incumbent's Holder role.
    pub holder_role: u64,
    /// The incumbent's Whale role.
    pub whale_role: u64,
    /// Members (the bot excluded).
    pub members: u64,
    /// Members with a linked wallet.
    pub linked: u64,
    /// Exactly the divergences a sync must record.
    pub expected: BTreeSet<Divergence>,
    /// The members Arrakis would grant Holder to, in order (the incumbent may catch up).
    pub would_grant_holder: Vec<u64>,
}

fn spice(whole: u64) -> U256 {
    U256::from(whole) * U256::from(10u64).pow(U256::from(18))
}

/// The manifest of the seeded guild: Holder from 100 SPICE, Whale from 10,000, in shadow mode.
pub fn manifest(guild: &str, chain: &ChainFixture) -> serde_json::Value {
    json!({
        "guild_id": guild, "name": "Sietch", "mode": "shadow", "chains": [31337],
        "assets": [{"key": "spice", "chain_id": 31337, "kind": "erc20", "address": chain.erc20.to_checksum(None), "decimals": 18}],
        "rules": {
            "holder": {"min_balance": {"asset": "spice", "amount": "100"}},
            "whale": {"min_balance": {"asset": "spice", "amount": "10000"}}
        },
        "roles": [
            {"key": "holder", "name": "Holder", "grant": {"rule": "holder"}},
            {"key": "whale", "name": "Whale", "grant": {"rule": "whale"}}
        ]
    })
}

/// Seeds the guild in the stand-in, publishes its manifest, links the wallets in the
/// database and sets the balances on anvil.
pub async fn seed(stack: &SynthesisStack, chain: &ChainFixture, members: u64, linked_every: u64) -> ShadowGuild {
    let control = &stack.control;
    let guild = stack.new_guild().await;
    let guild_id: u64 = guild.parse().expect("guild id");
    let role = |name: &str, managed: bool| RoleSeed { name: name.into(), position: 1, managed, ..Default::default() };
    let roles = control
        .seed_roles(guild_id, &[role("Holder", false), role("Whale", false), role("Collab.Land", true)])
        .await
        .expect("roles");
    let (holder_role, whale_role) = (roles[0], roles[1]);
    control
        .seed_channels(guild_id, &[ChannelSeed { name: "collabland-join".into(), ..Default::default() }])
        .await
        .expect("channel");
    let generate = GenerateMembers { count: members, first_id: FIRST_MEMBER, ..Default::default() };
    control
        .seed_members(guild_id, &MembersSeed { generate: Some(generate), ..Default::default() })
        .await
        .expect("members");

    let mut with_roles = vec![MemberSeed {
        id: Some(COLLABLAND_BOT),
        username: Some("Collab.Land".into()),
        bot: true,
        roles: vec![roles[2].to_string()],
        long_standing: true,
    }];
    let mut expected = BTreeSet::new();
    let mut would_grant_holder = Vec::new();
    let (mut linked, mut holders, mut whales) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..members {
        let user = FIRST_MEMBER + n;
        let id = user as i64;
        let mut held = Vec::new();
        if n % linked_every == 0 {
            let wallet = random_wallet();
            linked.push((id, wallet));
            match (n / linked_every) % 4 {
                0 => {
                    holders.push(wallet);
                    held.push(holder_role);
                }
                1 => {
                    holders.push(wallet);
                    expected.insert((id, "holder".to_string(), "would_grant".to_string()));
                    would_grant_holder.push(user);
                }
                2 => {
                    held.push(holder_role);
                    expected.insert((id, "holder".to_string(), "would_revoke".to_string()));
                }
                _ => {
                    whales.push(wallet);
                    held.push(holder_role);
                    expected.insert((id, "whale".to_string(), "would_grant".to_string()));
                }
            }
        } else if n % 7 == 0 {
            held.push(holder_role);
        }
        if !held.is_empty() {
            with_roles.push(MemberSeed {
                id: Some(user),
                username: None,
                bot: false,
                roles: held.iter().map(u64::to_string).collect(),
                long_standing: true,
            });
        }
    }
    // The stand-in takes 2 MB per request: seed the role holders in slices.
    while !with_roles.is_empty() {
        let slice: Vec<MemberSeed> = with_roles.drain(..with_roles.len().min(5_000)).collect();
        control.seed_members(guild_id, &MembersSeed { members: slice, generate: None }).await.expect("role holders");
    }

    stack.publish(&guild, manifest(&guild, chain));
    let mut admin = stack.db.admin().await;
    let (community,): (uuid::Uuid,) = sqlx::query_as("SELECT community_id FROM communities WHERE guild_id = $1")
        .bind(guild_id as i64)
        .fetch_one(&mut admin)
        .await
        .expect("community");
    for slice in linked.chunks(10_000) {
        sqlx::query(
            "INSERT INTO wallet_links (community_id, discord_user_id, address)
             SELECT $1, u, a FROM unnest($2::bigint[], $3::text[]) AS w(u, a)",
        )
        .bind(community)
        .bind(slice.iter().map(|(u, _)| *u).collect::<Vec<_>>())
        .bind(slice.iter().map(|(_, w)| w.to_checksum(None)).collect::<Vec<_>>())
        .execute(&mut admin)
        .await
        .expect("wallet links");
    }
    chain.mint_erc20_batch(&holders, spice(150)).await;
    chain.mint_erc20_batch(&whales, spice(20_000)).await;
    ShadowGuild { guild, holder_role, whale_role, members, linked: linked.len() as u64, expected, would_grant_holder }
}

/// A chains file for the worker: anvil, Multicall3 batches of `batch`.
pub fn chains_file(batch: usize) -> std::path::PathBuf {
    chains_file_at(&crate::chain::anvil_url(), batch)
}

/// A chains file for the worker: anvil at `url` (a relay, say), Multicall3 batches of `batch`.
pub fn chains_file_at(url: &str, batch: usize) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("chains-{}.yaml", uuid::Uuid::new_v4().simple()));
    let body = format!(
        "chains:\n  - id: 31337\n    name: anvil\n    rpc_urls: [\"{url}\"]\n    multicall_batch: {batch}\n    max_in_flight: 32\n"
    );
    std::fs::write(&path, body).expect("chains file");
    path
}
