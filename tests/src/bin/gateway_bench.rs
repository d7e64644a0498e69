//! Gateway benchmark, against the gateway as its own process on the stand-in:
//! - latency, measured by the stand-in from the interaction's creation: the acknowledgement (the
//!   first callback) and the complete answer (the first callback, or the edit or follow-up that
//!   completed a deferred one) of `/arrakis setup` (update-with-start) and of a modal submit (an
//!   update), with 1 and 100 operators at once, each quoted against the floor measured in the
//!   same run: a refused command, which needs no Temporal call. The 100-operator runs compare
//!   the SDK's workflow pollers with 16 (`ARRAKIS_WORKFLOW_POLLERS`), in the order A B B A;
//! - the process's resident memory with 0, 1,000 and 10,000 guilds (all judged before, as after
//!   the first start), and at 10,000 guilds with 100 operators going through the wizard;
//! - where the 100 wizards' first workflow tasks spent their time, from Temporal's history, on a
//!   worker with the SDK's workflow pollers and on one with 16;
//! - with `GATEWAY_BENCH_HEAPTRACK=<dir>`, heaptrack's profile of the heap at 10,000 guilds.
//!
//! ```sh
//! eval "$(scripts/dev env)" && cargo build --release -p arrakis-gateway -p arrakis-tests --bins
//! $CARGO_TARGET_DIR/release/gateway-bench
//! ```

