//! Member sync against the real stack (anvil, Postgres, Redis, Temporal) and the stand-in at
//! Discord's limits (50 requests/s, 10 member-role edits per 10 s per guild): roles follow
//! holdings, within seconds of a transfer, and never wrongly.

use alloy::signers::local::PrivateKeySigner;
use arrakis_sim::{ChannelSeed, GenerateMembers, LogEntry, MembersSeed};
use arrakis_tests::{
    SynthesisStack,
    chain::{ChainFixture, TcpRelay, anvil_addr, personal_sign},
    member_sync::{FIRST_MEMBER, Spec, SyncedGuild, held, keep_mining, manifest, seed, shell, spice, status},
    operator::{Operator, challenge_text},
    shadow::{chains_file, chains_file_at},
    wait_until,
};
use futures::StreamExt;
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

const MEMBER_ROLES: &str = "/guilds/{guild_id}/members/{user_id}/roles/{role_id}";

fn member_writes(log: &[LogEntry]) -> Vec<&LogEntry> {
    log.iter().filter(|e| e.route == MEMBER_ROLES).collect()
}

/// Arrakis touched only its own roles, with atomic per-role edits that say why.
fn assert_only_managed_roles(log: &[LogEntry], g: &SyncedGuild) {
    for e in log.iter().filter(|e| e.path.contains("/members/")) {
        assert!(e.route == MEMBER_ROLES, "member edits are per-role PUT/DELETE, never {} {}", e.method, e.route);
        let role: u64 = e.path.rsplit('/').next().and_then(|r| r.parse().ok()).unwrap_or_default();
        assert!(role == g.holder || role == g.whale, "{} {} touches a role outside the manifest", e.method, e.path);
        assert_ne!(role, g.incumbent);
        let reason = e.reason.as_deref().unwrap_or_default();
        assert!(reason.starts_with("Arrakis: member sync, manifest v"), "no audit reason: {e:?}");
    }
}

async fn settled(stack: &SynthesisStack, guild: &str, what: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
    wait_until(Duration::from_secs(secs), what, || async {
        let s = status(stack, guild);
        done(&s).then_some(s)
    })
    .await
}

fn sweep_id(s: &Value) -> String {
    s["last_sweep"]["sweep_id"].as_str().unwrap_or_default().to_string()
}

fn start(stack: &SynthesisStack, guild: &str, settings: &str) {
    let (ok, _, text) = shell(stack, "member-sync-start", guild, &[("SETTINGS", settings)]);
    assert!(ok, "{text}");
}

