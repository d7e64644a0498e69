//! The incumbent's health from what Arrakis can see without a privileged intent: its bot's
//! member-role changes in the audit log and its verification channel's last message. An alert
//! reaches the operator once per worse level, with a button that activates Arrakis as backup
//! (a migration) only when pressed. An alert the channel refused is sent again at the next check.

use arrakis_sim::{ChannelSeed, Faults, MemberSeed, MembersSeed, RoleSeed};
use arrakis_tests::{
    SynthesisStack,
    chain::ChainFixture,
    member_sync::shell,
    migration::{COLLABLAND_BOT, manifest},
    operator::Operator,
    run_shell,
    shadow::chains_file,
    wait_until,
};
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const HOUR_MS: u64 = 3_600_000;
const OPERATOR: u64 = 700_000_000_000_000_043;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Runs the health check now (the runbook's line); its verdict.
fn check(stack: &SynthesisStack, guild: &str) -> Value {
    let (ok, verdict, text) = shell(stack, "incumbent-health", guild, &[]);
    assert!(ok, "{text}");
    verdict
}

async fn alerts(stack: &SynthesisStack, channel: u64) -> Vec<Value> {
    let all = stack.control.channel_messages(channel).await.expect("messages");
    all.into_iter().filter(|m| m["content"].as_str().is_some_and(|c| c.contains("may be down"))).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_incumbent_raises_one_alert_per_worse_level_and_backup_starts_only_when_pressed() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = chains_file(500);
    let worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", chains.to_str().expect("path"))]);
    let _gateway = stack.gateway().await;
    let guild = stack.new_guild().await;
    let guild_id: u64 = guild.parse().expect("id");
    let control = &stack.control;
    let roles = control
        .seed_roles(
            guild_id,
            &[
                RoleSeed { name: "Collab.Land".into(), position: 100, managed: true, ..Default::default() },
                RoleSeed { name: "Holder".into(), position: 90, ..Default::default() },
            ],
        )
        .await
        .expect("roles");
    let channels = control
        .seed_channels(
            guild_id,
            &[
                ChannelSeed { name: "arrakis-admin".into(), ..Default::default() },
                ChannelSeed {
                    name: "collabland-join".into(),
                    last_message_at_ms: Some(now_ms() - 10 * HOUR_MS),
                    ..Default::default()
                },
            ],
        )
        .await
        .expect("channels");
    let member = 300_000_000_000_000_007;
    let seed = |id: u64, bot: bool, roles: Vec<String>| MemberSeed {
        id: Some(id),
        bot,
        roles,
        long_standing: true,
        ..Default::default()
    };
    control
        .seed_members(
            guild_id,
            &MembersSeed {
                members: vec![seed(COLLABLAND_BOT, true, vec![roles[0].to_string()]), seed(member, false, Vec::new())],
                generate: None,
            },
        )
        .await
        .expect("members");
    // Collab.Land last gave a role 50 hours ago.
    control
        .set_member_roles_as(guild_id, member, &[roles[1]], COLLABLAND_BOT, Some(now_ms() - 50 * HOUR_MS))
        .await
        .expect("grant");
    stack.publish(&guild, manifest(&guild, &chain, channels[0]));

    // The operator's word puts the incumbent on record, and with it the health schedule.
    let (ok, _, text) = shell(&stack, "incumbent-override", &guild, &[("INCUMBENT", "collabland")]);
    assert!(ok, "{text}");
    let schedule = run_shell(&format!("temporal schedule describe --schedule-id incumbent-health-{guild}"), &[]);
    assert!(schedule.status.success(), "{}", String::from_utf8_lossy(&schedule.stderr));

    // The operator's channel refuses the first alert (403): the level is not on record as
    // told, so the next check sends it.
    let refuse = Faults { refuse: vec!["POST /channels/{channel_id}/messages".into()], ..Faults::default() };
    control.set_faults(&refuse).await.expect("faults");
    assert_eq!(check(&stack, &guild)["level"], "alert");
    assert!(alerts(&stack, channels[0]).await.is_empty(), "refused");
    control.set_faults(&Faults::default()).await.expect("faults");

    let alert = check(&stack, &guild);
    assert_eq!(alert["level"], "alert", "{alert}");
    assert_eq!(alert["role_update_age_hours"], 50);
    assert_eq!(alert["channel_age_hours"], 10);
    let sent = wait_until(Duration::from_secs(30), "the alert", || async {
        let a = alerts(&stack, channels[0]).await;
        (a.len() == 1).then_some(a)
    })
    .await;
    let text = sent[0]["content"].as_str().unwrap_or_default();
    assert!(text.contains("Collab.Land may be down** (alert)") && text.contains("50 h ago"), "{text}");
    assert_eq!(arrakis_sim::custom_ids(&sent[0]), ["inc:backup"]);

    // The same finding again: recorded, not sent again. Nothing was activated.
    assert_eq!(check(&stack, &guild)["level"], "alert");
    assert_eq!(alerts(&stack, channels[0]).await.len(), 1);
    let (_, none, _) = shell(&stack, "migration-status", &guild, &[]);
    assert!(none.is_null(), "no migration started by itself: {none}");

    // Worse: the bot left the server. Critical, sent once more.
    control.remove_member(guild_id, COLLABLAND_BOT).await.expect("the bot leaves");
    let critical = check(&stack, &guild);
    assert_eq!(critical["level"], "critical", "{critical}");
    wait_until(Duration::from_secs(30), "the critical alert", || async {
        (alerts(&stack, channels[0]).await.len() == 2).then_some(())
    })
    .await;

    // Only pressed, the backup starts: a migration in which Arrakis leads.
    let operator = Operator::admin(stack.control.clone(), guild_id, OPERATOR, Some(channels[0]));
    let answer = operator.press("inc:backup").await.expect("answer");
    assert!(answer.content().contains("Migration started"), "{}", answer.content());
    let started = wait_until(Duration::from_secs(120), "Arrakis leading", || async {
        let (_, s, _) = shell(&stack, "migration-status", &guild, &[]);
        (s["stage"] == "completed").then_some(s)
    })
    .await;
    assert_eq!((started["strategy"].as_str(), started["mode"].as_str()), (Some("arrakis_primary"), Some("primary")));
    assert!(started["forced"]["reason"].as_str().unwrap_or_default().contains("backup"), "{started}");
    let (ok, _, text) = shell(&stack, "migration-rollback", &guild, &[("REASON", "the incumbent is back")]);
    assert!(ok, "{text}");
    wait_until(Duration::from_secs(120), "the rollback", || async {
        let (_, s, _) = shell(&stack, "migration-status", &guild, &[]);
        (s["stage"] == "rolled_back").then_some(())
    })
    .await;
    let (ok, _, text) = shell(&stack, "incumbent-override", &guild, &[("INCUMBENT", "none")]);
    assert!(ok, "{text}");
    let gone = run_shell(&format!("temporal schedule describe --schedule-id incumbent-health-{guild}"), &[]);
    assert!(!gone.status.success(), "no incumbent, no health schedule");
    worker.shutdown().expect("drains");
}
