//! Shadow mode end to end on the real stack: incumbent detection, a 10,000-member sync that
//! finds exactly the divergences the balances imply and changes nothing in Discord, the
//! validation of its predictions by the next sync, a worker killed mid-sync, and
//! `/arrakis status` with its *Sync now* button.

use arrakis_sim::{ChannelSeed, Faults, MemberSeed, MembersSeed, RoleSeed};
use arrakis_tests::{
    SynthesisStack,
    chain::ChainFixture,
    json_of,
    operator::Operator,
    run_shell,
    shadow::{self, COLLABLAND_BOT, Divergence, ShadowGuild},
    wait_until, workflow_completed,
};
use std::{collections::BTreeSet, time::Duration};

const OPERATOR: u64 = 424_242_424_242_424_242;

/// Waits (3 minutes at most) until the latest run of `workflow_id` has completed.
async fn finished(workflow_id: &str) {
    wait_until(Duration::from_secs(180), workflow_id, || {
        let done = workflow_completed(workflow_id);
        async move { done.then_some(()) }
    })
    .await;
}

/// Runs one sync from the CLI, waits for it, and returns its final status.
async fn sync(stack: &SynthesisStack, guild: &str, pages_per_run: &str) -> serde_json::Value {
    let (ok, text) = stack.shell("shadow-sync-run", guild, &[("PAGES_PER_RUN", pages_per_run)]);
    assert!(ok, "{text}");
    finished(&format!("shadow-sync-{guild}")).await;
    let (ok, text) = stack.shell("shadow-sync-status", guild, &[]);
    assert!(ok, "{text}");
    json_of(&text)
}

async fn divergences(stack: &SynthesisStack, sync_id: &str) -> BTreeSet<Divergence> {
    let rows: Vec<Divergence> =
        sqlx::query_as("SELECT discord_user_id, role_key, kind FROM shadow_divergences WHERE sync_id = $1")
            .bind(sync_id)
            .fetch_all(&mut stack.db.admin().await)
            .await
            .expect("divergences");
    rows.into_iter().collect()
}

async fn members_seen(stack: &SynthesisStack, sync_id: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM shadow_member_state WHERE sync_id = $1")
        .bind(sync_id)
        .fetch_one(&mut stack.db.admin().await)
        .await
        .expect("member rows");
    n
}

fn unschedule(guild: &str) {
    run_shell(&format!("temporal schedule delete --schedule-id shadow-sync-{guild}"), &[]);
}

/// A seeded guild with its incumbent detected from the CLI.
async fn detected(stack: &SynthesisStack, chain: &ChainFixture, members: u64) -> ShadowGuild {
    let seeded = shadow::seed(stack, chain, members, 10).await;
    let (ok, text) = stack.shell("incumbent-detect", &seeded.guild, &[]);
    assert!(ok, "{text}");
    let outcome = json_of(&text);
    assert_eq!(outcome["finding"]["incumbent"], "collabland", "{text}");
    assert_eq!(outcome["schedule_id"], format!("shadow-sync-{}", seeded.guild), "{text}");
    seeded
}

