//! The one gate: every activity that changes Discord, tried in shadow mode, with the guild
//! frozen and with every guild frozen, sends nothing to Discord; the writer itself cannot be
//! had. (Messages to the operator are Arrakis talking, not changing the community: they are not
//! behind the gate, and none of these calls posts one.)

use arrakis_activities::{
    Store, SynthesisActivities,
    discord::{BudgetSettings, DiscordRest, DiscordSettings, Gate, GateClosed, RateBudget},
    eligibility::{EligibilityCache, EligibilityChecker},
    member_sync::MemberSyncActivities,
    score::{PgScoreStore, ScoreLookup},
};
use arrakis_schemas::{
    GuildId,
    plan::{self, AppliedIds, ItemKind},
    workflows::{
        member_sync::WriteBatch,
        reconcile::{DeleteExtra, ExtraItem},
        synthesis::{ApplyOp, OpAction, OrderRoles, Phase, SynthesisOp},
    },
};
use arrakis_tests::{SIM_TOKEN, SynthesisStack, stack_env};
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Closed {
    Shadow,
    FrozenGuild,
    GlobalFreeze,
}

async fn close(stack: &SynthesisStack, guild: &str, how: Closed, closed: bool) {
    let mut service = stack.db.store.service().await.expect("service");
    let guild_id: GuildId = guild.parse().expect("id");
    match how {
        Closed::Shadow => {
            drop(service);
            let mode = if closed { "shadow" } else { "exclusive" };
            stack.publish(guild, manifest(guild, mode));
            return;
        }
        Closed::FrozenGuild => assert!(service.set_community_freeze(guild_id, closed).await.expect("freeze").is_some()),
        Closed::GlobalFreeze => service.set_global_freeze(closed, "incident", "cli:test").await.expect("freeze"),
    }
    service.commit().await.expect("commit");
}

