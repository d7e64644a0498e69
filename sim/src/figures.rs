//! One table of every figure the benches measure (the stand-in's own and Arrakis's). Each
//! bench reports its figures here as it prints its own table; `bench-all` runs them all with
//! `ARRAKIS_BENCH_FIGURES` pointing at a file and prints the figures as one table, each beside
//! the baseline measured in the same run, under a description of the machine.

use serde::{Deserialize, Serialize};
use std::io::Write;

/// The file the figures go to (one JSON object a line); unset, nothing is written.
pub const FIGURES_FILE: &str = "ARRAKIS_BENCH_FIGURES";

/// One measured figure and its same-run baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// The bench that measured it.
    pub bench: String,
    /// What was measured, e.g. `10,000 balance checks, Multicall3 500 per call`.
    pub figure: String,
    /// The value, with its unit, e.g. `412 ms`.
    pub value: String,
    /// The baseline it is compared with, measured in the same run, with its value.
    pub baseline: String,
    /// The comparison, e.g. `24.1× faster`.
    pub vs_baseline: String,
}

/// Reports a figure (best effort: a bench never fails because the file cannot be written).
pub fn report(
    bench: &str,
    figure: impl Into<String>,
    value: impl Into<String>,
    baseline: impl Into<String>,
    vs_baseline: impl Into<String>,
) {
    let Ok(path) = std::env::var(FIGURES_FILE) else { return };
    let figure = Figure {
        bench: bench.to_string(),
        figure: figure.into(),
        value: value.into(),
        baseline: baseline.into(),
        vs_baseline: vs_baseline.into(),
    };
    let line = serde_json::to_string(&figure).unwrap_or_default();
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(file, "{line}");
    }
}

/// The figures reported to `path`, in order.
pub fn read(path: &std::path::Path) -> Vec<Figure> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// `a / b` as a ratio for a table: `12.3×`.
pub fn times(a: f64, b: f64) -> String {
    if b == 0.0 { "n/a".into() } else { format!("{:.1}×", a / b) }
}