fn stop(stack: &SynthesisStack, guild: &str) {
    let (ok, _, text) = shell(stack, "member-sync-stop", guild, &[]);
    assert!(ok, "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_members_get_exactly_their_roles_and_a_second_sweep_writes_nothing() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = chains_file(500);
    let worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", chains.to_str().expect("path"))]);
    // 1,000 linked wallets: 50 hold enough for Holder, 10 of them for Whale; three members
    // without a wallet were given Holder by hand.
    let spec = Spec { members: 10_000, linked_every: 10, holder_every: 20, whale_every: 5, hand_given: 3 };
    let g = seed(&stack, &chain, spec).await;
    assert_eq!((g.wallets.len(), g.expected.len()), (1_000, 60));
    let _miner = keep_mining(Duration::from_secs(1));
    let before = stack.control.log(0).await.expect("log").len();
    start(&stack, &g.guild, r#"{"revoke_confirm_secs": 2}"#);
    let roles = [g.holder, g.whale];
    let now = wait_until(Duration::from_secs(300), "the first sweep's roles", || async {
        let now = held(&stack, &g.guild, &roles).await;
        (now == g.expected).then_some(now)
    })
    .await;
    assert_eq!(now, g.expected, "compared whole: exactly the expected (member, role) set");
    let first = settled(&stack, &g.guild, "the writes to drain", 60, |s| {
        s["pending_writes"] == 0 && s["last_sweep"]["tally"]["members"] == 10_000
    })
    .await;
    let t = &first["last_sweep"]["tally"];
    assert_eq!((t["with_wallets"].as_u64(), t["grants"].as_u64()), (Some(1_000), Some(60)), "{first}");
    assert_eq!(first["totals"]["revocations"], 3, "the hand-given roles, after their second read: {first}");
    let log = stack.control.log(0).await.expect("log");
    assert_eq!(member_writes(&log[before..]).len(), 63);
    assert_only_managed_roles(&log[before..], &g);
    let counters = stack.control.counters().await.expect("counters").rate;
    assert_eq!(counters.user_429 + counters.global_429, 0, "paced by Discord's headers, never refused: {counters:?}");

    // The second sweep finds everything in place and sends nothing.
    let after_first = stack.control.log(0).await.expect("log").len();
    let (ok, _, text) = shell(&stack, "member-sync-now", &g.guild, &[]);
    assert!(ok, "{text}");
    let second = settled(&stack, &g.guild, "the second sweep", 120, |s| {
        !sweep_id(s).is_empty() && sweep_id(s) != sweep_id(&first)
    })
    .await;
    assert_eq!(second["last_sweep"]["tally"]["grants"], 0, "{second}");
    let log = stack.control.log(0).await.expect("log");
    assert!(member_writes(&log[after_first..]).is_empty(), "{:?}", member_writes(&log[after_first..]));
    let metrics = arrakis_tests::http_get(worker.http_addr, "/metrics").await.expect("metrics").1;
    assert!(metrics.contains(&format!("arrakis_member_sync_grants_total{{guild=\"{}\"}} 60", g.guild)), "{metrics}");
    stop(&stack, &g.guild);
    worker.shutdown().expect("drains");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_changes_a_role_within_seconds_and_a_revocation_waits_for_its_second_read() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = chains_file(500);
    let worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", chains.to_str().expect("path"))]);
    let spec = Spec { members: 12, linked_every: 1, holder_every: 2, whale_every: 100, hand_given: 0 };
    let g = seed(&stack, &chain, spec).await;
    let _miner = keep_mining(Duration::from_secs(1));
    start(&stack, &g.guild, r#"{"revoke_confirm_secs": 3, "watch_interval_ms": 500, "sweep_interval_secs": 3600}"#);
    let roles = [g.holder, g.whale];
    wait_until(Duration::from_secs(120), "the first sweep's roles", || async {
        (held(&stack, &g.guild, &roles).await == g.expected).then_some(())
    })
    .await;
    let first = settled(&stack, &g.guild, "the watcher to hold a cursor", 60, |s| s["chains"]["31337"].is_u64()).await;

    // A member below the threshold buys enough: the role follows the block, not a sweep.
    let (buyer, wallet) = g
        .wallets
        .iter()
        .find(|(u, _)| !g.expected.contains(&(**u, g.holder)))
        .map(|(u, w)| (*u, *w))
        .expect("a dust holder");
    let bought = Instant::now();
    chain.mint_erc20(wallet, spice(150)).await;
    wait_until(Duration::from_secs(30), "the grant after the transfer", || async {
        held(&stack, &g.guild, &roles).await.contains(&(buyer, g.holder)).then_some(())
    })
    .await;
    let grant_delay = bought.elapsed();

    // A holder sells below it: the role goes after the second negative read, 3 s later.
    let (seller, wallet) = g
        .wallets
        .iter()
        .find(|(u, _)| g.expected.contains(&(**u, g.holder)) && !g.expected.contains(&(**u, g.whale)))
        .map(|(u, w)| (*u, *w))
        .expect("a holder");
    let sold = Instant::now();
    chain.burn_erc20(wallet, spice(100)).await;
    wait_until(Duration::from_secs(45), "the revocation after the transfer", || async {
        (!held(&stack, &g.guild, &roles).await.contains(&(seller, g.holder))).then_some(())
    })
    .await;
    let revoke_delay = sold.elapsed();
    println!("transfer → grant {grant_delay:?}; transfer → revocation {revoke_delay:?} (revoke_confirm 3 s)");
    assert!(revoke_delay >= Duration::from_secs(3), "a revocation waits for its second read: {revoke_delay:?}");
    let after = status(&stack, &g.guild);
    assert_eq!(sweep_id(&after), sweep_id(&first), "neither waited for a sweep: {after}");
    stop(&stack, &g.guild);
    worker.shutdown().expect("drains");
}

/// Signals `wallet_linked` for each of `users`, as the WalletLink workflow does after `/verify`.
async fn signal_links(guild: &str, users: impl Iterator<Item = u64>) {
    use arrakis_schemas::{
        Lenient, UserId,
        temporal::{MemberSync, WalletLinkedSignal},
        workflows::member_sync::WalletLinked,
    };
    let client = arrakis_tests::wizard::temporal_client().await;
    let handle = client.get_workflow_handle::<MemberSync>(format!("member-sync-{guild}"));
    for user in users {
        let linked = WalletLinked { user_id: UserId::new(user).expect("user id"), roles_seen: None };
        handle
            .signal(WalletLinkedSignal, Lenient::new(&linked), temporalio_client::WorkflowSignalOptions::default())
            .await
            .expect("signalled");
    }
}

/// `member` links `key`'s wallet as a member does: `/verify` with the address, the button,
/// the signed challenge in the form.
async fn verify(control: arrakis_sim::SimClient, guild: u64, member: u64, key: &PrivateKeySigner) {
    let member = Operator::member(control, guild, member);
    let address = key.address().to_checksum(None);
    let challenge = member.slash("verify", &[("address", &address)]).await.expect("verify");
    let text = challenge_text(&challenge.content());
    assert_eq!(member.press("verify:sign").await.expect("form").kind(), 9, "the button opens the form");
    let signature = personal_sign(key, &text);
    let linked = member.submit("verify:signature", &[("signature", &signature)]).await.expect("submit");
    assert!(linked.content().contains(&format!("Linked **{address}**")), "{}", linked.content());
}

/// #28's scenario, end to end: a guild of 2,000 with three roles, where 300 members link a
/// wallet through `/verify` (the stand-in delivering the command, the button and the form to
/// the gateway), at Discord's 10 requests per 10 s on every route.
#[tokio::test(flavor = "multi_thread")]
async fn three_hundred_links_through_verify_are_granted_exactly_one_put_per_pair_at_the_guilds_limit() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = chains_file(500);
    let worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", chains.to_str().expect("path"))]);
    let control = &stack.control;
    let guild = stack.new_guild().await;
    let guild_id: u64 = guild.parse().expect("guild id");
    let operator_channel = control
        .seed_channels(guild_id, &[ChannelSeed { name: "arrakis-admin".into(), ..Default::default() }])
        .await
        .expect("channel")[0];
    let generate = GenerateMembers { count: 2_000, first_id: FIRST_MEMBER, ..Default::default() };
    control
        .seed_members(guild_id, &MembersSeed { generate: Some(generate), ..Default::default() })
        .await
        .expect("seed");
    // Holder from 100 SPICE, Elder from 1,000, Whale from 10,000.
    let mut three = manifest(&guild, &chain, operator_channel, 100);
    three["rules"]["elder"] = json!({"min_balance": {"asset": "spice", "amount": "1000"}});
    three["roles"]
        .as_array_mut()
        .expect("roles")
        .push(json!({"key": "elder", "name": "Spice Elder", "grant": {"rule": "elder"}}));
    stack.publish(&guild, three);
    let (ok, text) = stack.shell("synthesis-run", &guild, &[]);
    assert!(ok, "{text}");
    let state = control.guild(guild_id).await.expect("state");
    let role = |name: &str| -> u64 {
        let found = state.roles.iter().find(|r| r["name"] == name).and_then(|r| r["id"].as_str());
        found.and_then(|id| id.parse().ok()).unwrap_or_else(|| panic!("role {name} exists"))
    };
    let roles = [role("Spice Holder"), role("Spice Elder"), role("Spice Whale")];
    // Every 6th member links; of each ten who link, one holds enough for all three roles, one
    // for Holder and Elder, four for Holder, and four too little: 270 pairs.
    let mut keys = BTreeMap::new();
    let mut expected = BTreeSet::new();
    let mut by_amount: BTreeMap<u64, Vec<alloy::primitives::Address>> = BTreeMap::new();
    for k in 0..300u64 {
        let user = FIRST_MEMBER + k * 6;
        let key = PrivateKeySigner::random();
        let (amount, qualifies) = match k % 10 {
            0 => (20_000, 3),
            1 => (1_500, 2),
            2..=5 => (150, 1),
            _ => (10, 0),
        };
        by_amount.entry(amount).or_default().push(key.address());
        expected.extend(roles.iter().take(qualifies).map(|r| (user, *r)));
        keys.insert(user, key);
    }
    for (amount, wallets) in &by_amount {
        chain.mint_erc20_batch(wallets, spice(*amount)).await;
    }
    let pairs = expected.len();
    assert_eq!(pairs, 270);
    stack.control.set_limits(&arrakis_sim::Limits::default()).await.expect("limits");
    let _gateway = stack.gateway().await;
    let _miner = keep_mining(Duration::from_secs(1));
    start(&stack, &guild, r#"{"sweep_interval_secs": 3600}"#);
    settled(&stack, &guild, "the first sweep", 120, |s| !sweep_id(s).is_empty() && s["pending_writes"] == 0).await;
    assert!(held(&stack, &guild, &roles).await.is_empty(), "nobody is linked yet");
    let log_start = control.log(0).await.expect("log").len();
    let single_reads = || async { control.reads("/guilds/{guild_id}/members/{user_id}").await.expect("reads").len() };
    let pages = || async { control.reads("/guilds/{guild_id}/members").await.expect("reads").len() };
    let (reads_before, pages_before) = (single_reads().await, pages().await);

    // Members verify four at a time (about four links a second), as an announcement brings
    // them in. At ten at a time the debug-built worker on two cores is saturated by the
    // WalletLink workflows' tasks and member sync's own task waits its turn (see #28's note).
    let started = Instant::now();
    let linking = tokio::spawn({
        let (control, keys) = (control.clone(), keys.clone());
        async move {
            let links = futures::stream::iter(keys.into_iter()).map(|(user, key)| {
                let control = control.clone();
                async move {
                    verify(control, guild_id, user, &key).await;
                    started.elapsed()
                }
            });
            links.buffer_unordered(4).collect::<Vec<Duration>>().await
        }
    });
    let (first_grant, queued_seen) = (std::cell::Cell::new(None), std::cell::Cell::new(false));
    let last = wait_until(Duration::from_secs(600), "every pair granted", || async {
        if status(&stack, &guild)["pending_writes"].as_u64().is_some_and(|n| n > 0) {
            queued_seen.set(true);
        }
        let now = held(&stack, &guild, &roles).await;
        if first_grant.get().is_none() && !now.is_empty() {
            first_grant.set(Some(started.elapsed()));
        }
        (now == expected).then(|| started.elapsed())
    })
    .await;
    let links = linking.await.expect("every member linked");
    let (first_grant, queued_seen) = (first_grant.get().expect("a first grant"), queued_seen.get());
    let first_link = links.iter().min().copied().expect("links");
    let last_link = links.iter().max().copied().expect("links");
    let first = first_grant.saturating_sub(first_link);
    let drain = last.saturating_sub(first_link);
    // The guild's member-role limit is 1 a second: the last grant within pairs × 1 s × 1.1.
    let limit = Duration::from_secs_f64(pairs as f64 * 1.1);
    let log = control.log(log_start as u64).await.expect("log");
    let puts = member_writes(&log).iter().filter(|e| e.method == "PUT").count();
    let (single, paged) = (single_reads().await - reads_before, pages().await - pages_before);
    // Member sync's own requests: every write, and every read of members (the interactions'
    // answers are the gateway's).
    let writes = log.iter().filter(|e| !e.route.starts_with("/interactions/") && !e.route.starts_with("/webhooks/"));
    let requests = writes.count() + single + paged;
    println!(
        "| links | pairs | links took | first grant after the first link | drain | drain ÷ (pairs at 1/s) | member-role PUTs | member pages read | single member reads | member-sync requests per pair |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| 300 | {pairs} | {last_link:.1?} | {first:.1?} | {drain:.1?} | {:.2} | {puts} | {paged} | {single} | {:.2} |",
        drain.as_secs_f64() / pairs as f64,
        requests as f64 / pairs as f64
    );
    assert!(first <= Duration::from_secs(5), "the first grant came {first:?} after the first link");
    assert!(drain <= limit, "the last grant came {drain:?} after the first link, over {limit:?}");
    assert_eq!(single, 0, "the links carried the members' roles: no member is read one GET at a time");
    assert_eq!(puts, pairs, "one PUT per pair: the echo of a member's first grant does not ask for it again");
    assert!(queued_seen, "status showed the queue while it drained");
    for e in log.iter().filter(|e| e.path.contains("/members/")) {
        assert_eq!(e.route, MEMBER_ROLES, "{} {}", e.method, e.path);
        let role: u64 = e.path.rsplit('/').next().and_then(|r| r.parse().ok()).unwrap_or_default();
        assert!(roles.contains(&role), "{} {} touches a role outside the manifest", e.method, e.path);
    }
    let counters = control.counters().await.expect("counters").rate;
    assert_eq!(counters.user_429 + counters.global_429, 0, "paced by Discord's headers, never refused: {counters:?}");
    stop(&stack, &guild);
    worker.shutdown().expect("drains");
}

#[tokio::test(flavor = "multi_thread")]
async fn transfers_while_the_first_write_queue_drains_are_acted_on_without_waiting_for_a_sweep() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = chains_file(500);
    let worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", chains.to_str().expect("path"))]);
    // 40 holders: the first queue takes about 40 s at the guild's 10 member-role edits per 10 s.
    let spec = Spec { members: 40, linked_every: 1, holder_every: 1, whale_every: 1_000, hand_given: 0 };
    let g = seed(&stack, &chain, spec).await;
    let _miner = keep_mining(Duration::from_secs(1));
    // The breaker is not what this test is about: five sellers of 40 would trip it.
    let settings = r#"{"revoke_confirm_secs": 2, "watch_interval_ms": 500, "sweep_interval_secs": 3600,
                       "breaker_min_revocations": 100}"#;
    start(&stack, &g.guild, settings);
    let roles = [g.holder, g.whale];
    let draining = settled(&stack, &g.guild, "the first write queue", 60, |s| {
        !sweep_id(s).is_empty() && s["pending_writes"].as_u64().is_some_and(|n| n > 20)
    })
    .await;

    // Five holders sell while the queue drains: whether or not their grant was written yet,
    // they end without the role, long before the next sweep (an hour away).
    let sellers: Vec<(u64, alloy::primitives::Address)> =
        g.wallets.iter().rev().take(5).map(|(u, w)| (*u, *w)).collect();
    for (_, wallet) in &sellers {
        chain.burn_erc20(*wallet, spice(150)).await;
    }
    let sold = Instant::now();
    let expected: std::collections::BTreeSet<(u64, u64)> =
        g.expected.iter().filter(|(u, _)| !sellers.iter().any(|(s, _)| s == u)).copied().collect();
    let queue = draining["pending_writes"].as_u64().unwrap_or_default();
    wait_until(Duration::from_secs(queue + 60), "the sellers' roles to go and the rest to be granted", || async {
        (held(&stack, &g.guild, &roles).await == expected).then_some(())
    })
    .await;
    let after = status(&stack, &g.guild);
    assert_eq!(sweep_id(&after), sweep_id(&draining), "no second sweep was needed: {after}");
    println!("sold during a queue of {queue}: every pair right {:.1?} after the sales", sold.elapsed());
    stop(&stack, &g.guild);
    worker.shutdown().expect("drains");
}

/// Waits until the alert `posted` was edited to say `outcome` and lost its buttons.
async fn closed_with(stack: &SynthesisStack, channel: u64, posted: &Value, outcome: &str) {
    let id = posted["id"].clone();
    wait_until(Duration::from_secs(30), "the alert edited to say how its batch ended", || async {
        let messages = stack.control.channel_messages(channel).await.expect("messages");
        let now = messages.into_iter().find(|m| m["id"] == id)?;
        let content = now["content"].as_str().unwrap_or_default();
        (content.contains(outcome) && arrakis_sim::custom_ids(&now).is_empty()).then_some(())
    })
    .await;
}

/// Every role of the guild by name, lowest first.
async fn role_order(stack: &SynthesisStack, guild_id: u64) -> Vec<String> {
    let state = stack.control.guild(guild_id).await.expect("state");
    let mut roles: Vec<(i64, String)> = state
        .roles
        .iter()
        .filter(|r| r["id"].as_str() != Some(guild_id.to_string().as_str()))
        .map(|r| (r["position"].as_i64().unwrap_or_default(), r["name"].as_str().unwrap_or_default().to_string()))
        .collect();
    roles.sort();
    roles.into_iter().map(|(_, name)| name).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_deleted_by_hand_is_recreated_in_its_place_and_given_back_to_its_holders() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = chains_file(500);
    let worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", chains.to_str().expect("path"))]);
    // 100 Holders.
    let spec = Spec { members: 300, linked_every: 3, holder_every: 1, whale_every: 1_000, hand_given: 0 };
    let g = seed(&stack, &chain, spec).await;
    let guild_id: u64 = g.guild.parse().expect("id");
    // 10 per 10 s on every route, as the independent stand-in allows.
    stack.control.set_limits(&arrakis_sim::Limits::default()).await.expect("limits");
    let _gateway = stack.gateway().await;
    let _miner = keep_mining(Duration::from_secs(1));
    start(&stack, &g.guild, r#"{"sweep_interval_secs": 3600}"#);
    let roles = [g.holder, g.whale];
    wait_until(Duration::from_secs(180), "the first sweep's roles", || async {
        (held(&stack, &g.guild, &roles).await == g.expected).then_some(())
    })
    .await;
    settled(&stack, &g.guild, "the writes to drain", 60, |s| s["pending_writes"] == 0).await;
    let order = role_order(&stack, guild_id).await;
    let holders = g.expected.iter().filter(|(_, r)| *r == g.holder).count();
    assert_eq!(holders, 100);

    // Deleted by hand: Discord takes it from all 100.
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v10", stack.sim.api_host());
    let deleted = http
        .delete(format!("{base}/guilds/{}/roles/{}", g.guild, g.holder))
        .header("authorization", format!("Bot {}", arrakis_tests::SIM_TOKEN))
        .send()
        .await
        .expect("delete");
    assert!(deleted.status().is_success());
    let log_start = stack.control.log(0).await.expect("log").len();
    let (ok, text) = stack.shell("reconcile-apply", &g.guild, &[]);
    assert!(ok && text.contains(r#""applied":1"#), "{text}");
    let reconciled = Instant::now();
    let state = stack.control.guild(guild_id).await.expect("state");
    let recreated: u64 = state
        .roles
        .iter()
        .find(|r| r["name"] == "Spice Holder")
        .and_then(|r| r["id"].as_str()?.parse().ok())
        .expect("the role is back");
    assert_ne!(recreated, g.holder);
    assert_eq!(role_order(&stack, guild_id).await, order, "the recreated role is back in its place");

    // Member sync gives it back to every holder, at the guild's limit.
    let expected: std::collections::BTreeSet<(u64, u64)> =
        g.expected.iter().map(|(u, r)| (*u, if *r == g.holder { recreated } else { *r })).collect();
    let limit = Duration::from_secs_f64(holders as f64 * 1.1);
    wait_until(limit + Duration::from_secs(10), "every holder to have the recreated role", || async {
        (held(&stack, &g.guild, &[recreated, g.whale]).await == expected).then_some(())
    })
    .await;
    let took = reconciled.elapsed();
    let log = stack.control.log(log_start as u64).await.expect("log");
    let writes = member_writes(&log);
    let dead = writes.iter().filter(|e| e.path.ends_with(&format!("/{}", g.holder))).count();
    println!(
        "role recreated: {holders} holders given it back in {took:.1?} (limit {limit:.1?}); {} member-role writes, {dead} to the dead id",
        writes.len()
    );
    assert!(took <= limit, "{took:?} over {limit:?}");
    assert_eq!(dead, 0, "nothing is written to the deleted role's id");
    assert_eq!(writes.len(), holders, "one PUT per holder");
    stop(&stack, &g.guild);
    worker.shutdown().expect("drains");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_every_rpc_url_dead_a_sweep_revokes_nothing_and_names_the_chain() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let relay = TcpRelay::start(anvil_addr()).await;
    let chains = chains_file_at(&relay.url(), 500);
    let worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", chains.to_str().expect("path"))]);
    let spec = Spec { members: 12, linked_every: 1, holder_every: 1, whale_every: 100, hand_given: 0 };
    let g = seed(&stack, &chain, spec).await;
    let _miner = keep_mining(Duration::from_secs(1));
    start(&stack, &g.guild, r#"{"revoke_confirm_secs": 1, "sweep_interval_secs": 3600}"#);
    let roles = [g.holder, g.whale];
    wait_until(Duration::from_secs(120), "the first sweep's roles", || async {
        (held(&stack, &g.guild, &roles).await == g.expected).then_some(())
    })
    .await;
    let first = settled(&stack, &g.guild, "the writes to drain", 60, |s| s["pending_writes"] == 0).await;
    // Every holder's tokens are gone, and Arrakis cannot read the chain to know it.
    relay.kill();
    for wallet in g.wallets.values() {
        chain.burn_erc20(*wallet, spice(150)).await;
    }
    let before = stack.control.log(0).await.expect("log").len();
    let (ok, _, text) = shell(&stack, "member-sync-now", &g.guild, &[]);
    assert!(ok, "{text}");
    let after = settled(&stack, &g.guild, "a sweep through the outage", 120, |s| sweep_id(s) != sweep_id(&first)).await;
    assert!(
        after["unknown_chains"]["31337"].as_str().is_some_and(|why| why.contains("no RPC endpoint answered")),
        "{after}"
    );
    assert_eq!(after["last_sweep"]["tally"]["first_negatives"], 0, "{after}");
    assert!(after["last_sweep"]["tally"]["unknown"].as_u64().unwrap_or(0) >= 12, "{after}");
    tokio::time::sleep(Duration::from_secs(3)).await; // past revoke_confirm: nothing may follow
    let log = stack.control.log(0).await.expect("log");
    assert!(member_writes(&log[before..]).is_empty(), "0 revocations: {:?}", member_writes(&log[before..]));
    assert_eq!(held(&stack, &g.guild, &roles).await, g.expected);
    stop(&stack, &g.guild);
    worker.shutdown().expect("drains");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_change_that_would_strip_half_the_holders_is_held_until_the_operator_decides() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = chains_file(500);
    let worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", chains.to_str().expect("path"))]);
    // 24 holders; half are whales (20,000 SPICE), half hold 150.
    let spec = Spec { members: 24, linked_every: 1, holder_every: 1, whale_every: 2, hand_given: 0 };
    let g = seed(&stack, &chain, spec).await;
    // 10 per 10 s on every route, as the independent stand-in allows.
    stack.control.set_limits(&arrakis_sim::Limits::default()).await.expect("limits");
    let _gateway = stack.gateway().await;
    let _miner = keep_mining(Duration::from_secs(1));
    start(&stack, &g.guild, r#"{"revoke_confirm_secs": 2, "sweep_interval_secs": 3600}"#);
    let roles = [g.holder, g.whale];
    wait_until(Duration::from_secs(120), "the first sweep's roles", || async {
        (held(&stack, &g.guild, &roles).await == g.expected).then_some(())
    })
    .await;
    settled(&stack, &g.guild, "the writes to drain", 60, |s| s["pending_writes"] == 0).await;

    // Holder now needs 1,000 SPICE: the 12 who hold 150 would lose it, half of its holders.
    let messages_before = stack.control.channel_messages(g.operator_channel).await.expect("messages").len();
    stack.publish(&g.guild, manifest(&g.guild, &chain, g.operator_channel, 1_000));
    let s = settled(&stack, &g.guild, "the breaker to hold", 120, |s| s["held"]["count"] == 12).await;
    assert_eq!(s["held"]["roles"][0], serde_json::json!(["holder", 12, 24]), "{s}");
    assert_eq!(held(&stack, &g.guild, &roles).await, g.expected, "held: nobody lost a role");
    // The alert is posted after the batch is held: wait for it rather than race it.
    let alert = wait_until(Duration::from_secs(30), "the breaker's alert", || async {
        let messages = stack.control.channel_messages(g.operator_channel).await.expect("messages");
        messages
            .into_iter()
            .skip(messages_before)
            .find(|m| m["content"].as_str().is_some_and(|c| c.contains("held 12 role removal(s)")))
    })
    .await;
    let buttons = arrakis_sim::custom_ids(&alert);
    assert!(
        buttons.iter().any(|b| b.starts_with("ms:confirm:")) && buttons.iter().any(|b| b.starts_with("ms:discard:")),
        "{buttons:?}"
    );

    // Confirm applies them; the audit log says who, and the alert says how its batch ended.
    let (ok, _, text) = shell(&stack, "member-sync-confirm", &g.guild, &[("REASON", "raised the bar")]);
    assert!(ok, "{text}");
    closed_with(&stack, g.operator_channel, &alert, "Confirmed by cli:tester** (raised the bar): 12 removal(s)").await;
    let expected: std::collections::BTreeSet<(u64, u64)> =
        g.expected.iter().filter(|(u, r)| *r == g.whale || g.expected.contains(&(*u, g.whale))).copied().collect();
    wait_until(Duration::from_secs(60), "the confirmed revocations", || async {
        (held(&stack, &g.guild, &roles).await == expected).then_some(())
    })
    .await;

    // After the batch the loop goes idle: nothing due, so nothing asked of Discord (#28: the
    // echoes of its DELETEs used to re-record negatives that were due for ever).
    settled(&stack, &g.guild, "the queues to empty", 60, |s| {
        s["pending_writes"] == 0 && s["queued"] == 0 && s["pending_revocations"] == 0
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let quiet_from = stack.control.log(0).await.expect("log").len() as u64;
    let window = Duration::from_secs(60);
    tokio::time::sleep(window).await;
    let asked: Vec<String> = stack
        .control
        .log(quiet_from)
        .await
        .expect("log")
        .into_iter()
        .filter(|e| e.path.contains(&g.guild))
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    assert!(asked.is_empty(), "an idle sync asks Discord nothing in {window:?}: {asked:?}");
    // A grant due afterwards still goes out at once: a whale's role removed by hand comes back.
    let (whale_member, _) = *expected.iter().find(|(_, r)| *r == g.whale).expect("a whale");
    let theirs: Vec<u64> = expected.iter().filter(|(u, _)| *u == whale_member).map(|(_, r)| *r).collect();
    let guild_id: u64 = g.guild.parse().expect("id");
    let removed_at = Instant::now();
    let others: Vec<u64> = theirs.iter().copied().filter(|r| *r != g.whale).collect();
    stack.control.set_member_roles(guild_id, whale_member, &others).await.expect("hand edit");
    wait_until(Duration::from_secs(5), "the whale role back within 5 s", || async {
        (held(&stack, &g.guild, &roles).await == expected).then_some(())
    })
    .await;
    println!("idle window: 0 requests in {window:?}; a grant after it landed in {:?}", removed_at.elapsed());

    // Whales now need 100,000 to hold Holder too: every holder would lose it. Discard keeps them.
    stack.publish(&g.guild, manifest(&g.guild, &chain, g.operator_channel, 100_000));
    let again = settled(&stack, &g.guild, "the breaker to hold again", 120, |s| s["held"]["count"] == 12).await;
    // The first alert's Confirm, pressed now: that batch is gone, so nothing is removed (#28).
    let stale = buttons.iter().find(|b| b.starts_with("ms:confirm:")).expect("the first alert's Confirm");
    assert!(!stale.ends_with(again["held"]["batch"].as_str().unwrap_or_default()), "a new batch: {again}");
    let operator =
        arrakis_tests::operator::Operator::admin(stack.control.clone(), g.guild.parse().expect("id"), 900, None);
    let refused = operator.press(stale).await.expect("an answer");
    assert!(
        refused.content().contains("is no longer held") && refused.content().contains("nothing changed"),
        "{}",
        refused.content()
    );
    let s = status(&stack, &g.guild);
    assert_eq!((&s["held"]["batch"], &s["held"]["count"]), (&again["held"]["batch"], &again["held"]["count"]), "{s}");
    assert_eq!(held(&stack, &g.guild, &roles).await, expected, "a stale Confirm removed nobody's role");
    let second = stack
        .control
        .channel_messages(g.operator_channel)
        .await
        .expect("messages")
        .into_iter()
        .rfind(|m| {
            arrakis_sim::custom_ids(m).iter().any(|b| b.ends_with(again["held"]["batch"].as_str().unwrap_or("?")))
        })
        .expect("the second alert");
    let (ok, _, text) = shell(&stack, "member-sync-discard", &g.guild, &[("REASON", "a bad rule")]);
    assert!(ok, "{text}");
    closed_with(&stack, g.operator_channel, &second, "Discarded by cli:tester** (a bad rule)").await;
    let s = settled(&stack, &g.guild, "the discard", 60, |s| s["held"].is_null()).await;
    assert_eq!(s["totals"]["discarded"], 12, "{s}");
    assert_eq!(held(&stack, &g.guild, &roles).await, expected, "discarded: nobody else lost a role");
    // Discard sticks: the next two sweeps hold nothing and take nothing (#28).
    let mut last = sweep_id(&s);
    for n in 1..=2 {
        let (ok, _, text) = shell(&stack, "member-sync-now", &g.guild, &[]);
        assert!(ok, "{text}");
        let s = settled(&stack, &g.guild, "the sweep after the discard", 120, |s| {
            sweep_id(s) != last && s["sweep"].is_null() && s["pending_revocations"] == 0
        })
        .await;
        last = sweep_id(&s);
        // Past revoke_confirm (2 s) and a block: a negative noted by the sweep would be held now.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let s = status(&stack, &g.guild);
        assert!(s["held"].is_null() && s["pending_revocations"] == 0, "sweep {n} after Discard held nothing: {s}");
        assert_eq!(s["totals"]["discarded"], 12, "{s}");
        assert_eq!(held(&stack, &g.guild, &roles).await, expected, "sweep {n}: the kept roles stay");
    }
    let (ok, _, text) =
        shell(&stack, "member-sync-held", &g.guild, &[("ARRAKIS_SERVICE_DATABASE_URL", stack.db.service_url.as_str())]);
    assert!(ok, "{text}");
    for (actor, action) in
        [("cli:tester", "member_sync.revocations_confirmed"), ("cli:tester", "member_sync.revocations_discarded")]
    {
        assert!(
            text.lines().any(|l| l.contains(actor) && l.contains(action)),
            "the audit rows say who decided: {text}"
        );
    }
    // What an operator alerts on counts the same: 12 confirmed revocations, twice 12 held.
    let metrics = arrakis_tests::http_get(worker.http_addr, "/metrics").await.expect("metrics").1;
    for (series, value) in [("revocations", 12), ("held_revocations", 24)] {
        let line = format!("arrakis_member_sync_{series}_total{{guild=\"{}\"}} {value}", g.guild);
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
    stop(&stack, &g.guild);
    worker.shutdown().expect("drains");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_sync_leaves_the_exact_roles_and_repeats_no_write_but_the_one_in_flight() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = chains_file(500);
    let chains_env = chains.to_str().expect("path").to_string();
    let worker = stack.worker_with(&[("ARRAKIS_CHAINS", chains_env.as_str())]);
    let spec = Spec { members: 2_500, linked_every: 100, holder_every: 1, whale_every: 5, hand_given: 0 };
    let g = seed(&stack, &chain, spec).await;
    let _miner = keep_mining(Duration::from_secs(1));
    let before = stack.control.log(0).await.expect("log").len();
    start(&stack, &g.guild, r#"{"revoke_confirm_secs": 2}"#);
    wait_until(Duration::from_secs(120), "a few writes", || async {
        (member_writes(&stack.control.log(before as u64).await.expect("log")).len() >= 6).then_some(())
    })
    .await;
    worker.kill();
    let restarted = stack.worker_with(&[("ARRAKIS_CHAINS", chains_env.as_str())]);
    let roles = [g.holder, g.whale];
    wait_until(Duration::from_secs(180), "the roles after the restart", || async {
        (held(&stack, &g.guild, &roles).await == g.expected).then_some(())
    })
    .await;
    let log = stack.control.log(0).await.expect("log");
    let mut sent: BTreeMap<(String, String), u32> = BTreeMap::new();
    for e in member_writes(&log[before..]) {
        *sent.entry((e.method.clone(), e.path.clone())).or_default() += 1;
    }
    let repeated: Vec<_> = sent.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.len() <= 1 && repeated.iter().all(|(_, n)| **n == 2),
        "at most the write in flight, once: {repeated:?}"
    );
    assert_eq!(sent.len(), g.expected.len());
    stop(&stack, &g.guild);
    drop(restarted);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_the_worker_in_every_phase_repeats_no_write_but_one_in_flight_per_kill() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = chains_file(500);
    let chains_env = chains.to_str().expect("path").to_string();
    let env = [("ARRAKIS_CHAINS", chains_env.as_str())];
    // 150 members: every 3rd links a wallet holding enough for Holder (50), every 4th of those
    // for Whale too. 15 of the wallets are linked only later, in a burst (the re-check phase).
    let spec = Spec { members: 150, linked_every: 3, holder_every: 1, whale_every: 4, hand_given: 0 };
    let worker = stack.worker_with(&env);
    let g = seed(&stack, &chain, spec).await;
    let late: BTreeMap<u64, alloy::primitives::Address> =
        g.wallets.iter().rev().take(15).map(|(u, w)| (*u, *w)).collect();
    let mut admin = stack.db.admin().await;
    let users: Vec<i64> = late.keys().map(|u| *u as i64).collect();
    sqlx::query("DELETE FROM wallet_links WHERE discord_user_id = ANY($1)")
        .bind(&users)
        .execute(&mut admin)
        .await
        .expect("unlink");
    stack.control.set_limits(&arrakis_sim::Limits::default()).await.expect("limits");
    let _miner = keep_mining(Duration::from_secs(1));
    let before = stack.control.log(0).await.expect("log").len();
    let roles = [g.holder, g.whale];
    let mut kills = 0;

    // Planning: killed as the first sweep is being planned.
    start(&stack, &g.guild, r#"{"revoke_confirm_secs": 2, "sweep_interval_secs": 3600}"#);
    tokio::time::sleep(Duration::from_millis(300)).await;
    worker.kill();
    kills += 1;
    // Writing: killed with the first queue half written.
    let worker = stack.worker_with(&env);
    wait_until(Duration::from_secs(180), "a few writes", || async {
        (member_writes(&stack.control.log(before as u64).await.expect("log")).len() >= 20).then_some(())
    })
    .await;
    worker.kill();
    kills += 1;
    let worker = stack.worker_with(&env);
    let early: std::collections::BTreeSet<(u64, u64)> =
        g.expected.iter().filter(|(u, _)| !late.contains_key(u)).copied().collect();
    wait_until(Duration::from_secs(240), "the first queue's roles", || async {
        (held(&stack, &g.guild, &roles).await == early).then_some(())
    })
    .await;
    // Re-checking: killed while a burst of links is read and decided.
    arrakis_tests::member_sync::link_wallets(&stack, g.guild.parse().expect("id"), &late).await;
    signal_links(&g.guild, late.keys().copied()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    worker.kill();
    kills += 1;
    let worker = stack.worker_with(&env);
    wait_until(Duration::from_secs(180), "every pair", || async {
        (held(&stack, &g.guild, &roles).await == g.expected).then_some(())
    })
    .await;
    // Held: killed while the breaker holds a batch; the decision after the restart applies it.
    stack.publish(&g.guild, manifest(&g.guild, &chain, g.operator_channel, 1_000));
    let s =
        settled(&stack, &g.guild, "the breaker to hold", 180, |s| s["held"]["count"].as_u64().is_some_and(|n| n > 0))
            .await;
    worker.kill();
    kills += 1;
    let restarted = stack.worker_with(&env);
    let (ok, _, text) = shell(&stack, "member-sync-confirm", &g.guild, &[("REASON", "chaos drill")]);
    assert!(ok, "{text}");
    let whales: std::collections::BTreeSet<(u64, u64)> =
        g.expected.iter().filter(|(u, _)| g.expected.contains(&(*u, g.whale))).copied().collect();
    wait_until(Duration::from_secs(240), "the held batch applied after the restart", || async {
        (held(&stack, &g.guild, &roles).await == whales).then_some(())
    })
    .await;

    let log = stack.control.log(0).await.expect("log");
    let mut sent: BTreeMap<(String, String), u32> = BTreeMap::new();
    for e in member_writes(&log[before..]) {
        *sent.entry((e.method.clone(), e.path.clone())).or_default() += 1;
    }
    let repeated: u32 = sent.values().map(|n| n - 1).sum();
    let held_count = s["held"]["count"].as_u64().unwrap_or_default() as usize;
    println!(
        "chaos: {kills} kills (planning, writing, re-checking, held); {} member-role writes for {} pairs and {held_count} removals; {repeated} repeated",
        sent.values().sum::<u32>(),
        g.expected.len()
    );
    assert!(repeated <= kills, "at most the write in flight repeats, once per kill: {repeated} over {kills} kills");
    assert_eq!(sent.len(), g.expected.len() + held_count, "every pair written, and nothing else");
    stop(&stack, &g.guild);
    drop(restarted);
}

#[tokio::test(flavor = "multi_thread")]
async fn shadow_mode_writes_nothing_and_a_frozen_guild_writes_nothing_until_lifted_then_catches_up() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = chains_file(500);
    let worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", chains.to_str().expect("path"))]);
    let spec = Spec { members: 10, linked_every: 1, holder_every: 1, whale_every: 100, hand_given: 0 };
    let shadow = seed(&stack, &chain, spec).await;
    let frozen = seed(&stack, &chain, spec).await;
    let _miner = keep_mining(Duration::from_secs(1));
    let env = |guild: &str| vec![("ARRAKIS_TASK_QUEUE", stack.task_queue.clone()), ("GUILD_ID", guild.to_string())];

    // Shadow mode: the same manifest, in shadow mode.
    let mut in_shadow = manifest(&shadow.guild, &chain, shadow.operator_channel, 100);
    in_shadow["mode"] = "shadow".into();
    stack.publish(&shadow.guild, in_shadow);
    // Frozen: the guild's kill switch.
    let freeze = |guild: &str, frozen: bool| {
        format!(
            "temporal workflow execute --type KillSwitch --task-queue \"$ARRAKIS_TASK_QUEUE\" --workflow-id kill-switch-{guild} \
             --input '{{\"guild_id\": \"{guild}\", \"frozen\": {frozen}, \"reason\": \"test\", \"actor\": \"cli:test\"}}'"
        )
    };
    let e = env(&frozen.guild);
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = arrakis_tests::run_shell(&freeze(&frozen.guild, true), &e);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let before = stack.control.log(0).await.expect("log").len();
    start(&stack, &shadow.guild, r#"{"sweep_interval_secs": 3600}"#);
    start(&stack, &frozen.guild, r#"{"sweep_interval_secs": 3600}"#);
    let s = settled(&stack, &shadow.guild, "shadow mode to be named", 60, |s| {
        s["closed"].as_str().is_some_and(|c| c.contains("shadow mode"))
    })
    .await;
    assert_eq!(s["phase"], "closed", "{s}");
    let f = settled(&stack, &frozen.guild, "the freeze to hold the writes", 60, |s| {
        s["pending_writes"].as_u64().unwrap_or(0) > 0 && s["closed"].as_str().is_some_and(|c| c.contains("frozen"))
    })
    .await;
    assert_eq!(f["last_sweep"]["tally"]["grants"], frozen.expected.len(), "decided, not written: {f}");
    let log = stack.control.log(0).await.expect("log");
    assert!(member_writes(&log[before..]).is_empty(), "0 mutating requests: {:?}", member_writes(&log[before..]));

    let out = arrakis_tests::run_shell(&freeze(&frozen.guild, false), &e);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let roles = [frozen.holder, frozen.whale];
    wait_until(Duration::from_secs(120), "the frozen guild to catch up", || async {
        (held(&stack, &frozen.guild, &roles).await == frozen.expected).then_some(())
    })
    .await;
    let log = stack.control.log(0).await.expect("log");
    let shadow_writes = member_writes(&log[before..]).iter().filter(|e| e.path.contains(&shadow.guild)).count();
    assert_eq!(shadow_writes, 0, "shadow mode stays untouched");
    for g in [&shadow, &frozen] {
        stop(&stack, &g.guild);
    }
    worker.shutdown().expect("drains");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_to_every_update_and_signal_is_refused_by_field_and_changes_nothing() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = chains_file(500);
    let worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", chains.to_str().expect("path"))]);
    let spec = Spec { members: 4, linked_every: 1, holder_every: 1, whale_every: 100, hand_given: 0 };
    let g = seed(&stack, &chain, spec).await;
    let env = [("ARRAKIS_TASK_QUEUE", stack.task_queue.as_str()), ("GUILD_ID", g.guild.as_str())];
    let cli = |line: String| {
        let out = arrakis_tests::run_shell(&line, &env);
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };
    // Starts that cannot run fail at once, naming the field.
    for (input, field) in [
        (r#"{"guild_id": "nope"}"#.to_string(), "guild_id"),
        (
            format!(r#"{{"guild_id": "{}", "settings": {{"sweep_interval_secs": 1}}}}"#, g.guild),
            "settings.sweep_interval_secs",
        ),
        (format!(r#"{{"guild_id": "{}", "settings": {{"revoke_confim_secs": 1}}}}"#, g.guild), "revoke_confim_secs"),
    ] {
        let (ok, text) = cli(format!(
            "temporal workflow execute --type MemberSync --task-queue \"$ARRAKIS_TASK_QUEUE\" --workflow-id member-sync-bad-{} --input '{input}'",
            uuid::Uuid::new_v4().simple()
        ));
        assert!(!ok && text.contains(field), "{field}: {text}");
    }
    start(&stack, &g.guild, r#"{"sweep_interval_secs": 3600}"#);
    let before =
        settled(&stack, &g.guild, "the first sweep", 120, |s| !sweep_id(s).is_empty() && s["pending_writes"] == 0)
            .await;
    let update = |name: &str, input: &str| {
        cli(format!(
            "temporal workflow update execute --workflow-id member-sync-$GUILD_ID --name {name} --input '{input}'"
        ))
    };
    for (name, input, why) in [
        ("sync_now", r#"{"dry_run": "yes"}"#, "dry_run"),
        ("sync_now", r#"{"actor": ""}"#, "actor"),
        ("sync_now", r#"{"actor": "cli:x", "force": true}"#, "force"),
        ("confirm_revocations", r#"{"actor": "cli:x"}"#, "no revocations are held"),
        ("discard_revocations", r#""now""#, "invalid type"),
        ("pause", &format!(r#"{{"actor": "cli:x", "reason": "{}"}}"#, "r".repeat(501)), "reason"),
        ("pause", &format!(r#"{{"actor": "{}"}}"#, "a".repeat(101)), "actor"),
        ("resume", r#"{"actor": "cli:x"}"#, "not paused"),
        ("stop", r#"{"actor": "\u200b\u200b"}"#, "actor"),
        // An array is not an object: read by position it once stopped the sync (#27).
        ("stop", "[]", "expected a JSON object"),
        ("pause", r#"["cli:x", "maintenance"]"#, "expected a JSON object"),
    ] {
        let (ok, text) = update(name, input);
        assert!(!ok && text.contains(why), "{name} {input}: {text}");
    }
    // Signals take any payload: garbage is dropped and the run carries on. (`manifest_published`
    // is a nudge whatever it carries: it sweeps again, so it is not garbage here.)
    for (name, input) in [
        ("member_event", r#"{"kind": 7}"#),
        ("wallet_linked", r#""x""#),
        ("sync_member", r#"{}"#),
        ("member_event", "[1,2]"),
    ] {
        let (ok, text) = cli(format!(
            "temporal workflow signal --workflow-id member-sync-$GUILD_ID --name {name} --input '{input}'"
        ));
        assert!(ok, "{name}: {text}");
    }
    // What the SDK could not even decode (no input, two, binary, nested too deep) is dropped too.
    for signal in ["member_event", "wallet_linked", "sync_member"] {
        arrakis_tests::send_garbage(&format!("member-sync-{}", g.guild), signal);
    }
    for (what, flags) in arrakis_tests::undecodable_inputs() {
        let (ok, text) =
            cli(format!("temporal workflow update execute --workflow-id member-sync-$GUILD_ID --name pause {flags}"));
        // Refused by the validator, the field named; the run's task never fails.
        assert!(!ok && text.contains("unable to update workflow: ") && text.contains(':'), "pause with {what}: {text}");
    }
    let after = settled(&stack, &g.guild, "the run to answer after the garbage", 30, |s| s["phase"].is_string()).await;
    assert_eq!(after["last_sweep"], before["last_sweep"], "the refused inputs changed nothing");
    assert!(after["paused"].is_null() && after["held"].is_null());
    // And it still takes good input: the runbook's pause and resume.
    let (ok, _, text) = shell(&stack, "member-sync-pause", &g.guild, &[]);
    assert!(ok && text.contains("maintenance"), "{text}");
    let paused = settled(&stack, &g.guild, "the pause", 30, |s| s["paused"].is_object()).await;
    assert_eq!(paused["paused"]["by"], "cli:tester", "{paused}");
    let (ok, _, text) = shell(&stack, "member-sync-resume", &g.guild, &[]);
    assert!(ok, "{text}");
    settled(&stack, &g.guild, "the resume", 30, |s| s["paused"].is_null()).await;
    // `manifest_published` reads no payload: whatever it carries, it asks for a sweep.
    arrakis_tests::send_garbage(&format!("member-sync-{}", g.guild), "manifest_published");
    // Watching again with no sweep asked for: every nudge above is in the history, so each
    // has had its sweep and no sweep that read the roles before the deletion below is running.
    let nudged = settled(&stack, &g.guild, "a sweep after the nudges, written", 60, |s| {
        sweep_id(s) != sweep_id(&before)
            && s["pending_writes"] == 0
            && s["phase"] == "watching"
            && s["sweep_requested"] == false
    })
    .await;
    // A role deleted by hand is not written to: no sweep sends a request whose answer (404
    // Unknown Role) it can know, until reconciliation makes the role again.
    let errors_before = stack.control.counters().await.expect("counters").rate.client_errors;
    let response = reqwest::Client::new()
        .delete(format!("http://{}/api/v10/guilds/{}/roles/{}", stack.sim.api_host(), g.guild, g.whale))
        .header("authorization", format!("Bot {}", arrakis_tests::SIM_TOKEN))
        .send()
        .await
        .expect("delete");
    assert!(response.status().is_success());
    let (ok, text) = update("sync_now", r#"{"actor": "cli:x"}"#);
    assert!(ok, "{text}");
    settled(&stack, &g.guild, "a sweep after the role went", 60, |s| {
        sweep_id(s) != sweep_id(&nudged) && s["pending_writes"] == 0
    })
    .await;
    let errors = stack.control.counters().await.expect("counters").rate.client_errors - errors_before;
    let refused: Vec<String> = stack
        .control
        .log(0)
        .await
        .expect("log")
        .iter()
        .filter(|e| e.status >= 400)
        .map(|e| format!("{} {} {}", e.method, e.path, e.status))
        .collect();
    assert_eq!(errors, 0, "no write went to the deleted role: {refused:?}");
    stop(&stack, &g.guild);
    worker.shutdown().expect("drains");
}
