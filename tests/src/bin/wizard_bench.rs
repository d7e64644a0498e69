//! Wizard benchmark: operators who only click and fill fields set up a community on anvil
//! (an ERC-20 and an ERC-721 looked up by address, a rule, the theme's tiers and a role, the
//! theme's channels, deploy), all at once, each in their own guild. For every step it prints
//! the p50 and p99 of the complete answer as the stand-in measured it (the first callback, or
//! the edit that completed a deferred one), and of the acknowledgement, each against the floor
//! measured in the same run: a refused command, which needs no Temporal call.
//!
//! ```sh
//! eval "$(scripts/dev env)" && cargo build --release -p arrakis-worker -p arrakis-gateway -p arrakis-tests --bins
//! $CARGO_TARGET_DIR/release/wizard-bench [operators]      # default 10
//! ```

use anyhow::{Context, ensure};
use arrakis_tests::{SynthesisStack, chain::ChainFixture, operator::Answer, operator::Operator};
use std::collections::BTreeMap;

/// The steps, in the order an operator meets them.
const STEPS: [&str; 18] = [
    "refused command (the floor: no Temporal call)",
    "/arrakis setup",
    "INIT: the form opens",
    "INIT: submitted",
    "CHAIN_SELECT: chain chosen",
    "ASSET_CONFIG: the lookup form opens",
    "ASSET_CONFIG: looked up (chain read)",
    "ASSET_CONFIG: confirmed",
    "ASSET_CONFIG: next",
    "a picker opens (rule, role)",
    "ELIGIBILITY_RULES: rule added",
    "ELIGIBILITY_RULES: next",
    "ROLE_MAPPING: the theme's tiers",
    "ROLE_MAPPING: role added",
    "ROLE_MAPPING: next",
    "CHANNEL_STRUCTURE: the theme's template",
    "CHANNEL_STRUCTURE: next (REVIEW's plan read from Discord)",
    "REVIEW: deploy",
];

fn percentile(samples: &mut [u64], p: f64) -> u64 {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(i).copied().unwrap_or(0)
}

