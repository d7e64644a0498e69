//! `arrakis-demo`: what Arrakis is for, played against the Discord stand-in on the dev stack's
//! anvil. An operator sets up a community with the wizard's pickers (a chain select, an asset
//! looked up by its address, a rule, a role, the theme's channel template), reviews the plan and
//! deploys it; then a member links a wallet with `/verify` and receives the role, and a transfer
//! on anvil takes it away again after member sync's confirming read. Each step prints one line;
//! the Temporal Web UI link comes last. `scripts/dev run` starts it when no `DISCORD_TOKEN` is
//! set (`--demo-then-exit` stops the stack's Arrakis processes afterwards, as CI runs it).
//!
//! Environment (all exported by `scripts/dev run`): `ARRAKIS_DEMO_SIM_URL` (the stand-in),
//! `ARRAKIS_GATEWAY_HTTP_ADDR`, `ARRAKIS_TEMPORAL_UI`, `ARRAKIS_ANVIL_URL`.

use alloy::{primitives::U256, signers::local::PrivateKeySigner};
use anyhow::{Context, bail};
use arrakis_sim::{GuildSeed, MemberSeed, MembersSeed, SimClient};
use arrakis_tests::{
    chain::{ANVIL_CHAIN_ID, ChainFixture, personal_sign},
    http_get,
    operator::{Answer, Operator, planned},
};
use std::{
    future::Future,
    time::{Duration, Instant},
};

/// The operator's and the member's Discord user ids.
const OPERATOR: u64 = 100_000_000_000_000_001;
const MEMBER: u64 = 100_000_000_000_000_077;

fn say(text: &str) {
    println!("\x1b[1m[demo]\x1b[0m {text}");
}

/// The first line of an answer, for a step's one line.
fn headline(answer: &Answer) -> String {
    answer.content().lines().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_string()
}

/// Fails unless `answer` says `expected`: the demo stops at the first step that went wrong.
fn expect(answer: Answer, step: &str, expected: &str) -> anyhow::Result<Answer> {
    if !answer.content().contains(expected) {
        bail!("{step}: expected \"{expected}\" in the answer, got:\n{}", answer.content());
    }
    Ok(answer)
}

