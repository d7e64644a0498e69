//! `shadow-bench`: one shadow sync of a 100,000-member guild (10,000 linked wallets on anvil,
//! Collab.Land giving two roles) by a worker process, with the chain read one call per
//! member (the naive baseline) and in Multicall3 batches, in the same run, on loopback and
//! behind a relay that adds 20 ms to every RPC request (a remote provider): wall time, members
//! a second, the worker's peak resident memory, chain RPC round trips, and the history size of
//! the continue-as-new runs. Every sync's divergences are checked against the seeded ones.
//!
//! ```sh
//! eval "$(scripts/dev env)"
//! cargo build --release -p arrakis-worker -p arrakis-tests --bin shadow-bench
//! target/release/shadow-bench            # or under $CARGO_TARGET_DIR
//! ```

use arrakis_tests::{
    SynthesisStack,
    chain::{ChainFixture, TcpRelay, anvil_addr, anvil_url},
    json_of, run_shell,
    shadow::{self, Divergence},
    workflow_completed,
};
use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

const MEMBERS: u64 = 100_000;
const LINKED_EVERY: u64 = 10;
/// The round trip added in front of anvil to stand for a remote RPC provider.
const REMOTE_RTT_MS: u64 = 20;
const REMOTE: &str = "anvil + 20 ms per request (a remote provider)";

struct Row {
    method: String,
    seconds: f64,
    peak_rss_mb: f64,
    rpc_calls: u64,
    runs: u64,
    max_events: u64,
}

/// The worker's peak resident set (VmHWM), in MiB.
fn peak_rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmHWM for {pid}"))?;
    Ok(kb / 1024.0)
}

/// History lengths of every run of `workflow_id`'s latest chain.
fn history_lengths(workflow_id: &str) -> Vec<u64> {
    let out = run_shell(&format!("temporal workflow list -o json --query \"WorkflowId='{workflow_id}'\""), &[]);
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    runs.as_array()
        .map(|runs| {
            runs.iter()
                .filter_map(|r| {
                    r["historyLength"].as_str().and_then(|n| n.parse().ok()).or(r["historyLength"].as_u64())
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn sync(
    stack: &SynthesisStack,
    seeded: &shadow::ShadowGuild,
    method: String,
    rpc_url: &str,
    batch: usize,
) -> anyhow::Result<Row> {
    // Every sync starts from the same state: no earlier predictions to validate.
    let mut admin = stack.db.admin().await;
    for table in ["shadow_predictions", "shadow_member_state", "shadow_divergences"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&mut admin).await?;
    }
    let chains = shadow::chains_file_at(rpc_url, batch);
    let worker = stack.worker_with(&[("ARRAKIS_CHAINS", &chains.display().to_string())]);
    let guild = &seeded.guild;
    let id = format!("shadow-sync-{guild}");
    let started = Instant::now();
    let (ok, text) = stack.shell("shadow-sync-run", guild, &[]);
    anyhow::ensure!(ok, "{text}");
    while !workflow_completed(&id) {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(1800), "{method}: no end in 30 min");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_mb = peak_rss_mb(worker.pid())?;
    let (_, text) = stack.shell("shadow-sync-status", guild, &[]);
    let status = json_of(&text);
    anyhow::ensure!(status["tally"]["members"] == MEMBERS, "{method}: {status}");
    let sync_id = status["sync_id"].as_str().unwrap_or_default();
    let found: Vec<Divergence> =
        sqlx::query_as("SELECT discord_user_id, role_key, kind FROM shadow_divergences WHERE sync_id = $1")
            .bind(sync_id)
            .fetch_all(&mut admin)
            .await?;
    anyhow::ensure!(found.into_iter().collect::<BTreeSet<_>>() == seeded.expected, "{method}: wrong divergences");
    let lengths = history_lengths(&id);
    drop(worker);
    Ok(Row {
        method,
        seconds,
        peak_rss_mb,
        rpc_calls: status["tally"]["rpc_calls"].as_u64().unwrap_or_default(),
        runs: status["runs"].as_u64().unwrap_or_default() + 1,
        max_events: lengths.into_iter().max().unwrap_or_default(),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let seeding = Instant::now();
    // A worker for the publish and the detection; each sync then gets a fresh one.
    let seeder = stack.worker_with(&[]);
    let seeded = shadow::seed(&stack, &chain, MEMBERS, LINKED_EVERY).await;
    let (ok, text) = stack.shell("incumbent-detect", &seeded.guild, &[]);
    anyhow::ensure!(ok, "{text}");
    seeder.kill();
    println!(
        "{MEMBERS} members, {} with a linked wallet, {} divergences seeded ({:.0} s to seed)\n",
        seeded.linked,
        seeded.expected.len(),
        seeding.elapsed().as_secs_f64()
    );
    let direct = anvil_url();
    let relay = TcpRelay::start_with_delay(anvil_addr(), Duration::from_millis(REMOTE_RTT_MS)).await;
    let remote = relay.url();
    let header = "| chain reads | RPC | sync wall time | members/s | worker peak RSS | RPC round trips | runs (continue-as-new) | max events per run | time vs baseline | round trips vs baseline |";
    for (rpc, url) in [("anvil on loopback", direct.as_str()), (REMOTE, remote.as_str())] {
        let mut rows = Vec::new();
        for (method, batch) in [
            ("one eth_call per member (baseline)", 1),
            ("Multicall3, 500 per call", 500),
            ("Multicall3, 1,000 per call", 1000),
        ] {
            rows.push(sync(&stack, &seeded, method.to_string(), url, batch).await?);
        }
        println!("{header}");
        println!("|---|---|---|---|---|---|---|---|---|---|");
        let base = (rows[0].seconds, rows[0].rpc_calls.max(1));
        for r in &rows {
            println!(
                "| {} | {rpc} | {:.1} s | {:.0} | {:.0} MiB | {} | {} | {} | {:.2}× | {:.0}× fewer |",
                r.method,
                r.seconds,
                MEMBERS as f64 / r.seconds,
                r.peak_rss_mb,
                r.rpc_calls,
                r.runs,
                r.max_events,
                base.0 / r.seconds,
                base.1 as f64 / r.rpc_calls.max(1) as f64,
            );
            arrakis_tests::figures::report(
                "shadow-bench",
                format!("shadow sync of {MEMBERS} members, {rpc}: {}", r.method),
                format!("{:.1} s, {} round trips, {:.0} MiB peak", r.seconds, r.rpc_calls, r.peak_rss_mb),
                format!("one eth_call per member: {:.1} s, {} round trips", base.0, base.1),
                format!(
                    "{:.2}× faster, {:.0}× fewer round trips",
                    base.0 / r.seconds,
                    base.1 as f64 / r.rpc_calls.max(1) as f64
                ),
            );
        }
        println!();
    }
    run_shell(&format!("temporal schedule delete --schedule-id shadow-sync-{}", seeded.guild), &[]);
    Ok(())
}
