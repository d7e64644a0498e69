//! A guild where Collab.Land gates Holder, ready (or not) to migrate to Arrakis: the
//! incumbent's bot with its managed role high in the list, its Holder and Whale roles below it,
//! its verification channel and a channel only its Holders see (#holders-lounge), members (every `linked_every`-th with a linked wallet holding
//! 150 SPICE and the incumbent's Holder), and a shadow-mode manifest published.
//!
//! The shadow record a migration's readiness reads (14 days and more in shadow mode, validated
//! predictions) cannot be lived through in a test: [`backdate_shadow`] writes it as two weeks of
//! shadow syncs would have left it.

use crate::{SynthesisStack, chain::ChainFixture, chain::random_wallet, member_sync::link_wallets, run_shell};
use alloy::primitives::Address;
use arrakis_sim::{ChannelSeed, GenerateMembers, MemberSeed, MembersSeed, RoleSeed};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Collab.Land's bot user id.
pub const COLLABLAND_BOT: u64 = crate::shadow::COLLABLAND_BOT;
/// The first generated member id.
pub const FIRST_MEMBER: u64 = 300_000_000_000_000_000;

/// The seeded guild.
pub struct MigrationGuild {
    /// The guild id.
    pub guild: String,
    /// The incumbent bot's managed role (position 100).
    pub incumbent_bot_role: u64,
    /// The incumbent's Holder role (position 90).
    pub incumbent_holder: u64,
    /// The incumbent's Whale role (position 80).
    pub incumbent_whale: u64,
    /// The operator channel.
    pub operator_channel: u64,
    /// Each linked member's wallet.
    pub wallets: BTreeMap<u64, Address>,
    /// Members who qualify for Holder (all linked members hold 150 SPICE).
    pub holders: BTreeSet<u64>,
}

impl MigrationGuild {
    /// The guild id as a number.
    pub fn id(&self) -> u64 {
        self.guild.parse().unwrap_or_default()
    }
}

impl Drop for MigrationGuild {
    /// A test that failed half-way leaves no migration or member sync running on the dev server.
    fn drop(&mut self) {
        for id in [format!("migration-{}", self.guild), format!("member-sync-{}", self.guild)] {
            let _ = run_shell(&format!("temporal workflow terminate --workflow-id {id} --reason 'test over'"), &[]);
        }
    }
}

/// The colour of the incumbent's Holder role: a holder's name shows it, before and after
/// parallel mode starts.
pub const HOLDER_BLUE: u32 = 0x3498DB;

/// The shadow-mode manifest: Holder from 100 SPICE, Whale from 10,000, named as the
/// incumbent's roles are.
pub fn manifest(guild: &str, chain: &ChainFixture, operator_channel: u64) -> Value {
    json!({
        "guild_id": guild, "name": "Sietch", "mode": "shadow", "chains": [31337],
        "operator_channel_id": operator_channel.to_string(),
        "assets": [{"key": "spice", "chain_id": 31337, "kind": "erc20", "address": chain.erc20.to_checksum(None), "decimals": 18}],
        "rules": {
            "holder": {"min_balance": {"asset": "spice", "amount": "100"}},
            "whale": {"min_balance": {"asset": "spice", "amount": "10000"}}
        },
        "roles": [
            {"key": "holder", "name": "Holder", "grant": {"rule": "holder"}, "color": 15844367},
            {"key": "whale", "name": "Whale", "grant": {"rule": "whale"}}
        ]
    })
}