fn tally(status: &serde_json::Value, field: &str) -> u64 {
    status["tally"][field].as_u64().unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_finds_exactly_the_known_divergences_changes_nothing_and_the_next_one_validates_it() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = shadow::chains_file(500);
    let _worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", &chains.display().to_string())]);
    let seeded = detected(&stack, &chain, 10_000).await;
    let guild = &seeded.guild;

    let first = sync(&stack, guild, "3").await;
    assert_eq!(first["phase"], "done", "{first}");
    assert_eq!(first["runs"], 3, "11 pages at 3 a run continue as new three times: {first}");
    assert_eq!(
        (tally(&first, "members"), tally(&first, "compared"), tally(&first, "unverified")),
        (10_000, 1_000, 9_000),
        "{first}"
    );
    assert_eq!((tally(&first, "would_grant"), tally(&first, "would_revoke")), (500, 250), "{first}");
    assert_eq!((tally(&first, "unknown"), tally(&first, "predictions_validated")), (0, 0), "{first}");
    let first_id = first["sync_id"].as_str().expect("sync id").to_string();
    assert_eq!(divergences(&stack, &first_id).await, seeded.expected, "exactly the divergences the balances imply");
    assert_eq!(members_seen(&stack, &first_id).await, 10_000);
    let summary = &first["summary"];
    assert_eq!((summary["mode"].as_str(), summary["incumbent"].as_str()), (Some("shadow"), Some("Collab.Land")));
    assert!(summary["accuracy"].is_null(), "nothing validated yet: {summary}");
    assert_eq!(summary["days_in_shadow"], 0, "{summary}");

    // Zero Discord mutations: the stand-in logged no request that changes anything.
    let log = stack.control.log(0).await.expect("log");
    assert!(log.is_empty(), "shadow mode changed Discord: {log:?}");

    // The incumbent catches up with 100 of Arrakis's grants; the next sync checks every
    // prediction of the first against what the incumbent holds now.
    let guild_id: u64 = guild.parse().expect("id");
    for user in &seeded.would_grant_holder[..100] {
        stack.control.set_member_roles(guild_id, *user, &[seeded.holder_role]).await.expect("incumbent grants");
    }
    let second = sync(&stack, guild, "20").await;
    assert_eq!(second["runs"], 0, "{second}");
    assert_eq!(tally(&second, "divergences"), 650, "{second}");
    // 2,000 predictions (1,000 members × 2 roles): 1,250 agreed, 100 came true since.
    assert_eq!((tally(&second, "predictions_validated"), tally(&second, "predictions_correct")), (2_000, 1_350));
    assert_eq!(second["summary"]["accuracy"], 0.675, "{second}");
    assert_eq!(second["summary"]["validated"], 2_000, "{second}");
    let caught_up = seeded.would_grant_holder[0] as i64;
    let second_id = second["sync_id"].as_str().expect("sync id");
    assert!(!divergences(&stack, second_id).await.iter().any(|d| d.0 == caught_up));
    assert!(stack.control.log(0).await.expect("log").is_empty(), "still no mutation");

    let (ok, text) =
        stack.shell("shadow-divergences", guild, &[("ARRAKIS_SERVICE_DATABASE_URL", &stack.db.service_url)]);
    assert!(ok && text.contains("650 rows") && text.contains("would_revoke"), "{text}");

    // Hand-written progress naming another guild's community is refused, and writes nothing.
    let other = stack.new_guild().await;
    let (ok, text) = stack.shell("incumbent-detect", &other, &[]);
    assert!(ok, "{text}");
    let (other_community,): (uuid::Uuid,) = sqlx::query_as("SELECT community_id FROM communities WHERE guild_id = $1")
        .bind(other.parse::<i64>().expect("id"))
        .fetch_one(&mut stack.db.admin().await)
        .await
        .expect("the other community");
    let plan =
        serde_json::json!({"community_id": other_community, "manifest_version": 1, "blocks": {}, "role_map": {}});
    let progress =
        serde_json::json!({"sync_id": "forged", "plan": plan, "after": null, "tally": first["tally"], "runs": 0});
    let forged = format!("shadow-sync-forged-{guild}");
    let input = serde_json::json!({"guild_id": guild, "progress": progress}).to_string();
    let started = run_shell(
        &format!(
            "temporal workflow start --type ShadowSync --task-queue {} --workflow-id {forged} --input \"$INPUT\"",
            stack.task_queue
        ),
        &[("INPUT", &input)],
    );
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    let failure = wait_until(Duration::from_secs(60), "the forged sync to fail", || {
        let shown = run_shell(&format!("temporal workflow show --workflow-id {forged}"), &[]);
        let shown = String::from_utf8_lossy(&shown.stdout).to_string();
        async move { shown.contains("WorkflowExecutionFailed").then_some(shown) }
    })
    .await;
    assert!(failure.contains("is not the community of guild"), "{failure}");
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM shadow_member_state WHERE community_id = $1")
        .bind(other_community)
        .fetch_one(&mut stack.db.admin().await)
        .await
        .expect("rows");
    assert_eq!(rows, 0, "nothing written into the other community");
    unschedule(guild);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_sync_resumes_from_its_last_page_and_counts_no_member_twice() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = shadow::chains_file(500);
    let chains_env = [("ARRAKIS_CHAINS", chains.display().to_string())];
    let chains_env: Vec<(&str, &str)> = chains_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let worker = stack.worker_with(&chains_env);
    let seeded = detected(&stack, &chain, 10_000).await;
    let guild = &seeded.guild;
    let pages_route = "/guilds/{guild_id}/members";
    let page_reads = async || {
        let reads = stack.control.reads(pages_route).await.expect("reads");
        reads.into_iter().filter(|r| r.path.contains(guild.as_str())).collect::<Vec<_>>()
    };

    // Every Discord answer takes 200 ms, so the 11 pages take seconds: time to kill.
    stack.control.set_faults(&Faults { latency_ms: 200, ..Faults::default() }).await.expect("latency");
    let (ok, text) = stack.shell("shadow-sync-run", guild, &[("PAGES_PER_RUN", "4")]);
    assert!(ok, "{text}");
    let read_before_kill = wait_until(Duration::from_secs(60), "4 pages read", || async {
        let n = page_reads().await.len();
        (n >= 4).then_some(n)
    })
    .await;
    worker.kill();
    assert!(read_before_kill < 11, "the sync was still running when the worker died");
    stack.control.set_faults(&Faults::default()).await.expect("no latency");
    let _replacement = stack.worker_with(&chains_env);

    finished(&format!("shadow-sync-{guild}")).await;
    let (ok, text) = stack.shell("shadow-sync-status", guild, &[]);
    assert!(ok, "{text}");
    let status = json_of(&text);
    assert_eq!((tally(&status, "members"), tally(&status, "pages")), (10_000, 11), "{status}");
    assert_eq!(tally(&status, "divergences"), 750, "{status}");
    let sync_id = status["sync_id"].as_str().expect("sync id");
    assert_eq!(divergences(&stack, sync_id).await, seeded.expected);
    assert_eq!(members_seen(&stack, sync_id).await, 10_000);

    // Resumed, not restarted: the first page was read once, and no page more than twice (the
    // one in flight when the worker died).
    let afters: Vec<Option<String>> = page_reads()
        .await
        .into_iter()
        .map(|r| r.query.unwrap_or_default().split('&').find_map(|kv| kv.strip_prefix("after=").map(str::to_owned)))
        .collect();
    assert_eq!(afters.iter().filter(|a| a.is_none()).count(), 1, "the first page was read again: {afters:?}");
    for after in &afters {
        assert!(afters.iter().filter(|a| *a == after).count() <= 2, "a page read three times: {afters:?}");
    }
    assert!((11..=12).contains(&afters.len()), "{} page reads for 11 pages: {afters:?}", afters.len());
    assert!(stack.control.log(0).await.expect("log").is_empty(), "no mutation");
    unschedule(guild);
}

