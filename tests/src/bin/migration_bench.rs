//! `migration-bench`: migration measured on the real stack and the stand-in at Discord's
//! limits, each figure beside a baseline measured in the same run.
//!
//! - **rollback**: the wall time of a rollback of a guild of 1,000 and of 100,000 members who
//!   all hold Arrakis's two `arrakis-*` roles, and the Discord requests it took, against taking
//!   the roles from each member one by one at the per-member edit rate measured in the same run
//!   (30 edits through the gate, at Discord's 10 per 10 s per guild).
//! - **pacing**: the member-role writes of a `gradual` migration (4 batches over two shortened
//!   days) against an `instant` one of the same guild size run beside it: achieved writes/s ÷
//!   what Discord allows (10 per 10 s per guild), the busiest 10 s, and the stand-in's 429s.
//!
//! ```sh
//! eval "$(scripts/dev env)"
//! cargo build --release -p arrakis-worker && cargo build --release -p arrakis-tests --bin migration-bench
//! $CARGO_TARGET_DIR/release/migration-bench [rollback|pacing|all] [--quick]
//! ```
//! `--quick` measures the 1,000-member rollback only and paces 60 writes.

use arrakis_activities::{
    Store,
    discord::{BudgetSettings, DiscordRest, DiscordSettings, Gate, RateBudget},
};
use arrakis_schemas::GuildId;
use arrakis_sim::{LogEntry, MemberSeed, MembersSeed};
use arrakis_tests::{
    SIM_TOKEN, SynthesisStack, WorkerProcess,
    chain::{ChainFixture, anvil_url},
    member_sync::keep_mining,
    migration::{FIRST_MEMBER, backdate_shadow, roles, seed, shell, status},
    shadow::chains_file_at,
    stack_env,
};
use serde_json::Value;
use std::time::{Duration, Instant};

const MEMBER_ROLES: &str = "/guilds/{guild_id}/members/{user_id}/roles/{role_id}";
/// Discord's per-guild member-role limit: 10 edits per 10 s.
const PER_GUILD_PER_SECOND: f64 = 1.0;