/// Polls `check` every half second until it answers, or fails naming `what` after `limit`.
async fn within<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = check().await? {
            return Ok(found);
        }
        if Instant::now() > deadline {
            bail!("{what} did not happen within {} s", limit.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// True when `user` holds `role` in the stand-in (read past the bot's rate limits).
async fn holds(control: &SimClient, guild: u64, user: u64, role: u64) -> anyhow::Result<bool> {
    Ok(control.member_roles(guild).await?.get(&user).is_some_and(|roles| roles.contains(&role)))
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

    within(Duration::from_secs(60), "the gateway's shards connecting to the Discord stand-in", || async {
        Ok(matches!(http_get(gateway, "/healthz").await, Ok((200, _))).then_some(()))
    })
    .await?;
    let chain = ChainFixture::deploy().await;
    say(&format!("anvil (chain {ANVIL_CHAIN_ID}): test tokens deployed, SPICE (ERC-20) at {}", chain.erc20));

    let guild = control
        .create_guild(&GuildSeed {
            name: "Sietch Tabr (demo)".into(),
            bot_role_position: Some(100),
            ..GuildSeed::default()
        })
        .await?;
    let seeds: Vec<arrakis_sim::ChannelSeed> =
        serde_json::from_value(serde_json::json!([{"name": "setup", "type": 0}, {"name": "ops", "type": 0}]))?;
    let channels = control.seed_channels(guild, &seeds).await?;
    let (setup, ops) = (channels[0], channels[1].to_string());
    let op = Operator::admin(control.clone(), guild, OPERATOR, Some(setup));

    let opened = op.command("setup", &[]).await?;
    say(&format!("/arrakis setup in a new guild {guild}: {}", headline(&opened)));
    let init = op
        .form(
            "wiz:open:INIT",
            &[("name", "Sietch Tabr"), ("theme", "basic"), ("mode", "exclusive"), ("operator_channel", &ops)],
        )
        .await?;
    let init = expect(init, "1/8 community", "step 2/8")?;
    say(&format!("1/8 community: named Sietch Tabr, basic theme, exclusive, reports to #ops; {}", headline(&init)));
    let chains = expect(op.select("wiz:chains", &[&ANVIL_CHAIN_ID.to_string()]).await?, "2/8 chains", "step 3/8")?;
    say(&format!("2/8 chains: picks anvil in the select; {}", headline(&chains)));
    let address = chain.erc20.to_checksum(None);
    let found = op.form("wiz:asset:add", &[("chain_id", "31337"), ("address", &address), ("token_id", "")]).await?;
    let found = expect(found, "3/8 assets", "SPICE (Spice), ERC-20, 18 decimals")?;
    expect(op.press_on(&found, "wiz:asset:confirm").await?, "3/8 assets", "`spice`")?;
    expect(op.press("wiz:asset:next").await?, "3/8 assets", "step 4/8")?;
    say("3/8 assets: pastes the SPICE address; the chain says SPICE (Spice), ERC-20, 18 decimals; confirmed");
    let rule = op.form("wiz:pick:holds", &[("asset", "spice"), ("amount", "100"), ("key", "spice-holder")]).await?;
    expect(rule, "4/8 rules", "`spice-holder`")?;
    expect(op.press("wiz:next:ELIGIBILITY_RULES").await?, "4/8 rules", "step 5/8")?;
    say("4/8 rules: spice-holder = holds at least 100 SPICE");
    let role = op
        .form("wiz:pick:role", &[("name", "Spice Holder"), ("grant", "rule:spice-holder"), ("color", "15844367")])
        .await?;
    expect(role, "5/8 roles", "**Spice Holder**")?;
    expect(op.press("wiz:next:ROLE_MAPPING").await?, "5/8 roles", "step 6/8")?;
    say("5/8 roles: Spice Holder, for members who meet spice-holder");
    expect(op.press("wiz:template").await?, "6/8 channels", "Spice Holder")?;
    let review = expect(op.press("wiz:next:CHANNEL_STRUCTURE").await?, "6/8 channels", "step 7/8")?;
    say("6/8 channels: the theme's template, a category with a chat and a voice channel for the role");
    let planned = planned(&review.content());
    if planned.is_empty() {
        bail!("7/8 review: no plan shown:\n{}", review.content());
    }
    say(&format!("7/8 review: the plan creates {}", planned.join(", ")));

    expect(op.press("wiz:deploy").await?, "8/8 deploy", "step 8/8")?;
    within(Duration::from_secs(120), "the deploy", || async {
        let answer = op.press("wiz:refresh").await?;
        if answer.content().contains("stopped") {
            bail!("8/8 deploy stopped:\n{}", answer.content());
        }
        Ok(answer.content().contains("Deployed").then_some(()))
    })
    .await?;
    let state = control.guild(guild).await?;
    let names = |items: &[serde_json::Value]| {
        items.iter().filter_map(|i| i["name"].as_str().map(str::to_string)).collect::<Vec<_>>().join(", ")
    };
    say(&format!(
        "8/8 deploy: done; the guild's roles are now {}; its channels {}",
        names(&state.roles),
        names(&state.channels)
    ));
    let role_id = state
        .roles
        .iter()
        .find(|r| r["name"] == "Spice Holder")
        .and_then(|r| r["id"].as_str()?.parse::<u64>().ok())
        .context("the Spice Holder role exists")?;

    // A member links a wallet that holds 150 SPICE and receives the role.
    let key = PrivateKeySigner::random();
    chain.mint_erc20(key.address(), U256::from(150u64) * U256::from(10u64).pow(U256::from(18u64))).await;
    control
        .seed_members(
            guild,
            &MembersSeed { members: vec![MemberSeed { id: Some(MEMBER), ..MemberSeed::default() }], generate: None },
        )
        .await?;
    let member = Operator::member(control.clone(), guild, MEMBER);
    let wallet = key.address().to_checksum(None);
    let challenge = member.slash("verify", &[("address", &wallet)]).await?;
    let content = challenge.content();
    let text = content
        .split_once("```\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(text, _)| text.to_string())
        .context("/verify shows the text to sign")?;
    member.press("verify:sign").await?;
    let linked = Instant::now();
    expect(
        member.submit("verify:signature", &[("signature", &personal_sign(&key, &text))]).await?,
        "/verify",
        "Linked",
    )?;
    say(&format!("a member links {wallet} (150 SPICE) with /verify and signs the challenge"));
    within(Duration::from_secs(60), "the grant of Spice Holder", || async {
        Ok(holds(&control, guild, MEMBER, role_id).await?.then_some(()))
    })
    .await?;
    say(&format!("member sync grants them Spice Holder {:.1} s after the link", linked.elapsed().as_secs_f64()));

    // They sell: a transfer away, and the role goes after the confirming read.
    chain.burn_erc20(key.address(), U256::from(150u64) * U256::from(10u64).pow(U256::from(18u64))).await;
    let sold = Instant::now();
    say("they move their 150 SPICE away on anvil; member sync confirms at a later block before revoking");
    within(Duration::from_secs(240), "the revocation of Spice Holder", || async {
        Ok((!holds(&control, guild, MEMBER, role_id).await?).then_some(()))
    })
    .await?;
    say(&format!("Spice Holder revoked {:.0} s after the transfer", sold.elapsed().as_secs_f64()));
    say(&format!(
        "the workflows of this guild: {ui}/namespaces/arrakis/workflows?query=ArrakisGuildId%3D%22{guild}%22"
    ));
    Ok(())
}
