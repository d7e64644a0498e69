//! The runbook's lines run as an operator runs them (#27): in the environment `scripts/dev env`
//! gives, in a shell without `pipefail`. The metrics lint once curled `http:///metrics` (the
//! gateway's address was not exported) and passed, since `promtool` accepts empty input.

use arrakis_tests::{run_runbook, run_shell};
use std::net::SocketAddr;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// Serves `body` as `text/plain` to every request, until the test ends.
async fn serve(body: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    addr
}

/// An address nothing listens on.
async fn dead() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr")
}

#[tokio::test]
async fn the_metrics_lint_fails_on_a_page_it_cannot_fetch_or_an_empty_one() {
    let out = run_shell("scripts/dev env", &[]);
    let env = String::from_utf8_lossy(&out.stdout);
    assert!(env.contains("export ARRAKIS_GATEWAY_HTTP_ADDR=\"127.0.0.1:"), "scripts/dev env names the gateway: {env}");
    assert!(env.contains("export ARRAKIS_HTTP_ADDR=\"127.0.0.1:"), "and the worker: {env}");

    let page = "# HELP arrakis_probe_total A probe.\n# TYPE arrakis_probe_total counter\narrakis_probe_total 1\n";
    let (good, empty, dead) = (serve(page).await.to_string(), serve("").await.to_string(), dead().await.to_string());
    for (worker, gateway, passes) in [
        (&good, &good, true),
        (&good, &dead, false),
        (&dead, &good, false),
        (&good, &empty, false),
        (&empty, &good, false),
    ] {
        let (w, g) = (worker.clone(), gateway.clone());
        let lint = tokio::task::spawn_blocking(move || {
            run_runbook("metrics-lint", &[("ARRAKIS_HTTP_ADDR", &w), ("ARRAKIS_GATEWAY_HTTP_ADDR", &g)])
        })
        .await
        .expect("ran");
        let text = format!("{}{}", String::from_utf8_lossy(&lint.stdout), String::from_utf8_lossy(&lint.stderr));
        assert_eq!(lint.status.success(), passes, "worker {worker}, gateway {gateway}: {text}");
    }
}

/// Every block of the runbook marked `runbook-test` is run by some test: its name appears,
/// quoted, in the tests' sources (each feature's tests run its lines through `run_runbook`).
/// A line no test runs could be wrong unseen; `member-sync-pause` and `-resume` once were.
#[test]
fn every_runbook_line_is_run_by_a_test() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let runbook = std::fs::read_to_string(root.join("../docs/runbook.md")).expect("runbook");
    let names: Vec<&str> =
        runbook.lines().filter_map(|l| l.trim().strip_prefix("<!-- runbook-test: ")?.strip_suffix(" -->")).collect();
    assert!(names.len() > 50, "the runbook's blocks were found: {names:?}");
    let mut sources = String::new();
    for dir in ["src", "src/bin", "tests"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("tests' sources").flatten() {
            let path = entry.path();
            // This file names no line to run one; leave it out so the check can fail.
            if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("runbook_env.rs") {
                sources.push_str(&std::fs::read_to_string(&path).expect("source"));
            }
        }
    }
    let unrun: Vec<&&str> = names.iter().filter(|n| !sources.contains(&format!("\"{n}\""))).collect();
    assert!(unrun.is_empty(), "runbook lines no test runs: {unrun:?}");
}