async fn wait_for(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> Option<Value>) -> anyhow::Result<Value> {
    let started = Instant::now();
    loop {
        if let Some(v) = done().await {
            return Ok(v);
        }
        anyhow::ensure!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn worker(stack: &SynthesisStack) -> WorkerProcess {
    let chains = chains_file_at(&anvil_url(), 500);
    stack.worker_with(&[("ARRAKIS_CHAINS", &chains.display().to_string())])
}

fn start(stack: &SynthesisStack, guild: &str, strategy: &str, rest: &str) -> anyhow::Result<()> {
    let (ok, _, text) = shell(stack, "migration-start", guild, &[("STRATEGY", strategy), ("MIGRATION", rest)]);
    anyhow::ensure!(ok, "{text}");
    Ok(())
}

async fn stage(stack: &SynthesisStack, guild: &str, want: &str, limit: Duration) -> anyhow::Result<Value> {
    wait_for(&format!("stage {want}"), limit, async || {
        let s = status(stack, guild);
        (s["stage"] == want).then_some(s)
    })
    .await
}

/// The gate, as the worker builds it, to measure per-member edits with the real client.
async fn gate(stack: &SynthesisStack) -> anyhow::Result<Gate> {
    let budget = RateBudget::connect(
        &stack_env("REDIS_URL"),
        BudgetSettings { bot_key: format!("bench-{}", uuid::Uuid::new_v4().simple()), ..BudgetSettings::default() },
    )
    .await?;
    let settings = DiscordSettings {
        token: SIM_TOKEN.into(),
        api_base: Some(format!("http://{}", stack.sim.api_host())),
        per_guild_per_second: 22,
    };
    let store: Store = stack.db.store.clone();
    Ok(Gate::new(DiscordRest::new(&settings, budget), store))
}

async fn rollback(stack: &SynthesisStack, chain: &ChainFixture, sizes: &[u64]) -> anyhow::Result<()> {
    let _w = worker(stack);
    let gate = gate(stack).await?;
    println!(
        "| members holding both arrakis-* roles | rollback wall time | Discord requests | per-member edits instead (baseline) | faster by |"
    );
    println!("|---|---|---|---|---|");
    for &members in sizes {
        // One linked holder; every member is then given both roles, as a finished migration leaves them.
        let g = seed(stack, chain, members, members).await;
        backdate_shadow(stack, &g, 20, 100, 100).await;
        start(stack, &g.guild, "parallel_forever", r#""channels": "none", "watch_secs": 3600"#)?;
        stage(stack, &g.guild, "completed", Duration::from_secs(300)).await?;
        let all = roles(stack, g.id()).await;
        let ours = [all["arrakis-holder"].0, all["arrakis-whale"].0];
        let mut seeded: Vec<MemberSeed> = (0..members)
            .map(|n| MemberSeed {
                id: Some(FIRST_MEMBER + n),
                roles: ours.iter().map(u64::to_string).collect(),
                long_standing: true,
                ..MemberSeed::default()
            })
            .collect();
        while !seeded.is_empty() {
            let slice: Vec<MemberSeed> = seeded.drain(..seeded.len().min(5_000)).collect();
            stack.control.seed_members(g.id(), &MembersSeed { members: slice, generate: None }).await?;
        }
        // The baseline: 30 edits one member at a time through the gate, at Discord's limits.
        let writer = gate.open(GuildId::new(g.id()).map_err(anyhow::Error::msg)?, "bench baseline").await?;
        let timed = Instant::now();
        for n in 0..30 {
            writer.revoke(FIRST_MEMBER + n, ours[1], "per-member baseline").await?;
        }
        let per_edit = timed.elapsed().as_secs_f64() / 30.0;
        let edits = 2 * members - 30;
        let before = stack.control.log(0).await?.len();
        let started = Instant::now();
        let (ok, _, text) = shell(stack, "migration-rollback", &g.guild, &[("REASON", "bench")]);
        anyhow::ensure!(ok, "{text}");
        stage(stack, &g.guild, "rolled_back", Duration::from_secs(600)).await?;
        let took = started.elapsed().as_secs_f64();
        let log: Vec<LogEntry> = stack.control.log(before as u64).await?;
        let per_member = per_edit * edits as f64;
        println!(
            "| {members} | {took:.1} s | {} ({} role deletes, {} member edits) | {edits} edits × {per_edit:.2} s = {} | {:.0}× |",
            log.len(),
            log.iter().filter(|e| e.method == "DELETE" && e.route == "/guilds/{guild_id}/roles/{role_id}").count(),
            log.iter().filter(|e| e.route == MEMBER_ROLES).count(),
            human(per_member),
            per_member / took
        );
        arrakis_tests::figures::report(
            "migration-bench",
            format!("rollback of {members} members holding both arrakis-* roles"),
            format!("{took:.1} s, {} Discord requests", log.len()),
            format!("per-member edits at the rate measured: {edits} × {per_edit:.2} s = {}", human(per_member)),
            format!("{:.0}× faster", per_member / took),
        );
    }
    println!("(wall time from the rollback update to the stage rolled_back, as the status query shows it)\n");
    Ok(())
}

fn human(secs: f64) -> String {
    if secs >= 3600.0 { format!("{:.1} h", secs / 3600.0) } else { format!("{secs:.0} s") }
}

/// Member-role writes to `guild` in `log`, with their times (ms since the stand-in started).
fn writes_to<'a>(log: &'a [LogEntry], guild: &str) -> Vec<&'a LogEntry> {
    log.iter().filter(|e| e.route == MEMBER_ROLES && e.path.split('/').nth(2) == Some(guild)).collect()
}

/// The most writes within any 10 s.
fn busiest_10s(writes: &[&LogEntry]) -> usize {
    let times: Vec<u64> = writes.iter().map(|e| e.at_ms).collect();
    let mut best = 0;
    for (i, t) in times.iter().enumerate() {
        best = best.max(times[i..].iter().take_while(|u| **u < t + 10_000).count());
    }
    best
}

async fn pacing(stack: &SynthesisStack, chain: &ChainFixture, holders: u64) -> anyhow::Result<()> {
    let _w = worker(stack);
    let _miner = keep_mining(Duration::from_secs(1));
    let members = holders * 5;
    let instant = seed(stack, chain, members, 5).await;
    let gradual = seed(stack, chain, members, 5).await;
    for g in [&instant, &gradual] {
        backdate_shadow(stack, g, 20, 100, 100).await;
    }
    let before = stack.control.log(0).await?.len();
    let rate_before = stack.control.counters().await?.rate;
    let per_day = (holders / 2).max(20);
    start(stack, &instant.guild, "instant", r#""channels": "none", "watch_secs": 3600"#)?;
    let days =
        format!(r#""channels": "none", "watch_secs": 3600, "days": 2, "batches": 4, "seconds_per_day": {per_day}"#);
    start(stack, &gradual.guild, "gradual", &days)?;
    for g in [&instant, &gradual] {
        stage(stack, &g.guild, "completed", Duration::from_secs(3 * holders + 600)).await?;
    }
    wait_for("every write", Duration::from_secs(3 * holders + 600), async || {
        let log = stack.control.log(before as u64).await.ok()?;
        let done =
            [&instant, &gradual].iter().all(|g| writes_to(&log, &g.guild).len() as u64 >= g.holders.len() as u64);
        done.then_some(Value::Null)
    })
    .await?;
    let log = stack.control.log(before as u64).await?;
    let rate = stack.control.counters().await?.rate;
    println!(
        "| strategy | writes | span | achieved writes/s | Discord allows | achieved ÷ allowed | busiest 10 s | vs instant |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut baseline = None;
    for (name, g) in [("instant (baseline)", &instant), ("gradual, 4 batches", &gradual)] {
        let writes = writes_to(&log, &g.guild);
        let span = (writes.last().map_or(0, |e| e.at_ms) - writes.first().map_or(0, |e| e.at_ms)) as f64 / 1000.0;
        let achieved = writes.len() as f64 / span.max(0.001);
        let base = *baseline.get_or_insert(achieved);
        println!(
            "| {name} | {} | {span:.0} s | {achieved:.2} | {PER_GUILD_PER_SECOND:.0}/s (10 per 10 s) | {:.2} | {} | {:.2}× |",
            writes.len(),
            achieved / PER_GUILD_PER_SECOND,
            busiest_10s(&writes),
            achieved / base
        );
        arrakis_tests::figures::report(
            "migration-bench",
            format!("member-role writes of a migration: {name}"),
            format!("{achieved:.2} writes/s ({} writes over {span:.0} s)", writes.len()),
            format!("instant, beside it: {base:.2} writes/s (Discord allows {PER_GUILD_PER_SECOND:.0}/s)"),
            format!("{:.2}×", achieved / base),
        );
    }
    println!(
        "429s while both ran: {} user, {} global, {} shared\n",
        rate.user_429 - rate_before.user_429,
        rate.global_429 - rate_before.global_429,
        rate.shared_429 - rate_before.shared_429
    );
    for g in [&instant, &gradual] {
        shell(stack, "migration-rollback", &g.guild, &[("REASON", "bench over")]);
        stage(stack, &g.guild, "rolled_back", Duration::from_secs(300)).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let which = args.iter().find(|a| !a.starts_with("--")).map_or("all", String::as_str);
    anyhow::ensure!(
        matches!(which, "rollback" | "pacing" | "all"),
        "usage: migration-bench [rollback|pacing|all] [--quick]"
    );
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    if matches!(which, "rollback" | "all") {
        rollback(&stack, &chain, if quick { &[1_000] } else { &[1_000, 100_000] }).await?;
    }
    if matches!(which, "pacing" | "all") {
        pacing(&stack, &chain, if quick { 60 } else { 200 }).await?;
    }
    Ok(())
}
