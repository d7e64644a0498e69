//! Synthesis throughput against the Discord stand-in with Discord's own route limits (5 a
//! second per route and guild) and the shared budget (45 a second): Discord requests a second
//! as a ratio to the budget, time to apply, and 429s by scope, for one large guild and for
//! several guilds with one and with three worker processes.
//!
//! ```sh
//! eval "$(scripts/dev env)" && cargo build -p arrakis-worker
//! cargo run -p arrakis-tests --bin synthesis-bench
//! ```

use arrakis_tests::{SynthesisStack, WorkerProcess};
use std::time::{Duration, Instant};

const BUDGET: f64 = 45.0;

struct Row {
    scenario: &'static str,
    ops: u64,
    seconds: f64,
    requests: u64,
    global_429: u64,
    user_429: u64,
}

async fn run(scenario: &'static str, workers: usize, guilds: &[(usize, usize, usize)]) -> anyhow::Result<Row> {
    let stack = SynthesisStack::start(5).await;
    let _workers: Vec<WorkerProcess> = (0..workers).map(|_| stack.worker()).collect();
    let mut ids = Vec::new();
    for (roles, categories, per_category) in guilds {
        ids.push((
            stack.guild(*roles, *categories, *per_category).await,
            (roles + categories + categories * per_category) as u64,
        ));
    }
    let before = stack.control.counters().await?.rate;
    let started = Instant::now();
    for (guild, _) in &ids {
        let (ok, text) = stack.shell("synthesis-start", guild, &[]);
        anyhow::ensure!(ok, "{text}");
    }
    for (guild, ops) in &ids {
        loop {
            let status = stack.status(guild).await;
            if status["applied"].as_u64() == Some(*ops) && status["current_op"].is_null() {
                break;
            }
            anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "{scenario}: no progress: {status}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let after = stack.control.counters().await?.rate;
    Ok(Row {
        scenario,
        ops: ids.iter().map(|(_, ops)| ops).sum(),
        seconds,
        requests: after.requests - before.requests,
        global_429: after.global_429 - before.global_429,
        user_429: after.user_429 - before.user_429,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let several = [(15, 5, 4); 4];
    let rows = vec![
        run("1 guild, 60 roles + 20 categories + 150 channels, 1 worker", 1, &[(60, 20, 7)]).await?,
        run("4 guilds × 40 objects, 1 worker", 1, &several).await?,
        run("4 guilds × 40 objects, 3 workers", 3, &several).await?,
    ];
    println!(
        "| scenario | ops | time to apply | Discord requests/s | ratio to budget (45/s) | global 429s | route 429s |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        let rate = r.requests as f64 / r.seconds;
        println!(
            "| {} | {} | {:.1} s | {:.1} | {:.2} | {} | {} |",
            r.scenario,
            r.ops,
            r.seconds,
            rate,
            rate / BUDGET,
            r.global_429,
            r.user_429
        );
        arrakis_tests::figures::report(
            "synthesis-bench",
            format!("Discord requests/s applying {} ops: {}", r.ops, r.scenario),
            format!("{rate:.1}/s in {:.1} s ({} global, {} route 429s)", r.seconds, r.global_429, r.user_429),
            format!("the shared budget: {BUDGET:.0}/s"),
            format!("{:.2} of it", rate / BUDGET),
        );
    }
    println!("(the stand-in enforces 5 requests/s per route and guild and 50/s globally, as Discord does)");
    Ok(())
}
