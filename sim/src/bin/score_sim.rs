//! `score-sim`: the Score Service stand-in as a process, for the demo and for tests that run
//! the worker as a separate process.
//!
//! Environment: `SCORE_SIM_ADDR` (default 127.0.0.1:3003), `SCORE_SIM_API_KEY` (the bearer
//! token it accepts, default `dev-score-key`).

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let addr = std::env::var("SCORE_SIM_ADDR").unwrap_or_else(|_| "127.0.0.1:3003".into());
    let Ok(addr) = addr.parse::<SocketAddr>() else {
        eprintln!("score-sim: SCORE_SIM_ADDR: expected host:port, got {addr:?}");
        return std::process::ExitCode::from(2);
    };
    let key = std::env::var("SCORE_SIM_API_KEY").unwrap_or_else(|_| "dev-score-key".into());
    match arrakis_sim::start_score_sim(addr, &key).await {
        Ok(sim) => {
            println!("score-sim serving the Score Service API v1 on {}", sim.url());
            let _ = tokio::signal::ctrl_c().await;
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("score-sim: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
