//! `bench-all`: every bench, one after the other, and then every figure they measured in one
//! table, each beside the baseline measured in the same run, under a description of this
//! machine. Each bench also prints its own tables as it goes.
//!
//! ```sh
//! scripts/dev bench                       # builds in release and runs this
//! $CARGO_TARGET_DIR/release/bench-all [--quick] [bench …]
//! ```
//! `--quick` is passed to the benches that have it (smaller sizes); naming benches runs only
//! those (`synthesis-bench`, `eligibility-bench`, …).

use arrakis_tests::{figures, sibling_binary};
use std::process::Command;

/// Every bench, in the order they run (cheap ones first).
const BENCHES: [(&str, bool); 8] = [
    ("discord-sim-bench", false),
    ("eligibility-bench", false),
    ("synthesis-bench", false),
    ("gateway-bench", false),
    ("wizard-bench", false),
    ("shadow-bench", false),
    ("member-sync-bench", true),
    ("migration-bench", true),
];

fn first_line(command: &str, args: &[&str]) -> String {
    Command::new(command)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or_default().trim().to_string())
        .unwrap_or_default()
}

fn proc_field(file: &str, key: &str) -> String {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

/// What the figures were measured on.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!(
        "- CPU: {} ({cores} cores available)\n- memory: {}\n- kernel: {}\n- {}\n- commit: {}\n- when: {}",
        proc_field("/proc/cpuinfo", "model name"),
        proc_field("/proc/meminfo", "MemTotal"),
        first_line("uname", &["-sr"]),
        first_line("rustc", &["--version"]),
        first_line("git", &["rev-parse", "--short", "HEAD"]),
        first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
    )
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let chosen: Vec<&str> = args.iter().filter(|a| !a.starts_with("--")).map(String::as_str).collect();
    let file = std::env::temp_dir().join(format!("arrakis-figures-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let mut failed = Vec::new();
    for (bench, has_quick) in BENCHES {
        if !chosen.is_empty() && !chosen.contains(&bench) {
            continue;
        }
        println!("\n## {bench}\n");
        let mut command = Command::new(sibling_binary(bench));
        command.env(figures::FIGURES_FILE, &file);
        if quick && has_quick {
            command.arg("--quick");
        }
        let status = command.status()?;
        if !status.success() {
            failed.push(bench);
        }
    }
    println!("\n# Every figure, with its same-run baseline\n\n{}\n", machine());
    println!("| bench | figure | value | baseline (same run) | vs baseline |");
    println!("|---|---|---|---|---|");
    for f in figures::read(&file) {
        println!("| {} | {} | {} | {} | {} |", f.bench, f.figure, f.value, f.baseline, f.vs_baseline);
    }
    let _ = std::fs::remove_file(&file);
    anyhow::ensure!(failed.is_empty(), "benches that failed: {failed:?}");
    Ok(())
}