/// Seeds the guild, publishes the shadow manifest, links wallets and mints SPICE.
pub async fn seed(stack: &SynthesisStack, chain: &ChainFixture, members: u64, linked_every: u64) -> MigrationGuild {
    let control = &stack.control;
    let guild = stack.new_guild().await;
    let guild_id: u64 = guild.parse().expect("guild id");
    let role = |name: &str, position: i64, managed: bool, color: u32| RoleSeed {
        name: name.into(),
        position,
        managed,
        color,
        permissions: if managed { 1 << 28 } else { 0 },
        ..Default::default()
    };
    // The incumbent's Holder is blue; the operator's own Moderator sits below the gated roles.
    let seeded = [
        role("Collab.Land", 100, true, 0),
        role("Holder", 90, false, HOLDER_BLUE),
        role("Whale", 80, false, 0),
        role("Moderator", 70, false, 0xE67E22),
    ];
    let roles = control.seed_roles(guild_id, &seeded).await.expect("roles");
    let channels = control
        .seed_channels(
            guild_id,
            &[
                ChannelSeed { name: "arrakis-admin".into(), ..Default::default() },
                ChannelSeed { name: "collabland-join".into(), ..Default::default() },
                ChannelSeed { name: "holders-lounge".into(), ..Default::default() },
            ],
        )
        .await
        .expect("channels");
    // The incumbent's gated channel: hidden from @everyone, shown to its Holder role.
    let http = reqwest::Client::new();
    for (target, allow, deny) in [(guild_id, 0u64, 1u64 << 10), (roles[1], 1 << 10, 0)] {
        let url = format!("http://{}/api/v10/channels/{}/permissions/{target}", stack.sim.api_host(), channels[2]);
        let body = json!({"type": 0, "allow": allow.to_string(), "deny": deny.to_string()});
        let answer =
            http.put(url).header("authorization", format!("Bot {}", crate::SIM_TOKEN)).json(&body).send().await;
        assert!(answer.expect("overwrite").status().is_success(), "the gated channel's overwrite");
    }
    let generate = GenerateMembers { count: members, first_id: FIRST_MEMBER, ..Default::default() };
    control
        .seed_members(guild_id, &MembersSeed { generate: Some(generate), ..Default::default() })
        .await
        .expect("members");
    let mut seeded = vec![MemberSeed {
        id: Some(COLLABLAND_BOT),
        username: Some("Collab.Land".into()),
        bot: true,
        roles: vec![roles[0].to_string()],
        long_standing: true,
    }];
    let (mut wallets, mut holders) = (BTreeMap::new(), BTreeSet::new());
    for n in (0..members).step_by(linked_every as usize) {
        let user = FIRST_MEMBER + n;
        wallets.insert(user, random_wallet());
        holders.insert(user);
        seeded.push(MemberSeed {
            id: Some(user),
            username: None,
            bot: false,
            roles: vec![roles[1].to_string()],
            long_standing: true,
        });
    }
    control.seed_members(guild_id, &MembersSeed { members: seeded, generate: None }).await.expect("holders");
    stack.publish(&guild, manifest(&guild, chain, channels[0]));
    link_wallets(stack, guild_id, &wallets).await;
    let addresses: Vec<Address> = wallets.values().copied().collect();
    chain.mint_erc20_batch(&addresses, crate::member_sync::spice(150)).await;
    MigrationGuild {
        guild,
        incumbent_bot_role: roles[0],
        incumbent_holder: roles[1],
        incumbent_whale: roles[2],
        operator_channel: channels[0],
        wallets,
        holders,
    }
}

/// Writes the shadow record two weeks of syncs would have left: Collab.Land on record (the
/// operator's word), `days` in shadow mode, and `validated` predictions of which `correct`
/// came true.
pub async fn backdate_shadow(stack: &SynthesisStack, g: &MigrationGuild, days: u32, validated: u32, correct: u32) {
    let mut admin = stack.db.admin().await;
    let (community,): (uuid::Uuid,) = sqlx::query_as(
        "UPDATE communities SET incumbent = 'collabland', incumbent_confidence = 1, incumbent_source = 'operator',
             incumbent_checked_at = now(), shadow_since = now() - make_interval(days => $2)
         WHERE guild_id = $1 RETURNING community_id",
    )
    .bind(g.id() as i64)
    .bind(days as i32)
    .fetch_one(&mut admin)
    .await
    .expect("community");
    sqlx::query(
        "INSERT INTO shadow_predictions (community_id, sync_id, discord_user_id, role_key, should_hold, made_at,
             validated_sync, validated_at, correct)
         SELECT $1, 'backdated', n, 'holder', true, now() - interval '2 days', 'backdated-next', now() - interval '1 day', n < $3
         FROM generate_series(0, $2 - 1) AS n",
    )
    .bind(community)
    .bind(i64::from(validated))
    .bind(i64::from(correct))
    .execute(&mut admin)
    .await
    .expect("predictions");
}

/// Runs a migration runbook line for `guild`; the status it answers, as JSON.
pub fn shell(stack: &SynthesisStack, name: &str, guild: &str, extra: &[(&str, &str)]) -> (bool, Value, String) {
    crate::member_sync::shell(stack, name, guild, extra)
}

/// The migration's status (`Value::Null` until it answers).
pub fn status(stack: &SynthesisStack, guild: &str) -> Value {
    shell(stack, "migration-status", guild, &[]).1
}

/// The guild's roles in the stand-in, by name: (id, position, permissions).
pub async fn roles(stack: &SynthesisStack, guild: u64) -> BTreeMap<String, (u64, i64, String)> {
    let state = stack.control.guild(guild).await.expect("guild state");
    state
        .roles
        .iter()
        .filter_map(|r| {
            let id = r["id"].as_str()?.parse().ok()?;
            Some((
                r["name"].as_str()?.to_string(),
                (id, r["position"].as_i64()?, r["permissions"].as_str()?.to_string()),
            ))
        })
        .collect()
}

/// The members `roles` would be granted when `moved` of `batches` batches are moved.
pub fn moved(users: &BTreeSet<u64>, batches: u32, moved: u32) -> BTreeSet<u64> {
    users
        .iter()
        .copied()
        .filter(|u| {
            let id = arrakis_schemas::UserId::new(*u).expect("user id");
            arrakis_schemas::workflows::migration::batch_of(id, batches) < moved
        })
        .collect()
}
