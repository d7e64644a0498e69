//! `eligibility-bench`: 10,000 (wallet, asset) balance checks on the stack's anvil, one
//! `eth_call` each versus Multicall3 batches, as wall time and RPC round trips with ratios
//! against the baseline measured in the same run; then cached eligibility checks (Redis)
//! p50/p99 against uncached ones.
//!
//! Run after `scripts/dev up && source .dev/env`:
//! `cargo run --release -p arrakis-tests --bin eligibility-bench`

use alloy::primitives::{Address, U256};
use arrakis_activities::{
    chain::{Chains, Probe},
    circuit::CircuitConfig,
    eligibility::{EligibilityCache, EligibilityChecker},
    score::{PgScoreStore, ScoreLookup},
};
use arrakis_schemas::{CommunityManifest, Snowflake, eligibility::BaseUnits};
use arrakis_tests::{
    chain::{ANVIL_CHAIN_ID, ChainFixture, anvil_chain, anvil_chains, anvil_url, random_wallet},
    fresh_database, stack_env,
};
use std::time::{Duration, Instant};

const CHECKS: usize = 10_000;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let f = ChainFixture::deploy().await;
    let holders: Vec<Address> = (0..CHECKS).map(|_| random_wallet()).collect();
    let funded = &holders[..CHECKS / 2];
    f.mint_erc20_batch(funded, U256::from(1_000u64)).await;
    let probes: Vec<Probe> = holders.iter().map(|&holder| Probe::BalanceOf { token: f.erc20, holder }).collect();
    let expected = |i: usize| if i < CHECKS / 2 { "1000" } else { "0" };

    println!("10,000 ERC20 balance checks on anvil (half funded), results verified\n");
    println!("| method | wall ms | RPC round trips | time vs baseline | round trips vs baseline |");
    println!("|---|---|---|---|---|");
    let mut baseline = None;
    type Run = (&'static str, usize, usize); // name, batch, in flight (0 = multicall)
    let runs: [Run; 4] = [
        ("one eth_call each, sequential (baseline)", 1, 1),
        ("one eth_call each, 32 in flight", 1, 32),
        ("Multicall3 aggregate3, 500 per call", 500, 0),
        ("Multicall3 aggregate3, 1000 per call", 1000, 0),
    ];
    for (name, batch, in_flight) in runs {
        // A bulkhead wide enough for the 32-in-flight run (the default, 8, would shed it).
        let mut config = anvil_chain(&[anvil_url()], batch);
        config.max_in_flight = 64;
        let chains = Chains::new(vec![config], CircuitConfig::default());
        let client = chains.client(ANVIL_CHAIN_ID)?;
        let block = client.block_number().await?;
        let before = client.round_trips();
        let start = Instant::now();
        let results = if in_flight > 0 {
            client.read_one_by_one(&probes, block, in_flight).await?
        } else {
            client.read_batched(&probes, block).await?
        };
        let wall = start.elapsed();
        let trips = client.round_trips() - before;
        for (i, r) in results.iter().enumerate() {
            anyhow::ensure!(r.as_ref().map(BaseUnits::as_str) == Ok(expected(i)), "{name}: wrong result at {i}: {r:?}");
        }
        let (base_wall, base_trips) = *baseline.get_or_insert((wall, trips));
        println!(
            "| {name} | {:.0} | {trips} | {:.1}× faster | {:.0}× fewer |",
            wall.as_secs_f64() * 1000.0,
            base_wall.as_secs_f64() / wall.as_secs_f64(),
            base_trips as f64 / trips.max(1) as f64,
        );
        arrakis_tests::figures::report(
            "eligibility-bench",
            format!("10,000 balance checks: {name}"),
            format!("{:.0} ms, {trips} round trips", wall.as_secs_f64() * 1000.0),
            format!(
                "one eth_call each, sequential: {:.0} ms, {base_trips} round trips",
                base_wall.as_secs_f64() * 1000.0
            ),
            format!(
                "{:.1}× faster, {:.0}× fewer round trips",
                base_wall.as_secs_f64() / wall.as_secs_f64(),
                base_trips as f64 / trips.max(1) as f64
            ),
        );
    }

    // Cached vs uncached checks of one member with two linked wallets and three rules.
    let db = fresh_database().await;
    let guild = Snowflake::new(1_500).map_err(anyhow::Error::msg)?;
    let manifest: CommunityManifest = serde_json::from_value(serde_json::json!({
        "guild_id": "1500", "name": "Bench", "theme": "basic", "mode": "exclusive", "chains": [31337],
        "assets": [{"key": "spice", "chain_id": 31337, "kind": "erc20", "address": f.erc20.to_checksum(None), "decimals": 0}],
        "rules": {"holder": {"min_balance": {"asset": "spice", "amount": "500"}}},
        "roles": [{"key": "holder", "name": "Holder", "grant": {"rule": "holder"}}]
    }))?;
    let mut service = db.store.service().await?;
    let (community, _) = service.ensure_community(&manifest).await?;
    service.commit().await?;
    let mut tx = db.store.tenant(community).await?;
    tx.insert_manifest(&manifest, &"0".repeat(64), "bench").await?;
    for (user, wallet) in [(1u64, holders[0]), (1, holders[1])] {
        sqlx::query("INSERT INTO wallet_links (community_id, discord_user_id, address) VALUES ($1, $2, $3)")
            .bind(community.0)
            .bind(user as i64)
            .bind(wallet.to_checksum(None))
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await?;
    let checker = EligibilityChecker::new(
        db.store.clone(),
        anvil_chains(&[anvil_url()], 500),
        ScoreLookup::new(None, PgScoreStore::new(db.store.clone())),
        EligibilityCache::new(&stack_env("REDIS_URL"))?,
    );
    let user = Snowflake::new(1).map_err(anyhow::Error::msg)?;
    let mut timings = [Vec::new(), Vec::new()];
    for _ in 0..300 {
        checker.cache().invalidate(guild, user).await?;
        let start = Instant::now();
        let (_, cached) = checker.check(guild, user, 0).await?;
        timings[0].push(start.elapsed());
        anyhow::ensure!(!cached);
        let start = Instant::now();
        let (answer, cached) = checker.check(guild, user, 0).await?;
        timings[1].push(start.elapsed());
        anyhow::ensure!(cached && answer.roles[0].evaluation.verdict.is_eligible());
    }
    println!("\nEligibility check of one member (2 wallets), 300 samples each\n");
    println!("| path | p50 ms | p99 ms | p50 vs uncached |");
    println!("|---|---|---|---|");
    let [mut uncached, mut cached] = timings;
    uncached.sort();
    cached.sort();
    let base = percentile(&uncached, 0.5);
    for (name, t) in [("uncached (Postgres + chain)", &uncached), ("cached (Redis)", &cached)] {
        let p50 = percentile(t, 0.5);
        println!("| {name} | {p50:.2} | {:.2} | {:.1}× faster |", percentile(t, 0.99), base / p50);
        arrakis_tests::figures::report(
            "eligibility-bench",
            format!("one member's eligibility check: {name}"),
            format!("p50 {p50:.2} ms, p99 {:.2} ms", percentile(t, 0.99)),
            format!("uncached: p50 {base:.2} ms"),
            format!("{:.1}× faster", base / p50),
        );
    }
    Ok(())
}
