//! `arrakis-demo`: plays a community operator through the setup wizard against the Discord
//! stand-in, so a newcomer sees the whole path — slash command, modals, REVIEW's plan, DEPLOY —
//! and then the roles and channels in the stand-in and the workflows in the Temporal Web UI.
//! `scripts/dev run` starts it when no `DISCORD_TOKEN` is set.
//!
//! Environment: `ARRAKIS_DEMO_SIM_URL` (the stand-in's control API, default
//! `http://127.0.0.1:3001`), `ARRAKIS_GATEWAY_HTTP_ADDR` (default `127.0.0.1:9465`),
//! `ARRAKIS_TEMPORAL_UI` (default `http://127.0.0.1:8233`).

use anyhow::{Context, bail};
use arrakis_sim::{GuildSeed, SimClient};
use arrakis_tests::{
    http_get,
    operator::{Answer, Operator, demo},
};
use std::time::{Duration, Instant};

fn say(text: &str) {
    println!("\x1b[1m[demo]\x1b[0m {text}");
}

fn show(answer: &Answer) {
    for line in answer.content().lines().take(14) {
        println!("        │ {line}");
    }
}

async fn step(op: &Operator, title: &str, form: &str, fields: &[(&str, &str)]) -> anyhow::Result<()> {
    say(&format!("{title}: presses the button, fills the form, submits"));
    let answer = op.fill(form, fields).await?;
    show(&answer);
    if answer.content().contains("not accepted") {
        bail!("the wizard refused the demo's answer: {}", answer.content());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sim_url = std::env::var("ARRAKIS_DEMO_SIM_URL").unwrap_or_else(|_| "http://127.0.0.1:3001".into());
    let gateway: std::net::SocketAddr = std::env::var("ARRAKIS_GATEWAY_HTTP_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:9465".into())
        .parse()
        .context("ARRAKIS_GATEWAY_HTTP_ADDR: an ip:port")?;
    let ui = std::env::var("ARRAKIS_TEMPORAL_UI").unwrap_or_else(|_| "http://127.0.0.1:8233".into());
    let control = SimClient::new(&sim_url);

    say("waiting for the gateway's shards to connect to the Discord stand-in…");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(http_get(gateway, "/healthz").await, Ok((200, _))) {
        if Instant::now() > deadline {
            bail!("the gateway at {gateway} was not ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let guild = control
        .create_guild(&GuildSeed {
            name: "Sietch Tabr (demo)".into(),
            bot_role_position: Some(100),
            ..GuildSeed::default()
        })
        .await?;
    let seed = serde_json::from_value(serde_json::json!({"name": "setup", "type": 0}))?;
    let channel = control.seed_channels(guild, &[seed]).await?[0];
    say(&format!("a guild {guild} with a #setup channel; an operator with Manage Server runs /arrakis setup"));
    let op = Operator::admin(control.clone(), guild, 100_000_000_000_000_001, Some(channel));

    show(&op.command("setup", &[]).await?);
    step(&op, "1/8 community", "INIT", &[("name", demo::NAME), ("theme", "sietch"), ("mode", "exclusive")]).await?;
    say("2/8 chains: picks Ethereum in the select");
    show(&op.select("wiz:chains", &["1"]).await?);
    step(&op, "3/8 assets", "ASSET_CONFIG", &[("assets", demo::ASSETS)]).await?;
    step(&op, "4/8 eligibility rules", "ELIGIBILITY_RULES", &[("rules", demo::RULES)]).await?;
    step(&op, "5/8 roles", "ROLE_MAPPING", &[("roles", demo::ROLES)]).await?;
    step(&op, "6/8 channels (REVIEW follows, with the plan)", "CHANNEL_STRUCTURE", &[("channels", demo::CHANNELS)])
        .await?;
    say("7/8 review: presses Deploy");
    show(&op.press("wiz:deploy").await?);

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answer = op.press("wiz:refresh").await?;
        if answer.content().contains("Deployed") || answer.content().contains("stopped") {
            say("8/8 deploy:");
            show(&answer);
            break;
        }
        if Instant::now() > deadline {
            bail!("the deploy did not finish within 120 s: {}", answer.content());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let state = control.guild(guild).await?;
    let names = |items: &[serde_json::Value]| {
        items.iter().filter_map(|i| i["name"].as_str().map(str::to_string)).collect::<Vec<_>>().join(", ")
    };
    say(&format!("roles in the guild now: {}", names(&state.roles)));
    say(&format!("channels in the guild now: {}", names(&state.channels)));
    say(&format!(
        "the workflows of this guild: {ui}/namespaces/arrakis/workflows?query=ArrakisGuildId%3D%22{guild}%22"
    ));
    Ok(())
}
