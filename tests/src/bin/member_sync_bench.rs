//! `member-sync-bench`: member sync measured on the real stack, each figure beside a baseline
//! measured in the same run.
//!
//! - **sweep**: a sweep of 100,000 members with 10,000 linked wallets and nothing to write, by
//!   a worker process: wall time, RPC round trips and peak RSS, with Multicall3 batches against
//!   one `eth_call` per wallet, on loopback and behind a relay adding 20 ms to every request.
//! - **pacing**: member-role writes per second achieved ÷ what Discord allows
//!   (min(guilds × 1/s, the global budget)), with 1, 10 and 60 guilds each needing 200 writes,
//!   on 1 and 3 worker processes, and the stand-in's 429s by scope.
//! - **transfers**: transfer on anvil → role change, p50 and p99 over 20 grants and 20
//!   revocations (the default `revoke_confirm` of 60 s), blocks every second.
//!
//! ```sh
//! eval "$(scripts/dev env)"
//! cargo build --release -p arrakis-worker && cargo build --release -p arrakis-tests --bin member-sync-bench
//! $CARGO_TARGET_DIR/release/member-sync-bench [sweep|pacing|transfers|all] [--quick]
//! ```
//! `--quick` shrinks the pacing runs to 50 writes a guild.

use arrakis_sim::LogEntry;
use arrakis_tests::{
    SynthesisStack, WorkerProcess,
    chain::{ChainFixture, TcpRelay, anvil_addr, anvil_url},
    member_sync::{Spec, SyncedGuild, held, keep_mining, seed, shell, spice, status},
    shadow::chains_file_at,
};
use serde_json::Value;
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

const MEMBER_ROLES: &str = "/guilds/{guild_id}/members/{user_id}/roles/{role_id}";
/// The global budget the worker keeps (`ARRAKIS_DISCORD_RPS` 45, less its burst of 5).
const GLOBAL_BUDGET: f64 = 40.0;

