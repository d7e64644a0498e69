//! The `arrakis-worker` binary as an operator runs it: a bad setting exits 2 naming the
//! variable; SIGTERM drains and exits 0; logs are JSON when asked.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

const WORKER: &str = env!("CARGO_BIN_EXE_arrakis-worker");

#[test]
fn a_bad_setting_exits_2_naming_the_variable() {
    let output = Command::new(WORKER)
        .env("DATABASE_URL", "postgres://x@127.0.0.1/x")
        .env("TEMPORAL_NAMESPACE", "two words")
        .output()
        .expect("the worker runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TEMPORAL_NAMESPACE"), "{stderr}");
}

#[test]
fn sigterm_drains_and_exits_cleanly_with_json_logs() {
    let database_url = std::env::var("DATABASE_URL").expect("DATABASE_URL: run with `scripts/dev test`");
    let mut child = Command::new(WORKER)
        .env("DATABASE_URL", database_url)
        .env("ARRAKIS_TASK_QUEUE", format!("test-{}", uuid::Uuid::new_v4().simple()))
        .env("ARRAKIS_HTTP_ADDR", "127.0.0.1:0")
        .env("ARRAKIS_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the worker starts");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let wait_for = |needle: &str, deadline: Duration| -> serde_json::Value {
        let start = Instant::now();
        loop {
            let left = deadline.checked_sub(start.elapsed()).unwrap_or_else(|| panic!("no log line with {needle:?}"));
            let line = lines.recv_timeout(left).unwrap_or_else(|_| panic!("no log line with {needle:?}"));
            let json: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
            if line.contains(needle) {
                return json;
            }
        }
    };
    let polling = wait_for("arrakis worker polling", Duration::from_secs(60));
    assert!(polling["fields"]["http"].as_str().is_some_and(|a| a.starts_with("127.0.0.1:")), "{polling}");

    let killed = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("kill runs");
    assert!(killed.success());
    wait_for("draining in-flight work", Duration::from_secs(10));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(40), "the worker did not exit within 40 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
}
