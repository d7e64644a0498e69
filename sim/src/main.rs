//! `discord-sim`: the Discord stand-in as a process, for the demo and for tests that run the
//! gateway and worker as separate processes.
//!
//! Environment: `DISCORD_SIM_ADDR` (REST and control API, default 127.0.0.1:3001),
//! `DISCORD_SIM_GATEWAY_ADDR` (default 127.0.0.1:3002), `DISCORD_SIM_TOKEN` (the bot token it
//! accepts), `DISCORD_SIM_APPLICATION_ID`, `DISCORD_SIM_SHARDS`.

use arrakis_sim::SimConfig;
use std::net::SocketAddr;

fn var<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v.parse().map_err(|_| format!("{name}: cannot parse {v:?}")),
        _ => Ok(default),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new("info")).init();
    let defaults = SimConfig::default();
    let parsed = (|| -> Result<(SocketAddr, SocketAddr, SimConfig), String> {
        let rest = var("DISCORD_SIM_ADDR", SocketAddr::from(([127, 0, 0, 1], 3001)))?;
        let gateway = var("DISCORD_SIM_GATEWAY_ADDR", SocketAddr::from(([127, 0, 0, 1], 3002)))?;
        let config = SimConfig {
            token: var("DISCORD_SIM_TOKEN", defaults.token.clone())?,
            application_id: var("DISCORD_SIM_APPLICATION_ID", defaults.application_id)?,
            shards: var("DISCORD_SIM_SHARDS", defaults.shards)?,
            ..defaults
        };
        Ok((rest, gateway, config))
    })();
    let (rest, gateway, config) = match parsed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("discord-sim: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match arrakis_sim::start(config, rest, gateway).await {
        Ok(sim) => {
            tracing::info!(rest = %sim.rest_addr(), gateway = %sim.gateway_url(), "discord-sim serving Discord API v10");
            let _ = tokio::signal::ctrl_c().await;
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("discord-sim: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
