//! `chaos`: what a bad day does to Arrakis, on demand (not in CI). Each scenario runs N trials
//! on the real stack, with the failure injected at a random point, and reports how many runs
//! completed and how many duplicates Discord ended up with (a role, channel or member-role
//! write made twice, beyond the one write in flight when a worker died).
//!
//! - `kill-synthesis`, `kill-wizard`, `kill-shadow-sync`, `kill-member-sync`: `kill -9` of the
//!   worker process at a random point of the run, and a new worker;
//! - `restart-temporal`, `restart-postgres`: the dev server or PostgreSQL restarted mid-synthesis
//!   (`scripts/dev restart-temporal`, `scripts/dev restart-postgres`);
//! - `fault-storm`: a synthesis while the stand-in fails 20 % of requests with a 5xx and sends
//!   bursts of 429s.
//!
//! ```sh
//! eval "$(scripts/dev env)"
//! cargo build --release -p arrakis-worker -p arrakis-tests --bin chaos
//! $CARGO_TARGET_DIR/release/chaos --trials 3            # or name scenarios to run only them
//! ```

use anyhow::{Context, bail};
use arrakis_schemas::{
    CommunityManifest,
    workflows::wizard::{StepAnswer, WizardStep},
};
use arrakis_tests::{
    SynthesisStack, WorkerProcess, chain::ChainFixture, json_of, member_sync as ms, repo_root, run_shell, shadow,
    wizard::WizardDriver,
};
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

const SCENARIOS: [&str; 7] = [
    "kill-synthesis",
    "kill-wizard",
    "kill-shadow-sync",
    "kill-member-sync",
    "restart-temporal",
    "restart-postgres",
    "fault-storm",
];

/// One trial's result.
struct Trial {
    completed: bool,
    duplicates: u64,
    seconds: f64,
    note: String,
}

/// A small deterministic generator for the random points (seeded from the clock, printed).
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

async fn until<T>(deadline: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if start.elapsed() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Names that appear more than once, counted beyond the first.
fn repeats<'a>(names: impl Iterator<Item = &'a str>) -> u64 {
    let mut seen: BTreeMap<&str, u64> = BTreeMap::new();
    for name in names {
        *seen.entry(name).or_default() += 1;
    }
    seen.values().map(|n| n - 1).sum()
}

async fn discord_duplicates(stack: &SynthesisStack, guild: &str) -> anyhow::Result<u64> {
    let state = stack.control.guild(guild.parse()?).await?;
    Ok(repeats(state.roles.iter().filter_map(|r| r["name"].as_str()))
        + repeats(state.channels.iter().filter_map(|c| c["name"].as_str())))
}

/// A guild of 90 ops (30 roles, 10 categories of 5 channels); its synthesis started.
async fn started_synthesis(stack: &SynthesisStack) -> anyhow::Result<String> {
    let guild = stack.guild(30, 10, 5).await;
    let (ok, text) = stack.shell("synthesis-start", &guild, &[]);
    anyhow::ensure!(ok, "{text}");
    Ok(guild)
}

async fn applied(stack: &SynthesisStack, guild: &str) -> u64 {
    stack.status(guild).await["applied"].as_u64().unwrap_or(0)
}

/// Waits for the guild's synthesis of 90 ops to finish.
async fn synthesis_done(stack: &SynthesisStack, guild: &str, started: Instant) -> anyhow::Result<Trial> {
    let done = until(Duration::from_secs(300), async || {
        let status = stack.status(guild).await;
        (status["applied"] == 90 && status["current_op"].is_null()).then_some(status)
    })
    .await;
    let failed = done.as_ref().map(|s| s["failed"].as_array().map_or(0, Vec::len)).unwrap_or(0);
    Ok(Trial {
        completed: done.is_some() && failed == 0,
        duplicates: discord_duplicates(stack, guild).await?,
        seconds: started.elapsed().as_secs_f64(),
        note: match done {
            Some(_) if failed > 0 => format!("{failed} ops failed"),
            Some(_) => String::new(),
            None => format!("stuck at {} of 90", applied(stack, guild).await),
        },
    })
}

