//! Gateway benchmark: interaction ack latency (the interaction's creation in the stand-in to
//! the bot's first callback arriving there) for a slash command and a modal submit, with 1 and
//! 100 operators at once, against a baseline that needs no Temporal call (a refused
//! non-admin); and the gateway process's resident memory with 1,000 and 10,000 guilds.
//!
//! ```sh
//! eval "$(scripts/dev env)" && cargo build --release -p arrakis-gateway -p arrakis-tests --bins
//! target/release/gateway-bench      # or: cargo run -p arrakis-tests --bin gateway-bench
//! ```

use arrakis_tests::{SynthesisStack, http_get, operator::Operator, random_guild_id, sibling_binary};
use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn percentile(samples: &mut [u64], p: f64) -> u64 {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(i).copied().unwrap_or(0)
}

struct Latency {
    scenario: String,
    samples: Vec<u64>,
}

async fn operators(stack: &SynthesisStack, n: usize) -> anyhow::Result<Vec<Operator>> {
    let mut ops = Vec::new();
    for i in 0..n {
        let guild = stack.new_guild().await;
        ops.push(Operator::admin(stack.control.clone(), guild.parse()?, 500_000_000_000_000_000 + i as u64, None));
    }
    Ok(ops)
}

/// Each operator runs `rounds` of: refused command (baseline), `/arrakis setup` (update-with-start),
/// the INIT form submit (an update), then back to INIT (so the next round submits again).
async fn latency(stack: &SynthesisStack, n: usize, rounds: usize) -> anyhow::Result<Vec<Latency>> {
    let ops = operators(stack, n).await?;
    let tasks = ops.into_iter().map(|op| {
        tokio::spawn(async move {
            let mut out: [Vec<u64>; 3] = Default::default();
            for _ in 0..rounds {
                let mut outsider = op.clone();
                outsider.permissions = 0;
                let refused = outsider.command("status", &[]).await?;
                out[0].push(refused.ack_ms().unwrap_or(u64::MAX));
                let setup = op.command("setup", &[]).await?;
                out[1].push(setup.ack_ms().unwrap_or(u64::MAX));
                let submit_id = "wiz:submit:INIT";
                let submitted =
                    op.submit(submit_id, &[("name", "Bench"), ("theme", "basic"), ("mode", "exclusive")]).await?;
                anyhow::ensure!(submitted.content().contains("step 2/8"), "{}", submitted.content());
                out[2].push(submitted.ack_ms().unwrap_or(u64::MAX));
                op.press("wiz:back").await?;
            }
            anyhow::Ok(out)
        })
    });
    let mut all: [Vec<u64>; 3] = Default::default();
    for task in futures::future::join_all(tasks).await {
        let out = task??;
        for (i, samples) in out.into_iter().enumerate() {
            all[i].extend(samples);
        }
    }
    let names =
        ["refused command (baseline, no Temporal)", "/arrakis setup (update-with-start)", "modal submit (update)"];
    Ok(all
        .into_iter()
        .zip(names)
        .map(|(samples, name)| Latency { scenario: format!("{n} operator(s): {name}"), samples })
        .collect())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// The gateway as a process on a fresh stand-in holding `guilds` guilds: its RSS once ready.
async fn gateway_rss(guilds: usize) -> anyhow::Result<u64> {
    let stack = SynthesisStack::start(50).await;
    for _ in 0..guilds {
        stack
            .control
            .create_guild(&arrakis_sim::GuildSeed {
                id: Some(random_guild_id().parse()?),
                name: "g".into(),
                ..arrakis_sim::GuildSeed::default()
            })
            .await?;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut child = Command::new(sibling_binary("arrakis-gateway"))
        .envs(stack.gateway_env())
        .env("ARRAKIS_GATEWAY_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    while !matches!(http_get(addr, "/healthz").await, Ok((200, _))) {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(60), "the gateway did not get ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let every GUILD_CREATE arrive and be skipped.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss = rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    Ok(rss)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let stack = SynthesisStack::start(50).await;
    let _worker = stack.in_process_worker();
    let _gateway = stack.gateway().await;
    let mut rows = latency(&stack, 1, 30).await?;
    rows.extend(latency(&stack, 100, 2).await?);
    println!("| scenario | samples | p50 ms | p99 ms | p50 ratio to baseline |");
    println!("|---|---|---|---|---|");
    for chunk in rows.chunks_mut(3) {
        let base = percentile(&mut chunk[0].samples, 0.5).max(1);
        let base_name = chunk[0].scenario.clone();
        for row in chunk.iter_mut() {
            let (p50, p99) = (percentile(&mut row.samples, 0.5), percentile(&mut row.samples, 0.99));
            println!("| {} | {} | {p50} | {p99} | {:.1} |", row.scenario, row.samples.len(), p50 as f64 / base as f64);
            arrakis_tests::figures::report(
                "gateway-bench",
                format!("first answer: {}", row.scenario),
                format!("p50 {p50} ms, p99 {p99} ms"),
                format!("{base_name}: p50 {base} ms"),
                format!("{:.1}× its p50", p50 as f64 / base as f64),
            );
        }
    }
    println!();
    println!("| guilds | gateway RSS MB | MB per 1,000 guilds above the empty baseline |");
    println!("|---|---|---|");
    let base = gateway_rss(0).await?;
    println!("| 0 | {:.1} | baseline |", base as f64 / 1024.0);
    for guilds in [1_000, 10_000] {
        let rss = gateway_rss(guilds).await?;
        let per_thousand = (rss as f64 - base as f64) / 1024.0 / (guilds as f64 / 1000.0);
        println!("| {guilds} | {:.1} | {per_thousand:.2} |", rss as f64 / 1024.0);
        arrakis_tests::figures::report(
            "gateway-bench",
            format!("gateway resident memory with {guilds} guilds"),
            format!("{:.1} MB ({per_thousand:.2} MB per 1,000 guilds)", rss as f64 / 1024.0),
            format!("no guild: {:.1} MB", base as f64 / 1024.0),
            arrakis_tests::figures::times(rss as f64, base as f64),
        );
    }
    Ok(())
}