/// A guild showing `bot`, `channel` and `role`; returns its id.
async fn guild_showing(stack: &SynthesisStack, bot: Option<u64>, channel: Option<&str>, role: Option<&str>) -> String {
    let guild = stack.new_guild().await;
    let id: u64 = guild.parse().expect("id");
    if let Some(bot) = bot {
        let seed = MemberSeed { id: Some(bot), username: Some("incumbent".into()), bot: true, ..MemberSeed::default() };
        stack.control.seed_members(id, &MembersSeed { members: vec![seed], generate: None }).await.expect("bot");
    }
    if let Some(name) = channel {
        stack.control.seed_channels(id, &[ChannelSeed { name: name.into(), ..Default::default() }]).await.expect("ch");
    }
    if let Some(name) = role {
        let seed = RoleSeed { name: name.into(), position: 1, managed: bot.is_some(), ..Default::default() };
        stack.control.seed_roles(id, &[seed]).await.expect("role");
    }
    guild
}

async fn incumbent_on_record(stack: &SynthesisStack, guild: &str) -> (Option<String>, Option<String>) {
    sqlx::query_as("SELECT incumbent, incumbent_source FROM communities WHERE guild_id = $1")
        .bind(guild.parse::<i64>().expect("id"))
        .fetch_one(&mut stack.db.admin().await)
        .await
        .expect("community")
}

fn scheduled(guild: &str) -> bool {
    run_shell(&format!("temporal schedule describe --schedule-id shadow-sync-{guild}"), &[]).status.success()
}

