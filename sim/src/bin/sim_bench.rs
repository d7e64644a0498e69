//! `discord-sim-bench`: how many requests a second the stand-in sustains on this machine and
//! how much memory 100,000 members take, each beside a baseline measured in the same run.
//!
//! ```sh
//! cargo run --release -p arrakis-sim --bin discord-sim-bench
//! ```
//! Throughput baseline: a bare axum server answering the same JSON without the Discord edge
//! (auth, limits, spec checks, log); the ratio is the cost of fidelity. Memory baseline: the
//! stand-in's resident set before seeding. The load generator shares the machine's cores.

use arrakis_sim::{GenerateMembers, GuildSeed, Limits, MembersSeed, SimConfig};
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

const CLIENTS: usize = 32;
const DURATION: Duration = Duration::from_secs(5);
const TOKEN: &str = "bench-token";

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Requests per second that `CLIENTS` concurrent clients get from `url` over `DURATION`.
async fn load(url: String) -> f64 {
    let http = reqwest::Client::new();
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + DURATION;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (http, url, done) = (http.clone(), url.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let ok = http
                        .get(&url)
                        .header("authorization", format!("Bot {TOKEN}"))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    if ok {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    done.load(Ordering::Relaxed) as f64 / DURATION.as_secs_f64()
}

async fn sim_throughput(check_responses: bool) -> anyhow::Result<f64> {
    let open = Limits { global_per_second: u32::MAX, route_limit: u32::MAX, ..Limits::default() };
    let config = SimConfig { token: TOKEN.into(), check_responses, limits: open, ..SimConfig::default() };
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let sim = arrakis_sim::start(config, loopback, loopback).await?;
    let guild = sim.client().create_guild(&GuildSeed { name: "bench".into(), ..GuildSeed::default() }).await?;
    Ok(load(format!("http://{}/api/v10/guilds/{guild}/roles", sim.api_host())).await)
}

async fn baseline_throughput() -> anyhow::Result<f64> {
    let body = serde_json::json!([{"id": "1", "name": "@everyone", "permissions": "0", "position": 0, "color": 0,
        "hoist": false, "managed": false, "mentionable": false, "icon": null, "unicode_emoji": null, "flags": 0}]);
    let app =
        axum::Router::new().route("/roles", axum::routing::get(move || std::future::ready(axum::Json(body.clone()))));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let rate = load(format!("http://{addr}/roles")).await;
    server.abort();
    Ok(rate)
}

async fn memory() -> anyhow::Result<(f64, f64, Duration)> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let sim = arrakis_sim::start(SimConfig { token: TOKEN.into(), ..SimConfig::default() }, loopback, loopback).await?;
    let client = sim.client();
    let guild = client.create_guild(&GuildSeed { name: "big".into(), ..GuildSeed::default() }).await?;
    let before = rss_mb();
    let started = Instant::now();
    let generate = GenerateMembers { count: 100_000, first_id: 1_000_000, ..Default::default() };
    let count = client.seed_members(guild, &MembersSeed { members: vec![], generate: Some(generate) }).await?;
    anyhow::ensure!(count == 100_001, "seeded {count} members, expected 100,001");
    Ok((before, rss_mb(), started.elapsed()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Memory first, while the allocator holds nothing from the load runs.
    let (before, after, seeding) = memory().await?;
    let baseline = baseline_throughput().await?;
    let checked = sim_throughput(true).await?;
    let unchecked = sim_throughput(false).await?;
    println!("| measure | value | ratio to baseline |");
    println!("|---|---|---|");
    println!("| bare axum, same JSON (baseline) | {baseline:.0} req/s | 1.00 |");
    println!(
        "| discord-sim, GET roles, responses checked against the spec | {checked:.0} req/s | {:.2} |",
        checked / baseline
    );
    println!("| discord-sim, GET roles, response check off | {unchecked:.0} req/s | {:.2} |", unchecked / baseline);
    println!("| resident memory, empty stand-in (baseline) | {before:.1} MB | 1.00 |");
    println!("| resident memory, 100,000 members | {after:.1} MB | {:.2} |", after / before);
    println!("| memory per member | {:.0} bytes | |", (after - before) * 1024.0 * 1024.0 / 100_000.0);
    println!("| seeding 100,000 members | {:.2} s | |", seeding.as_secs_f64());
    let report = |figure: &str, value: String, baseline: String, vs: String| {
        arrakis_sim::figures::report("discord-sim-bench", figure, value, baseline, vs);
    };
    let bare = format!("bare axum, same JSON: {baseline:.0} req/s");
    report(
        "stand-in throughput, GET roles, responses checked against the spec",
        format!("{checked:.0} req/s"),
        bare.clone(),
        format!("{:.2} of it", checked / baseline),
    );
    report(
        "stand-in throughput, response check off",
        format!("{unchecked:.0} req/s"),
        bare,
        format!("{:.2} of it", unchecked / baseline),
    );
    report(
        "stand-in resident memory, 100,000 members",
        format!("{after:.1} MB"),
        format!("empty stand-in: {before:.1} MB"),
        arrakis_sim::figures::times(after, before),
    );
    println!(
        "({CLIENTS} concurrent loopback clients for {}s each, sharing the machine's cores with the server)",
        DURATION.as_secs()
    );
    Ok(())
}