use arrakis_gateway::{detections::Judged, redis_link::RedisLink};
use arrakis_tests::{SynthesisStack, http_get, operator::Operator, sibling_binary};
use std::{
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

fn percentile(samples: &mut [u64], p: f64) -> u64 {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(i).copied().unwrap_or(0)
}

/// One measured series.
struct Latency {
    scenario: String,
    samples: Vec<u64>,
}

/// The gateway binary, started on a stack; killed when dropped.
struct GatewayProcess {
    child: Child,
    addr: std::net::SocketAddr,
}

impl GatewayProcess {
    async fn start(stack: &SynthesisStack) -> anyhow::Result<Self> {
        Self::start_profiled(stack, None).await
    }

    /// With `heap_raw`, the gateway runs under heaptrack's preload library, which records
    /// every allocation to that file (read back by [`heap_profile`]).
    async fn start_profiled(stack: &SynthesisStack, heap_raw: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut command = Command::new(sibling_binary("arrakis-gateway"));
        if let Some(raw) = heap_raw {
            command.env("LD_PRELOAD", HEAPTRACK_PRELOAD).env("DUMP_HEAPTRACK_OUTPUT", raw);
        }
        let child = command
            .envs(stack.gateway_env())
            .env("ARRAKIS_GATEWAY_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()?;
        let gateway = Self { child, addr: std::net::SocketAddr::from(([127, 0, 0, 1], port)) };
        let started = Instant::now();
        while !matches!(http_get(gateway.addr, "/healthz").await, Ok((200, _))) {
            anyhow::ensure!(started.elapsed() < Duration::from_secs(60), "the gateway did not get ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(gateway)
    }

    async fn metric(&self, series: &str) -> f64 {
        let text = http_get(self.addr, "/metrics").await.map(|(_, body)| body).unwrap_or_default();
        text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
    }

    /// Waits until every GUILD_CREATE of the backlog has been read.
    async fn wait_for_guilds(&self, guilds: usize) -> anyhow::Result<()> {
        let started = Instant::now();
        while self.metric("arrakis_gateway_events_total{type=\"GUILD_CREATE\"}").await < guilds as f64 {
            anyhow::ensure!(started.elapsed() < Duration::from_secs(120), "the backlog did not arrive");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    fn rss_kib(&self) -> u64 {
        rss_kib(self.child.id())
    }
}

const HEAPTRACK_PRELOAD: &str = "/usr/lib/x86_64-linux-gnu/heaptrack/libheaptrack_preload.so";
const HEAPTRACK_INTERPRET: &str = "/usr/lib/x86_64-linux-gnu/heaptrack/libexec/heaptrack_interpret";

/// heaptrack's summary of a recorded run: peak heap, peak RSS, allocations, leaks, and the
/// call sites holding the most at the peak.
fn heap_profile(raw: &std::path::Path) -> anyhow::Result<String> {
    let zipped = raw.with_extension("gz");
    let script = format!("{HEAPTRACK_INTERPRET} < {} | gzip > {}", raw.display(), zipped.display());
    anyhow::ensure!(Command::new("sh").args(["-c", &script]).status()?.success(), "heaptrack_interpret failed");
    let out = Command::new("heaptrack_print")
        .args(["--print-peaks", "1", "--print-allocators", "0", "--print-temporary", "0", "--print-leaks", "0"])
        .args(["--peak-limit", "8", "--print-histogram", "0", "--merge-backtraces", "1"])
        .arg("-f")
        .arg(&zipped)
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A process's resident memory, in KiB (0 once it is gone).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

impl Drop for GatewayProcess {
    /// SIGTERM (the gateway closes its sessions), SIGKILL after 10 s.
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-s", "TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn operators(stack: &SynthesisStack, n: usize) -> anyhow::Result<Vec<Operator>> {
    let mut ops = Vec::new();
    for i in 0..n {
        let guild = stack.new_guild().await;
        ops.push(Operator::admin(stack.control.clone(), guild.parse()?, 500_000_000_000_000_000 + i as u64, None));
    }
    Ok(ops)
}

/// The worker's workflow pollers the 100-operator runs compare (`ARRAKIS_WORKFLOW_POLLERS`):
/// the SDK's (five, one on the shared queue, unless the server offers autoscaling), which is
/// Arrakis's default, and 16 polls with half on the shared queue.
const POLLERS: [(&str, &str); 2] =
    [("sdk", "the SDK's workflow pollers (the default)"), ("16", "16 workflow pollers (8 shared)")];

const SERIES: [&str; 5] = [
    "refused command (the floor: no Temporal call)",
    "/arrakis setup (update-with-start), acknowledged",
    "/arrakis setup, complete answer",
    "modal submit (update), acknowledged",
    "modal submit, complete answer",
];

/// Each operator runs `rounds` of: refused command (the floor), `/arrakis setup`
/// (update-with-start), the INIT form submit (an update), then back to INIT (so the next
/// round submits again).
async fn latency(ops: Vec<Operator>, rounds: usize) -> anyhow::Result<Vec<Latency>> {
    let n = ops.len();
    let tasks = ops.into_iter().map(|op| {
        tokio::spawn(async move {
            let mut out: [Vec<u64>; 5] = Default::default();
            for _ in 0..rounds {
                let mut outsider = op.clone();
                outsider.permissions = 0;
                let refused = outsider.command("status", &[]).await?;
                out[0].push(refused.ack_ms().unwrap_or(u64::MAX));
                let setup = op.command("setup", &[]).await?;
                anyhow::ensure!(setup.content().contains("step 1/8"), "{}", setup.content());
                out[1].push(setup.ack_ms().unwrap_or(u64::MAX));
                out[2].push(setup.answered_ms().unwrap_or(u64::MAX));
                let submitted = op
                    .submit("wiz:submit:INIT", &[("name", "Bench"), ("theme", "basic"), ("mode", "exclusive")])
                    .await?;
                anyhow::ensure!(submitted.content().contains("step 2/8"), "{}", submitted.content());
                out[3].push(submitted.ack_ms().unwrap_or(u64::MAX));
                out[4].push(submitted.answered_ms().unwrap_or(u64::MAX));
                op.press("wiz:back").await?;
            }
            anyhow::Ok(out)
        })
    });
    let mut all: [Vec<u64>; 5] = Default::default();
    for task in futures::future::join_all(tasks).await {
        for (i, samples) in task??.into_iter().enumerate() {
            all[i].extend(samples);
        }
    }
    Ok(all
        .into_iter()
        .zip(SERIES)
        .map(|(samples, name)| Latency { scenario: format!("{n} operator(s): {name}"), samples })
        .collect())
}

/// Where a wizard's first workflow task spent its time, from the server's history: the
/// `open` update of `/arrakis setup` (update-with-start) completes with that task.
#[derive(Default)]
struct FirstTask {
    /// Per batch of wizards started at once: first WorkflowExecutionStarted to the last.
    spreads: Vec<u64>,
    /// WorkflowTaskScheduled → WorkflowTaskStarted: waiting for a poller.
    queued: Vec<u64>,
    /// WorkflowTaskStarted → WorkflowTaskCompleted: the worker's turn.
    worked: Vec<u64>,
    /// WorkflowExecutionStarted → WorkflowTaskCompleted: all of it, server side.
    total: Vec<u64>,
}

impl FirstTask {
    /// Reads the first workflow task of each guild's wizard.
    async fn of(guilds: &[u64]) -> anyhow::Result<Self> {
        use temporalio_client::{WorkflowExecutionInfo, WorkflowFetchHistoryOptions};
        use temporalio_common::protos::temporal::api::enums::v1::EventType;
        let namespace = arrakis_tests::stack_env("TEMPORAL_NAMESPACE");
        let client = arrakis_tests::wizard::temporal_client().await;
        let mut out = Self::default();
        let mut started_at = Vec::new();
        for guild in guilds {
            let events = WorkflowExecutionInfo::builder()
                .namespace(namespace.clone())
                .workflow_id(arrakis_schemas::workflows::wizard::workflow_id(
                    guild.to_string().parse().map_err(anyhow::Error::msg)?,
                ))
                .build()
                .bind_untyped(client.clone())
                .fetch_history(WorkflowFetchHistoryOptions::default())
                .into_events()
                .await?;
            let at = |kind: EventType| {
                events.iter().find(|e| e.event_type() == kind).and_then(|e| e.event_time).and_then(|t| {
                    let t: std::time::SystemTime = t.try_into().ok()?;
                    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64)
                })
            };
            let times = (
                at(EventType::WorkflowExecutionStarted),
                at(EventType::WorkflowTaskScheduled),
                at(EventType::WorkflowTaskStarted),
                at(EventType::WorkflowTaskCompleted),
            );
            let (Some(started), Some(scheduled), Some(picked), Some(completed)) = times else {
                anyhow::bail!("the wizard of guild {guild} has no completed first workflow task");
            };
            started_at.push(started);
            out.queued.push(picked.saturating_sub(scheduled));
            out.worked.push(completed.saturating_sub(picked));
            out.total.push(completed.saturating_sub(started));
        }
        out.spreads.push(started_at.iter().max().zip(started_at.iter().min()).map_or(0, |(a, b)| a - b));
        Ok(out)
    }

    /// Adds another batch's figures.
    fn extend(&mut self, other: Self) {
        self.spreads.extend(other.spreads);
        self.queued.extend(other.queued);
        self.worked.extend(other.worked);
        self.total.extend(other.total);
    }

    fn print(mut self, n: usize, label: &str) {
        let spread = self.spreads.iter().max().copied().unwrap_or(0);
        println!();
        println!(
            "| {n} wizards started at once, in two batches, {label}: their first workflow task (server history) | p50 ms | p99 ms |"
        );
        println!("|---|---|---|");
        println!("| first start → last start accepted by the server (the slower batch) | {spread} | — |");
        for (name, samples) in [
            ("scheduled → picked up by a poller", &mut self.queued),
            ("picked up → completed by the worker", &mut self.worked),
            ("started → first task completed (the update's answer)", &mut self.total),
        ] {
            println!("| {name} | {} | {} |", percentile(samples, 0.5), percentile(samples, 0.99));
        }
    }
}

/// A fresh stack whose stand-in holds `guilds` guilds, every one already judged (as after the
/// bot's first start), with the gateway process connected and its backlog read.
async fn gateway_with(guilds: usize) -> anyhow::Result<(SynthesisStack, GatewayProcess)> {
    let stack = SynthesisStack::start(50).await;
    let ids = if guilds == 0 { Vec::new() } else { stack.control.create_guilds(guilds as u32).await? };
    let redis = Arc::new(RedisLink::new(&arrakis_tests::stack_env("REDIS_URL"))?);
    let judged = Judged::new(redis, &stack.task_queue);
    for id in &ids {
        judged.mark(*id).await;
    }
    let gateway = GatewayProcess::start(&stack).await?;
    gateway.wait_for_guilds(guilds).await?;
    Ok((stack, gateway))
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();

    let (stack, _gateway) = gateway_with(0).await?;
    let worker = stack.in_process_worker();
    let mut rows = latency(operators(&stack, 1).await?, 30).await?;
    drop(worker);
    // 100 operators at once, on a worker polling as the SDK does and on one with 16 pollers,
    // in the order A B B A: what the dev server gathers over the run (its
    // histories, its SQLite pages) then weighs on both settings alike.
    let mut series: Vec<Vec<Latency>> = POLLERS.iter().map(|_| Vec::new()).collect();
    let mut first_tasks: Vec<FirstTask> = POLLERS.iter().map(|_| FirstTask::default()).collect();
    for i in [0, 1, 1, 0] {
        let (pollers, label) = POLLERS[i];
        let worker = stack.in_process_worker_with(&[("ARRAKIS_WORKFLOW_POLLERS", pollers)]);
        let many = operators(&stack, 100).await?;
        let guilds: Vec<u64> = many.iter().map(|op| op.guild).collect();
        let measured = latency(many, 2).await?;
        if series[i].is_empty() {
            series[i] = measured
                .into_iter()
                .map(|row| Latency { scenario: format!("{}, {label}", row.scenario), samples: row.samples })
                .collect();
        } else {
            for (row, more) in series[i].iter_mut().zip(measured) {
                row.samples.extend(more.samples);
            }
        }
        first_tasks[i].extend(FirstTask::of(&guilds).await?);
        drop(worker);
    }
    rows.extend(series.into_iter().flatten());
    drop((_gateway, stack));
    println!("| scenario | samples | p50 ms | p99 ms | p99 against the floor's p99 |");
    println!("|---|---|---|---|---|");
    for chunk in rows.chunks_mut(SERIES.len()) {
        let floor = percentile(&mut chunk[0].samples, 0.99).max(1);
        let floor_name = chunk[0].scenario.clone();
        for row in chunk.iter_mut() {
            let (p50, p99) = (percentile(&mut row.samples, 0.5), percentile(&mut row.samples, 0.99));
            let ratio = p99 as f64 / floor as f64;
            println!("| {} | {} | {p50} | {p99} | {ratio:.1}× |", row.scenario, row.samples.len());
            arrakis_tests::figures::report(
                "gateway-bench",
                row.scenario.clone(),
                format!("p50 {p50} ms, p99 {p99} ms"),
                format!("{floor_name}: p99 {floor} ms"),
                format!("{ratio:.1}× its p99"),
            );
        }
    }

    for (first, (_, label)) in first_tasks.into_iter().zip(POLLERS) {
        first.print(100, label);
    }

    println!();
    println!("| gateway process | RSS MB | MB per 1,000 guilds above no guild |");
    println!("|---|---|---|");
    let (stack, gateway) = gateway_with(0).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let base = gateway.rss_kib();
    drop((gateway, stack));
    println!("| no guild | {:.1} | baseline |", mb(base));
    for guilds in [1_000, 10_000] {
        let (stack, gateway) = gateway_with(guilds).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = gateway.rss_kib();
        let per_thousand = (mb(rss) - mb(base)) / (guilds as f64 / 1000.0);
        println!("| {guilds} guilds | {:.1} | {per_thousand:.2} |", mb(rss));
        arrakis_tests::figures::report(
            "gateway-bench",
            format!("gateway resident memory with {guilds} guilds"),
            format!("{:.1} MB ({per_thousand:.2} MB per 1,000 guilds)", mb(rss)),
            format!("no guild: {:.1} MB", mb(base)),
            arrakis_tests::figures::times(rss as f64, base as f64),
        );
        if guilds == 10_000 {
            // 100 operators through the wizard meanwhile: the peak, sampled every 50 ms.
            let _worker = stack.in_process_worker();
            let peak = Arc::new(AtomicU64::new(rss));
            let pid = gateway.child.id();
            let sampler = {
                let peak = peak.clone();
                tokio::spawn(async move {
                    loop {
                        peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                })
            };
            latency(operators(&stack, 100).await?, 2).await?;
            sampler.abort();
            let (peak, after) = (peak.load(Ordering::Relaxed), gateway.rss_kib());
            println!("| {guilds} guilds, 100 operators active: peak | {:.1} | — |", mb(peak));
            println!("| {guilds} guilds, after the operators | {:.1} | — |", mb(after));
            arrakis_tests::figures::report(
                "gateway-bench",
                format!("gateway resident memory with {guilds} guilds and 100 operators active (peak)"),
                format!("{:.1} MB", mb(peak)),
                format!("{guilds} guilds idle: {:.1} MB", mb(rss)),
                arrakis_tests::figures::times(peak as f64, rss as f64),
            );
        }
    }
    // On demand: where the gateway's heap goes at 10,000 guilds, allocation by allocation.
    if let Ok(dir) = std::env::var("GATEWAY_BENCH_HEAPTRACK") {
        let raw = std::path::Path::new(&dir).join("gateway-10000-guilds.raw");
        let stack = SynthesisStack::start(50).await;
        let ids = stack.control.create_guilds(10_000).await?;
        let judged = Judged::new(Arc::new(RedisLink::new(&arrakis_tests::stack_env("REDIS_URL"))?), &stack.task_queue);
        for id in &ids {
            judged.mark(*id).await;
        }
        let gateway = GatewayProcess::start_profiled(&stack, Some(&raw)).await?;
        gateway.wait_for_guilds(10_000).await?;
        let rss = gateway.rss_kib();
        drop((gateway, stack));
        println!();
        println!("heap profile of the gateway at 10,000 guilds (RSS under heaptrack {:.1} MB):", mb(rss));
        let profile = heap_profile(&raw)?;
        let summary: Vec<&str> = profile
            .lines()
            .skip_while(|l| !l.starts_with("MOST MEMORY CONSUMED") && !l.starts_with("PEAK MEMORY"))
            .collect();
        println!("{}", if summary.is_empty() { profile.trim().to_string() } else { summary.join("\n") });
    }
    Ok(())
}