/// One operator's timings: (step, acknowledged ms, answered ms).
type Timings = Vec<(&'static str, u64, u64)>;

fn timed(out: &mut Timings, step: &'static str, answer: &Answer) {
    out.push((step, answer.ack_ms().unwrap_or(u64::MAX), answer.answered_ms().unwrap_or(u64::MAX)));
}

/// Submits the modal a press opened, with `fields`.
async fn through_form(
    op: &Operator,
    out: &mut Timings,
    steps: [&'static str; 2],
    button: &str,
    fields: &[(&str, &str)],
) -> anyhow::Result<Answer> {
    let modal = op.press(button).await?;
    ensure!(modal.kind() == 9, "{button} opens a form: {:?}", modal.callback());
    timed(out, steps[0], &modal);
    let id = modal.custom_ids().into_iter().next().context("the form's id")?;
    let answer = op.submit(&id, fields).await?;
    timed(out, steps[1], &answer);
    Ok(answer)
}

/// One operator's whole setup, the answers checked as they come.
async fn session(op: Operator, contracts: (String, String)) -> anyhow::Result<Timings> {
    let mut out = Timings::new();
    let mut outsider = op.clone();
    outsider.permissions = 0;
    timed(&mut out, STEPS[0], &outsider.command("status", &[]).await?);
    let setup = op.command("setup", &[]).await?;
    ensure!(setup.content().contains("step 1/8"), "{}", setup.content());
    timed(&mut out, STEPS[1], &setup);
    let fields = [("name", "Sietch Tabr"), ("theme", "basic"), ("mode", "exclusive")];
    let init = through_form(&op, &mut out, [STEPS[2], STEPS[3]], "wiz:open:INIT", &fields).await?;
    ensure!(init.content().contains("step 2/8"), "{}", init.content());
    let chains = op.select("wiz:chains", &["31337"]).await?;
    ensure!(chains.content().contains("step 3/8"), "{}", chains.content());
    timed(&mut out, STEPS[4], &chains);
    for address in [contracts.0.as_str(), contracts.1.as_str()] {
        let fields = [("chain_id", "31337"), ("address", address), ("token_id", "")];
        let found = through_form(&op, &mut out, [STEPS[5], STEPS[6]], "wiz:asset:add", &fields).await?;
        ensure!(found.content().contains("right?"), "{}", found.content());
        timed(&mut out, STEPS[7], &op.press("wiz:asset:confirm").await?);
    }
    let rules = op.press("wiz:asset:next").await?;
    ensure!(rules.content().contains("step 4/8"), "{}", rules.content());
    timed(&mut out, STEPS[8], &rules);
    let owned =
        through_form(&op, &mut out, [STEPS[9], STEPS[10]], "wiz:pick:owns", &[("asset", "worm"), ("key", "")]).await?;
    ensure!(owned.content().contains("`worm-holder`"), "{}", owned.content());
    let roles = op.press("wiz:next:ELIGIBILITY_RULES").await?;
    ensure!(roles.content().contains("step 5/8"), "{}", roles.content());
    timed(&mut out, STEPS[11], &roles);
    timed(&mut out, STEPS[12], &op.press("wiz:tiers").await?);
    let fields = [("name", "Worm Rider"), ("grant", "rule:worm-holder"), ("color", "3447003")];
    let role = through_form(&op, &mut out, [STEPS[9], STEPS[13]], "wiz:pick:role", &fields).await?;
    ensure!(role.content().contains("**Worm Rider**"), "{}", role.content());
    let channels = op.press("wiz:next:ROLE_MAPPING").await?;
    ensure!(channels.content().contains("step 6/8"), "{}", channels.content());
    timed(&mut out, STEPS[14], &channels);
    timed(&mut out, STEPS[15], &op.press("wiz:template").await?);
    let review = op.press("wiz:next:CHANNEL_STRUCTURE").await?;
    ensure!(review.content().contains("step 7/8"), "{}", review.content());
    timed(&mut out, STEPS[16], &review);
    let deploy = op.press("wiz:deploy").await?;
    ensure!(deploy.content().contains("step 8/8"), "{}", deploy.content());
    timed(&mut out, STEPS[17], &deploy);
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let operators: usize = std::env::args().nth(1).map_or(Ok(10), |n| n.parse()).context("operators: a number")?;
    let stack = SynthesisStack::start(50).await;
    let chains = arrakis_tests::shadow::chains_file(100);
    let _worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", &chains.display().to_string())]);
    let _gateway = stack.gateway().await;
    let contracts = ChainFixture::deploy().await;
    let addresses = (contracts.erc20.to_checksum(None), contracts.erc721.to_checksum(None));
    let mut sessions = Vec::new();
    for i in 0..operators {
        let guild: u64 = stack.new_guild().await.parse()?;
        let op = Operator::admin(stack.control.clone(), guild, 600_000_000_000_000_000 + i as u64, None);
        sessions.push(tokio::spawn(session(op, addresses.clone())));
    }
    let mut by_step: BTreeMap<&str, (Vec<u64>, Vec<u64>)> = BTreeMap::new();
    for session in sessions {
        for (step, ack, answered) in session.await?? {
            let entry = by_step.entry(step).or_default();
            entry.0.push(ack);
            entry.1.push(answered);
        }
    }
    let floor = by_step.get_mut(STEPS[0]).map_or(1, |(_, answered)| percentile(answered, 0.99).max(1));
    println!(
        "| {operators} operators at once: step | samples | ack p99 ms | answer p50 ms | answer p99 ms | answer p99 against the floor's p99 |"
    );
    println!("|---|---|---|---|---|---|");
    for step in STEPS {
        let Some((acks, answers)) = by_step.get_mut(step) else { continue };
        let ack = percentile(acks, 0.99);
        let (p50, p99) = (percentile(answers, 0.5), percentile(answers, 0.99));
        let ratio = p99 as f64 / floor as f64;
        println!("| {step} | {} | {ack} | {p50} | {p99} | {ratio:.1}× |", answers.len());
        arrakis_tests::figures::report(
            "wizard-bench",
            format!("{operators} operators: {step}"),
            format!("answer p50 {p50} ms, p99 {p99} ms (ack p99 {ack} ms)"),
            format!("{}: p99 {floor} ms", STEPS[0]),
            format!("{ratio:.1}× its p99"),
        );
    }
    Ok(())
}