/// The worker's peak resident set (VmHWM), in MiB.
fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(str::to_owned))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn wait_for(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> Option<Value>) -> anyhow::Result<Value> {
    let started = Instant::now();
    loop {
        if let Some(v) = done().await {
            return Ok(v);
        }
        anyhow::ensure!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn sweep_id(s: &Value) -> String {
    s["last_sweep"]["sweep_id"].as_str().unwrap_or_default().to_string()
}

fn start(stack: &SynthesisStack, guild: &str, settings: &str) -> anyhow::Result<()> {
    let (ok, _, text) = shell(stack, "member-sync-start", guild, &[("SETTINGS", settings)]);
    anyhow::ensure!(ok, "{text}");
    Ok(())
}

fn worker(stack: &SynthesisStack, rpc: &str, batch: usize) -> WorkerProcess {
    let chains = chains_file_at(rpc, batch);
    stack.worker_with(&[("ARRAKIS_CHAINS", &chains.display().to_string())])
}

async fn sweeps(stack: &SynthesisStack, chain: &ChainFixture) -> anyhow::Result<()> {
    let seeding = Instant::now();
    let w = worker(stack, &anvil_url(), 500);
    let spec = Spec { members: 100_000, linked_every: 10, holder_every: 100_000, whale_every: 1, hand_given: 0 };
    let g = seed(stack, chain, spec).await;
    println!(
        "100,000 members, {} linked wallets ({:.0} s to seed)\n",
        g.wallets.len(),
        seeding.elapsed().as_secs_f64()
    );
    // A first sweep writes the one member who qualifies; every sweep measured after it has
    // nothing to write.
    start(stack, &g.guild, r#"{"sweep_interval_secs": 86400}"#)?;
    wait_for("the first sweep", Duration::from_secs(600), async || {
        let s = status(stack, &g.guild);
        (!sweep_id(&s).is_empty() && s["pending_writes"] == 0).then_some(s)
    })
    .await?;
    drop(w);
    let relay = TcpRelay::start_with_delay(anvil_addr(), Duration::from_millis(20)).await;
    println!(
        "| chain reads | RPC | sweep wall time | members/s | worker peak RSS | RPC round trips | time vs baseline | round trips vs baseline |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (rpc, url) in [("anvil on loopback", anvil_url()), ("anvil + 20 ms per request", relay.url())] {
        let mut base: Option<(f64, u64)> = None;
        for (method, batch) in [("one eth_call per wallet (baseline)", 1), ("Multicall3, 500 per call", 500)] {
            let w = worker(stack, &url, batch);
            let before = sweep_id(&status(stack, &g.guild));
            let (ok, _, text) = shell(stack, "member-sync-now", &g.guild, &[]);
            anyhow::ensure!(ok, "{text}");
            let s = wait_for("a sweep", Duration::from_secs(1800), async || {
                let s = status(stack, &g.guild);
                (sweep_id(&s) != before && !sweep_id(&s).is_empty()).then_some(s)
            })
            .await?;
            let last = &s["last_sweep"];
            anyhow::ensure!(last["tally"]["grants"] == 0 && last["tally"]["members"] == 100_000, "{s}");
            let secs = (last["finished_at_ms"].as_u64().unwrap_or(0) - last["started_at_ms"].as_u64().unwrap_or(0))
                as f64
                / 1000.0;
            let calls = last["tally"]["rpc_calls"].as_u64().unwrap_or(0);
            let (t0, c0) = *base.get_or_insert((secs, calls.max(1)));
            println!(
                "| {method} | {rpc} | {secs:.1} s | {:.0} | {:.0} MiB | {calls} | {:.2}× | {:.0}× fewer |",
                100_000.0 / secs,
                peak_rss_mb(w.pid()),
                t0 / secs,
                c0 as f64 / calls.max(1) as f64
            );
            arrakis_tests::figures::report(
                "member-sync-bench",
                format!("sweep of 100,000 members, {rpc}: {method}"),
                format!("{secs:.1} s, {calls} round trips, {:.0} MiB peak", peak_rss_mb(w.pid())),
                format!("one eth_call per wallet: {t0:.1} s, {c0} round trips"),
                format!("{:.2}× faster, {:.0}× fewer round trips", t0 / secs, c0 as f64 / calls.max(1) as f64),
            );
            drop(w);
        }
    }
    println!();
    // The stop is an update: a worker has to be there to take it.
    let _w = worker(stack, &anvil_url(), 500);
    shell(stack, "member-sync-stop", &g.guild, &[]);
    Ok(())
}

async fn pacing(stack: &SynthesisStack, chain: &ChainFixture, per_guild: u64) -> anyhow::Result<()> {
    println!(
        "| guilds × writes | worker processes | writes | wall time | achieved writes/s | Discord allows | achieved ÷ allowed | 429s (user / global / shared) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for processes in [1usize, 3] {
        for guilds in [1u64, 10, 60] {
            let spec = Spec {
                members: per_guild,
                linked_every: 1,
                holder_every: 1,
                whale_every: per_guild * 10,
                hand_given: 0,
            };
            let mut seeded: Vec<SyncedGuild> = Vec::new();
            let seeder = worker(stack, &anvil_url(), 500);
            for _ in 0..guilds {
                seeded.push(seed(stack, chain, spec).await);
            }
            drop(seeder);
            let workers: Vec<WorkerProcess> = (0..processes).map(|_| worker(stack, &anvil_url(), 500)).collect();
            let before_log = stack.control.log(0).await?.len();
            let before = stack.control.counters().await?.rate;
            for g in &seeded {
                start(stack, &g.guild, r#"{"sweep_interval_secs": 86400}"#)?;
            }
            let total: usize = seeded.iter().map(|g| g.expected.len()).sum();
            let started = Instant::now();
            let writes: Vec<LogEntry> = loop {
                let log = stack.control.log(before_log as u64).await?;
                let writes: Vec<LogEntry> = log.into_iter().filter(|e| e.route == MEMBER_ROLES).collect();
                if writes.len() >= total {
                    break writes;
                }
                anyhow::ensure!(
                    started.elapsed() < Duration::from_secs(3600),
                    "{}/{total} writes in an hour",
                    writes.len()
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            };
            let after = stack.control.counters().await?.rate;
            let span = (writes.last().map_or(0, |e| e.at_ms) - writes.first().map_or(0, |e| e.at_ms)) as f64 / 1000.0;
            let achieved = writes.len() as f64 / span.max(0.001);
            let allowed = (guilds as f64).min(GLOBAL_BUDGET);
            let mut by_guild: BTreeMap<String, usize> = BTreeMap::new();
            for e in &writes {
                *by_guild.entry(e.path.split('/').nth(2).unwrap_or_default().to_string()).or_default() += 1;
            }
            anyhow::ensure!(by_guild.len() as u64 == guilds, "every guild was written to: {by_guild:?}");
            println!(
                "| {guilds} × {per_guild} | {processes} | {} | {span:.0} s | {achieved:.2} | {allowed:.0}/s | {:.2} | {} / {} / {} |",
                writes.len(),
                achieved / allowed,
                after.user_429 - before.user_429,
                after.global_429 - before.global_429,
                after.shared_429 - before.shared_429
            );
            arrakis_tests::figures::report(
                "member-sync-bench",
                format!("member-role writes, {guilds} guild(s) × {per_guild}, {processes} worker(s)"),
                format!("{achieved:.2} writes/s over {span:.0} s"),
                format!("what Discord allows: {allowed:.0}/s"),
                format!("{:.2} of it", achieved / allowed),
            );
            for g in &seeded {
                shell(stack, "member-sync-stop", &g.guild, &[]);
            }
            drop(workers);
        }
    }
    println!();
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0.0)
}

async fn transfers(stack: &SynthesisStack, chain: &ChainFixture) -> anyhow::Result<()> {
    let _w = worker(stack, &anvil_url(), 500);
    // 40 linked members: 20 hold enough for Holder, 20 a little.
    let spec = Spec { members: 40, linked_every: 1, holder_every: 2, whale_every: 1_000, hand_given: 0 };
    let g = seed(stack, chain, spec).await;
    let _miner = keep_mining(Duration::from_secs(1));
    start(stack, &g.guild, r#"{"sweep_interval_secs": 86400}"#)?;
    let roles = [g.holder, g.whale];
    wait_for("the first sweep", Duration::from_secs(300), async || {
        (held(stack, &g.guild, &roles).await == g.expected).then_some(Value::Null)
    })
    .await?;
    wait_for("the watcher's cursor", Duration::from_secs(120), async || {
        let s = status(stack, &g.guild);
        s["chains"]["31337"].is_u64().then_some(s)
    })
    .await?;
    let (buyers, sellers): (Vec<_>, Vec<_>) =
        g.wallets.iter().partition(|(u, _)| !g.expected.contains(&(**u, g.holder)));
    let mut results = Vec::new();
    for (what, members, grant) in [("grant", buyers, true), ("revocation", sellers, false)] {
        let mut mined: BTreeMap<u64, Instant> = BTreeMap::new();
        let mut changed: BTreeMap<u64, Instant> = BTreeMap::new();
        for (user, wallet) in members.iter().take(20) {
            if grant {
                chain.mint_erc20(**wallet, spice(150)).await;
            } else {
                chain.burn_erc20(**wallet, spice(150)).await;
            }
            mined.insert(**user, Instant::now());
            tokio::time::sleep(Duration::from_millis(1_000)).await;
        }
        wait_for(what, Duration::from_secs(300), async || {
            let now = held(stack, &g.guild, &roles).await;
            for user in mined.keys() {
                if now.contains(&(*user, g.holder)) == grant {
                    changed.entry(*user).or_insert_with(Instant::now);
                }
            }
            (changed.len() == mined.len()).then_some(Value::Null)
        })
        .await?;
        let mut delays: Vec<f64> = mined.iter().map(|(u, at)| (changed[u] - *at).as_secs_f64()).collect();
        delays.sort_by(f64::total_cmp);
        results.push((what, percentile(&delays, 0.5), percentile(&delays, 0.99), delays.len()));
    }
    println!("| transfer → role change | transfers | p50 | p99 | goal |");
    println!("|---|---|---|---|---|");
    for (what, p50, p99, n) in results {
        let goal = if what == "grant" { "p99 < 10 s after the block" } else { "p99 < revoke_confirm (60 s) + 15 s" };
        println!("| {what} | {n} | {p50:.1} s | {p99:.1} s | {goal} |");
        arrakis_tests::figures::report(
            "member-sync-bench",
            format!("transfer → role change: {what} ({n} transfers)"),
            format!("p50 {p50:.1} s, p99 {p99:.1} s"),
            goal,
            "a goal, not a same-run baseline",
        );
    }
    println!("(measured from the transfer's receipt, polled every 200 ms, blocks every second)\n");
    shell(stack, "member-sync-stop", &g.guild, &[]);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let which = args.iter().find(|a| !a.starts_with("--")).map_or("all", String::as_str);
    anyhow::ensure!(
        matches!(which, "sweep" | "pacing" | "transfers" | "all"),
        "usage: member-sync-bench [sweep|pacing|transfers|all] [--quick]"
    );
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    if matches!(which, "sweep" | "all") {
        sweeps(&stack, &chain).await?;
    }
    if matches!(which, "pacing" | "all") {
        pacing(&stack, &chain, if quick { 50 } else { 200 }).await?;
    }
    if matches!(which, "transfers" | "all") {
        transfers(&stack, &chain).await?;
    }
    Ok(())
}