type Case = (Option<u64>, Option<&'static str>, Option<&'static str>, Option<&'static str>, f64);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_incumbent_is_detected_a_plain_guild_has_none_and_the_operator_overrides() {
    let stack = SynthesisStack::start(50).await;
    let _worker = stack.in_process_worker();
    // (bot among the members, channel, role) → (incumbent, confidence)
    let cases: [Case; 5] = [
        (Some(COLLABLAND_BOT), Some("collabland-join"), Some("Collab.Land"), Some("collabland"), 1.0),
        (Some(879_673_158_287_544_361), Some("matrica-verify"), None, Some("matrica"), 0.9),
        (Some(868_172_385_000_509_460), None, Some("Guild.xyz"), Some("guildxyz"), 0.8),
        (None, Some("verify"), Some("Holder"), None, 0.0),
        // What a removed bot leaves behind is not an incumbent.
        (None, Some("collabland-join"), Some("Collab.Land"), None, 0.3),
    ];
    let (mut collabland, mut plain) = (String::new(), String::new());
    let mut others = Vec::new();
    for (bot, channel, role, expected, confidence) in cases {
        let guild = guild_showing(&stack, bot, channel, role).await;
        let (ok, text) = stack.shell("incumbent-detect", &guild, &[]);
        assert!(ok, "{text}");
        let outcome = json_of(&text);
        assert_eq!(outcome["finding"]["incumbent"].as_str(), expected, "{text}");
        assert_eq!(outcome["finding"]["confidence"].as_f64(), Some(confidence), "{text}");
        assert_eq!(outcome["mode"], "shadow", "{text}");
        assert_eq!(scheduled(&guild), expected.is_some(), "a schedule exactly when an incumbent runs");
        assert_eq!(incumbent_on_record(&stack, &guild).await.0.as_deref(), expected);
        match expected {
            Some("collabland") => collabland = guild,
            Some(_) => others.push(guild),
            None if confidence == 0.0 => plain = guild,
            None => {}
        }
    }

    // A bad override is refused with the field named, and nothing changes.
    let (ok, text) = stack.shell("incumbent-override", &collabland, &[("INCUMBENT", "kraken")]);
    assert!(!ok && text.contains("override"), "{text}");
    assert_eq!(incumbent_on_record(&stack, &collabland).await.0.as_deref(), Some("collabland"));
    // The operator's word beats detection: no incumbent, no schedule.
    let (ok, text) = stack.shell("incumbent-override", &collabland, &[("INCUMBENT", "none")]);
    assert!(ok, "{text}");
    let outcome = json_of(&text);
    assert!(outcome["finding"]["incumbent"].is_null(), "{text}");
    assert_eq!(outcome["finding"]["source"], "operator", "{text}");
    assert!(!scheduled(&collabland));
    assert_eq!(incumbent_on_record(&stack, &collabland).await, (None, Some("operator".to_string())));

    // The operator names an incumbent detection found none of: its shadow days start and the
    // sync is scheduled. Then neither the runbook's digest line nor detecting again (each a
    // detection run without an override) takes the operator's word back.
    let (ok, text) = stack.shell("incumbent-override", &plain, &[("INCUMBENT", "collabland")]);
    assert!(ok, "{text}");
    let said = (Some("collabland".to_string()), Some("operator".to_string()));
    assert_eq!(incumbent_on_record(&stack, &plain).await, said);
    assert!(scheduled(&plain));
    let shadow_since = || async {
        let since: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("SELECT shadow_since FROM communities WHERE guild_id = $1")
                .bind(plain.parse::<i64>().expect("id"))
                .fetch_one(&mut stack.db.admin().await)
                .await
                .expect("community");
        since
    };
    let since = shadow_since().await;
    assert!(since.is_some(), "the override started the shadow days");
    for line in ["shadow-digest", "incumbent-detect"] {
        let (ok, text) = stack.shell(line, &plain, &[]);
        assert!(ok, "{line}: {text}");
        assert_eq!(json_of(&text)["kept"], true, "{line}: {text}");
        assert_eq!(incumbent_on_record(&stack, &plain).await, said, "{line} kept the operator's word");
        assert!(scheduled(&plain), "{line} kept the schedule");
        assert_eq!(shadow_since().await, since, "{line} kept the shadow days");
    }
    unschedule(&plain);
    others.iter().for_each(|guild| unschedule(guild));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_detects_on_join_and_status_shows_shadow_mode_with_a_sync_button() {
    let stack = SynthesisStack::start(50).await;
    let chain = ChainFixture::deploy().await;
    let chains = shadow::chains_file(500);
    let _worker = stack.in_process_worker_with(&[("ARRAKIS_CHAINS", &chains.display().to_string())]);
    let gateway = stack.gateway().await;

    // Joining a guild (GUILD_CREATE) starts its detection.
    let plain = stack.new_guild().await;
    finished(&format!("incumbent-detect-{plain}")).await;
    assert_eq!(incumbent_on_record(&stack, &plain).await, (None, Some("detected".to_string())));

    let seeded = shadow::seed(&stack, &chain, 300, 10).await;
    let guild = &seeded.guild;
    finished(&format!("incumbent-detect-{guild}")).await;
    let (ok, text) = stack.shell("incumbent-detect", guild, &[]);
    assert!(ok && json_of(&text)["finding"]["incumbent"] == "collabland", "{text}");
    // The operator opts in to the digest, in the channel the manifest names.
    let guild_id: u64 = guild.parse().expect("id");
    let ops = ChannelSeed { name: "arrakis-ops".into(), ..Default::default() };
    let ops = stack.control.seed_channels(guild_id, &[ops]).await.expect("ops channel")[0];
    let mut manifest = shadow::manifest(guild, &chain);
    manifest["operator_channel_id"] = ops.to_string().into();
    stack.publish(guild, manifest);
    let (ok, text) = stack.shell("shadow-digest", guild, &[]);
    assert!(ok, "{text}");
    let status = sync(&stack, guild, "20").await;
    assert_eq!(tally(&status, "divergences"), seeded.expected.len() as u64, "{status}");
    let digest = stack.control.channel_messages(ops).await.expect("messages");
    let digest = digest.iter().filter_map(|m| m["content"].as_str()).collect::<Vec<_>>().join("\n");
    assert!(digest.contains("Arrakis shadow sync") && digest.contains("300 members read"), "{digest}");
    assert!(digest.contains(&format!("Divergences: {}", seeded.expected.len())), "{digest}");

    let operator = Operator::admin(stack.control.clone(), guild.parse().expect("id"), OPERATOR, None);
    let answer = operator.command("status", &[]).await.expect("status");
    let text = answer.content();
    for line in [
        "Mode: shadow",
        "Incumbent: Collab.Land (100 % confidence)",
        "Accuracy: not measured yet",
        "Days in shadow: 0",
        "Last sync: ",
        "300 members",
        "Next sync: in ",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
    assert!(answer.offers("wiz:shadow-sync"), "a Sync now button: {text}");
    let pressed = operator.press("wiz:shadow-sync").await.expect("press");
    assert!(pressed.content().contains("Shadow sync started"), "{}", pressed.content());
    wait_until(Duration::from_secs(60), "the triggered run", || {
        let (_, runs) = stack.shell("shadow-sync-runs", guild, &[]);
        let scheduled_run = format!("shadow-sync-{guild}-");
        async move { runs.contains(&scheduled_run).then_some(()) }
    })
    .await;

    // The runbook's "sync now" triggers the same schedule (a run already going is not doubled).
    let (ok, text) = stack.shell("shadow-sync-now", guild, &[]);
    assert!(ok, "{text}");

    let plain_operator = Operator::admin(stack.control.clone(), plain.parse().expect("id"), OPERATOR, None);
    let answer = plain_operator.command("status", &[]).await.expect("status");
    assert!(answer.content().contains("Incumbent: none found"), "{}", answer.content());
    assert!(answer.content().contains("Next sync: not scheduled"), "{}", answer.content());
    assert!(!answer.offers("wiz:shadow-sync"));
    // A reconnect's GUILD_CREATE re-runs detection, which keeps the schedule: stop the
    // gateway and let any such run finish before removing it.
    drop(gateway);
    finished(&format!("incumbent-detect-{guild}")).await;
    unschedule(guild);
}