async fn kill_synthesis(rng: &mut Rng) -> anyhow::Result<Trial> {
    let stack = SynthesisStack::start(50).await;
    let first = stack.worker();
    let started = Instant::now();
    let guild = started_synthesis(&stack).await?;
    let at = 5 + rng.below(60);
    until(Duration::from_secs(120), async || (applied(&stack, &guild).await >= at).then_some(())).await;
    first.kill();
    let _second = stack.worker();
    synthesis_done(&stack, &guild, started).await
}

async fn restart_mid_synthesis(what: &str, rng: &mut Rng) -> anyhow::Result<Trial> {
    let stack = SynthesisStack::start(50).await;
    let _worker = stack.worker();
    let started = Instant::now();
    let guild = started_synthesis(&stack).await?;
    let at = 5 + rng.below(50);
    until(Duration::from_secs(120), async || (applied(&stack, &guild).await >= at).then_some(())).await;
    let script = repo_root().join("scripts/dev");
    let out = run_shell(&format!("{} {what}", script.display()), &[]);
    anyhow::ensure!(out.status.success(), "scripts/dev {what}: {}", String::from_utf8_lossy(&out.stderr));
    synthesis_done(&stack, &guild, started).await
}

async fn fault_storm(_: &mut Rng) -> anyhow::Result<Trial> {
    let stack = SynthesisStack::start(50).await;
    let _worker = stack.worker();
    let control = stack.control.clone();
    let stormer = tokio::spawn(async move {
        // 30 s of it: 20 % of requests fail, and bursts of 429s hit whatever comes next.
        for i in 0..100u32 {
            let faults = arrakis_sim::Faults {
                error_rate: 0.2,
                storm_count: 3,
                storm_scope: Some(if i % 2 == 0 { "user" } else { "global" }.into()),
                storm_retry_after: 0.4,
                ..arrakis_sim::Faults::default()
            };
            let _ = control.set_faults(&faults).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let started = Instant::now();
    let guild = started_synthesis(&stack).await?;
    let trial = synthesis_done(&stack, &guild, started).await;
    stormer.abort();
    stack.control.set_faults(&arrakis_sim::Faults::default()).await?;
    trial
}

async fn kill_wizard(rng: &mut Rng) -> anyhow::Result<Trial> {
    let stack = SynthesisStack::start(50).await;
    let first = stack.worker();
    let guild = stack.new_guild().await;
    let manifest: CommunityManifest = serde_json::from_value(serde_json::json!({
        "guild_id": guild, "name": "Chaos", "mode": "exclusive", "chains": [1],
        "assets": [{"key": "spice", "chain_id": 1, "kind": "erc20", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}],
        "rules": {"holder": {"min_balance": {"asset": "spice", "amount": "1"}}},
        "roles": (0..30).map(|i| serde_json::json!({"key": format!("r{i}"), "name": format!("Tier {i}"), "grant": {"rule": "holder"}})).collect::<Vec<_>>(),
        "channels": {"strategy": "custom", "categories": (0..10).map(|c| serde_json::json!({
            "key": format!("c{c}"), "name": format!("Cat {c}"), "visible_to": [format!("r{c}")],
            "channels": (0..5).map(|n| serde_json::json!({"key": format!("c{c}-{n}"), "name": format!("ch-{c}-{n}")})).collect::<Vec<_>>()
        })).collect::<Vec<_>>()}
    }))?;
    let wizard = WizardDriver::new(&stack.task_queue, &guild, None).await;
    let started = Instant::now();
    wizard.start().await;
    wizard.answer(&manifest).await;
    wizard
        .submit(&StepAnswer::Review { confirm: true, removals: None })
        .await
        .map_err(anyhow::Error::msg)
        .context("REVIEW")?;
    tokio::time::sleep(Duration::from_millis(200 + rng.below(2_500))).await;
    first.kill();
    let _second = stack.worker();
    let outcome = tokio::time::timeout(Duration::from_secs(300), wizard.outcome()).await;
    let deployed = outcome.as_ref().is_ok_and(|o| o.status.deployed_version.is_some());
    let status = wizard.status().await;
    Ok(Trial {
        completed: deployed && status.step == WizardStep::Deploy,
        duplicates: discord_duplicates(&stack, &guild).await?,
        seconds: started.elapsed().as_secs_f64(),
        note: if deployed { String::new() } else { format!("wizard at {:?}", status.step) },
    })
}

async fn kill_shadow_sync(rng: &mut Rng) -> anyhow::Result<Trial> {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = shadow::chains_file(500).display().to_string();
    let env = [("ARRAKIS_CHAINS", chains.as_str())];
    let first = stack.worker_with(&env);
    let seeded = shadow::seed(&stack, &chain, 3_000, 10).await;
    let guild = seeded.guild.clone();
    let (ok, text) = stack.shell("incumbent-detect", &guild, &[]);
    anyhow::ensure!(ok, "{text}");
    let pages = async || {
        let reads = stack.control.reads("/guilds/{guild_id}/members").await.unwrap_or_default();
        reads
            .into_iter()
            .filter(|r| r.path.contains(guild.as_str()))
            .map(|r| r.query.unwrap_or_default())
            .collect::<Vec<_>>()
    };
    stack.control.set_faults(&arrakis_sim::Faults { latency_ms: 150, ..Default::default() }).await?;
    let started = Instant::now();
    let (ok, text) = stack.shell("shadow-sync-run", &guild, &[("PAGES_PER_RUN", "2")]);
    anyhow::ensure!(ok, "{text}");
    let at = 1 + rng.below(3) as usize;
    until(Duration::from_secs(60), async || (pages().await.len() >= at).then_some(())).await;
    first.kill();
    stack.control.set_faults(&arrakis_sim::Faults::default()).await?;
    let _second = stack.worker_with(&env);
    let finished = until(Duration::from_secs(300), async || {
        arrakis_tests::workflow_completed(&format!("shadow-sync-{guild}")).then_some(())
    })
    .await
    .is_some();
    let (_, text) = stack.shell("shadow-sync-status", &guild, &[]);
    let members = json_of(&text)["tally"]["members"].as_u64().unwrap_or(0);
    let reads = pages().await;
    let reread =
        reads.iter().map(|q| reads.iter().filter(|r| *r == q).count() as u64).filter(|n| *n > 2).count() as u64;
    let _ = run_shell(&format!("temporal schedule delete --schedule-id shadow-sync-{guild}"), &[]);
    Ok(Trial {
        completed: finished && members == 3_000,
        duplicates: members.saturating_sub(3_000) + reread,
        seconds: started.elapsed().as_secs_f64(),
        note: if members == 3_000 { String::new() } else { format!("{members} members counted") },
    })
}

async fn kill_member_sync(rng: &mut Rng) -> anyhow::Result<Trial> {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = shadow::chains_file(500).display().to_string();
    let env = [("ARRAKIS_CHAINS", chains.as_str())];
    let first: WorkerProcess = stack.worker_with(&env);
    let spec = ms::Spec { members: 1_000, linked_every: 40, holder_every: 1, whale_every: 5, hand_given: 0 };
    let g = ms::seed(&stack, &chain, spec).await;
    let before = stack.control.log(0).await?.len();
    let started = Instant::now();
    let (ok, _, text) =
        ms::shell(&stack, "member-sync-start", &g.guild, &[("SETTINGS", r#"{"revoke_confirm_secs": 2}"#)]);
    anyhow::ensure!(ok, "{text}");
    let writes = |log: &[arrakis_sim::LogEntry]| -> Vec<(String, String)> {
        log.iter().filter(|e| e.path.contains("/members/")).map(|e| (e.method.clone(), e.path.clone())).collect()
    };
    let at = 2 + rng.below(12) as usize;
    until(Duration::from_secs(120), async || {
        (writes(&stack.control.log(before as u64).await.unwrap_or_default()).len() >= at).then_some(())
    })
    .await;
    first.kill();
    let _second = stack.worker_with(&env);
    let roles = [g.holder, g.whale];
    let exact = until(Duration::from_secs(300), async || {
        (ms::held(&stack, &g.guild, &roles).await == g.expected).then_some(())
    })
    .await
    .is_some();
    let mut sent: BTreeMap<(String, String), u64> = BTreeMap::new();
    for write in writes(&stack.control.log(0).await?[before..]) {
        *sent.entry(write).or_default() += 1;
    }
    // The write in flight when the worker died may go twice; any other repeat is a duplicate.
    let repeated: u64 = sent.values().map(|n| n - 1).sum::<u64>().saturating_sub(1);
    let _ = ms::shell(&stack, "member-sync-stop", &g.guild, &[]);
    Ok(Trial {
        completed: exact,
        duplicates: repeated,
        seconds: started.elapsed().as_secs_f64(),
        note: if exact { String::new() } else { "roles differ from the holdings".into() },
    })
}

async fn trial(scenario: &str, rng: &mut Rng) -> anyhow::Result<Trial> {
    match scenario {
        "kill-synthesis" => kill_synthesis(rng).await,
        "kill-wizard" => kill_wizard(rng).await,
        "kill-shadow-sync" => kill_shadow_sync(rng).await,
        "kill-member-sync" => kill_member_sync(rng).await,
        "restart-temporal" => restart_mid_synthesis("restart-temporal", rng).await,
        "restart-postgres" => restart_mid_synthesis("restart-postgres", rng).await,
        "fault-storm" => fault_storm(rng).await,
        other => bail!("unknown scenario {other:?}: one of {SCENARIOS:?}"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut trials = 3u32;
    let mut chosen = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--trials" => trials = iter.next().context("--trials N")?.parse().context("--trials N: a number")?,
            name if SCENARIOS.contains(&name) => chosen.push(name.to_string()),
            other => bail!("unknown argument {other:?}: --trials N, or scenarios among {SCENARIOS:?}"),
        }
    }
    if chosen.is_empty() {
        chosen = SCENARIOS.iter().map(|s| s.to_string()).collect();
    }
    let seed = u64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos() % u128::from(u64::MAX),
    )? | 1;
    let mut rng = Rng(seed);
    println!("chaos: {trials} trial(s) per scenario, seed {seed}");
    let mut rows = Vec::new();
    for scenario in &chosen {
        let mut results = Vec::new();
        for n in 1..=trials {
            let result = trial(scenario, &mut rng).await.unwrap_or_else(|e| Trial {
                completed: false,
                duplicates: 0,
                seconds: 0.0,
                note: format!("trial error: {e:#}"),
            });
            println!(
                "  {scenario} #{n}: {} in {:.1} s, {} duplicate(s){}",
                if result.completed { "completed" } else { "NOT completed" },
                result.seconds,
                result.duplicates,
                if result.note.is_empty() { String::new() } else { format!(" ({})", result.note) }
            );
            results.push(result);
        }
        rows.push((scenario.clone(), results));
    }
    println!("\n| scenario | trials | completed | duplicates | median s | max s |");
    println!("|---|---|---|---|---|---|");
    for (scenario, results) in &rows {
        let mut seconds: Vec<f64> = results.iter().map(|r| r.seconds).collect();
        seconds.sort_by(f64::total_cmp);
        println!(
            "| {scenario} | {} | {} | {} | {:.1} | {:.1} |",
            results.len(),
            results.iter().filter(|r| r.completed).count(),
            results.iter().map(|r| r.duplicates).sum::<u64>(),
            seconds.get(seconds.len() / 2).copied().unwrap_or(0.0),
            seconds.last().copied().unwrap_or(0.0),
        );
    }
    Ok(())
}