fn manifest(guild: &str, mode: &str) -> serde_json::Value {
    json!({
        "guild_id": guild, "name": "Gate", "mode": mode, "chains": [],
        "roles": [{"key": "naib", "name": "arrakis-naib", "grant": {"tier": "gold"}},
                  {"key": "fremen", "name": "arrakis-fremen", "grant": {"tier": "silver"}}],
        "channels": {"strategy": "custom", "categories": [{"key": "sietch", "name": "Sietch", "visible_to": ["naib"],
            "channels": [{"key": "council", "name": "council"}]}]}
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn every_mutating_activity_sends_nothing_in_shadow_mode_or_while_frozen() {
    let stack = SynthesisStack::start(50).await;
    let worker = stack.in_process_worker();
    let guild = stack.new_guild().await;
    let guild_id: GuildId = guild.parse().expect("id");
    stack.publish(&guild, manifest(&guild, "exclusive"));
    let (ok, text) = stack.shell("synthesis-run", &guild, &[]);
    assert!(ok, "{text}");

    // The activities, as the worker builds them, on the test's database and stand-in.
    let budget = RateBudget::connect(
        &stack_env("REDIS_URL"),
        BudgetSettings { bot_key: format!("gate-{}", uuid::Uuid::new_v4().simple()), ..BudgetSettings::default() },
    )
    .await
    .expect("redis");
    let settings = DiscordSettings {
        token: SIM_TOKEN.into(),
        api_base: Some(format!("http://{}", stack.sim.api_host())),
        per_guild_per_second: 50,
    };
    let store: Store = stack.db.store.clone();
    let gate = Gate::new(DiscordRest::new(&settings, budget), store.clone());
    let synthesis = SynthesisActivities::new(store.clone(), gate.clone(), None);
    let checker = EligibilityChecker::new(
        store.clone(),
        Default::default(),
        ScoreLookup::new(None, PgScoreStore::new(store.clone())),
        EligibilityCache::disabled(),
    );
    let members = MemberSyncActivities::new(store.clone(), gate.clone(), std::sync::Arc::new(checker));

    // What the guild holds, and a queued member write.
    let community = store.community_of(guild_id).await.expect("db").expect("community");
    let mut tx = store.tenant(community).await.expect("tenant");
    let states = tx.shadow_states().await.expect("states");
    tx.commit().await.expect("commit");
    let applied = arrakis_activities::applied_items(&states);
    let ids = AppliedIds::from(&applied);
    let (naib, fremen) =
        (ids.id(ItemKind::Role, "naib").expect("naib"), ids.id(ItemKind::Role, "fremen").expect("fremen"));
    let council = ids.id(ItemKind::Channel, "council").expect("council");
    // Swap the two roles by hand, so ordering them would move something.
    let http = reqwest::Client::new();
    let moved = http
        .patch(format!("http://{}/api/v10/guilds/{guild}/roles", stack.sim.api_host()))
        .header("authorization", format!("Bot {SIM_TOKEN}"))
        .json(&json!([{"id": naib.to_string(), "position": 1}, {"id": fremen.to_string(), "position": 2}]))
        .send()
        .await
        .expect("reorder");
    assert!(moved.status().is_success());
    let member: u64 = 900_000_000_000_000_009;
    stack
        .control
        .seed_members(
            guild_id.get(),
            &arrakis_sim::MembersSeed {
                members: vec![arrakis_sim::MemberSeed { id: Some(member), ..Default::default() }],
                generate: None,
            },
        )
        .await
        .expect("member");
    let mut admin = stack.db.admin().await;
    sqlx::query("INSERT INTO member_sync_writes (community_id, discord_user_id, role_id, role_key, action, why) VALUES ($1, $2, $3, 'naib', 'grant', 'test')")
        .bind(community.0)
        .bind(member as i64)
        .bind(naib as i64)
        .execute(&mut admin)
        .await
        .expect("a queued write");

    let desired = plan::desired_items(&serde_json::from_value(manifest(&guild, "exclusive")).expect("manifest"));
    let role_item = desired.iter().find(|e| e.key == "naib").expect("naib").item.clone();
    let op = |action: OpAction, discord_id: Option<u64>| ApplyOp {
        guild_id,
        community_id: community,
        version: 1,
        op: SynthesisOp {
            phase: Phase::Roles,
            key: if action == OpAction::Create { "newcomer".into() } else { "naib".into() },
            action,
            discord_id: discord_id.map(|id| id.to_string()),
            desired: role_item.clone(),
            desired_hash: plan::item_hash(&role_item),
        },
    };
    for how in [Closed::Shadow, Closed::FrozenGuild, Closed::GlobalFreeze] {
        close(&stack, &guild, how, true).await;
        let before = stack.control.log(0).await.expect("log").len();
        let refused = gate.open(guild_id, "a test").await.err().expect("the gate is shut");
        assert!(
            matches!((how, &refused), (Closed::Shadow, GateClosed::Shadow) | (_, GateClosed::Frozen { .. })),
            "{how:?}: {refused}"
        );
        assert!(synthesis.apply_op(&op(OpAction::Create, None), 1).await.is_err(), "{how:?}: create");
        assert!(synthesis.apply_op(&op(OpAction::Update, Some(naib)), 2).await.is_err(), "{how:?}: update");
        let order = OrderRoles { guild_id, community_id: community, version: 1, recreated: vec![] };
        assert!(synthesis.order_roles(&order).await.is_err(), "{how:?}: order");
        let extra = ExtraItem {
            kind: ItemKind::Channel,
            key: "council".into(),
            discord_id: council.to_string(),
            name: "council".into(),
            detail: None,
        };
        let delete = DeleteExtra { guild_id, community_id: community, item: extra, version: 1 };
        assert!(synthesis.delete_extra(&delete).await.is_err(), "{how:?}: delete");
        let written =
            members.write_queued(&WriteBatch { guild_id, max: 10 }, None).await.expect("a closed write answers");
        assert!(written.closed.is_some() && written.grants == 0 && written.remaining == 1, "{how:?}: {written:?}");
        let log = stack.control.log(0).await.expect("log");
        assert!(log[before..].is_empty(), "{how:?}: Discord received {:?}", &log[before..]);
        close(&stack, &guild, how, false).await;
    }
    // Open, but Discord failing: the write is counted as an error (a migration's error rate
    // sees it), stays queued, and the batch pauses instead of hammering.
    let failing = arrakis_sim::Faults { error_rate: 1.0, ..Default::default() };
    stack.control.set_faults(&failing).await.expect("faults");
    let written = members.write_queued(&WriteBatch { guild_id, max: 10 }, None).await.expect("an error answers");
    assert_eq!((written.requests, written.errored, written.grants, written.remaining), (1, 1, 0, 1), "{written:?}");
    assert!(written.closed.is_some(), "{written:?}");
    stack.control.set_faults(&arrakis_sim::Faults::default()).await.expect("faults");
    // Open again: the same calls go through.
    let written = members.write_queued(&WriteBatch { guild_id, max: 10 }, None).await.expect("write");
    assert_eq!((written.grants, written.remaining), (1, 0), "{written:?}");
    assert!(
        synthesis
            .order_roles(&OrderRoles { guild_id, community_id: community, version: 1, recreated: vec![] })
            .await
            .is_ok()
    );
    worker.shutdown().expect("drains");
}
