//! twilight-gateway against the stand-in: identify, READY, GUILD_CREATE, an injected
//! interaction answered through twilight-http, resumes, close codes, sharding, member chunks.

mod common;

use arrakis_sim::{Action, GenerateMembers, InjectInteraction, MembersSeed, SimConfig};
use common::{TOKEN, guild, http, next_matching, shard, start, start_default};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use twilight_gateway::{ConfigBuilder, EventTypeFlags, Intents, Shard, ShardId, StreamExt, queue::Queue};
use twilight_model::{
    application::interaction::InteractionData,
    gateway::{event::Event, payload::outgoing::RequestGuildMembers},
    http::interaction::{InteractionResponse, InteractionResponseData, InteractionResponseType},
    id::Id,
};

const WAIT: Duration = Duration::from_secs(10);

fn slash(guild_id: u64, name: &str) -> InjectInteraction {
    InjectInteraction {
        message_content: None,
        guild_id: Some(guild_id),
        channel_id: None,
        user_id: Some(700_000_000_000_000_001),
        member_permissions: None,
        action: Action::SlashCommand { name: name.into(), subcommand: Some("setup".into()), options: vec![] },
    }
}

#[tokio::test]
async fn a_shard_identifies_receives_its_guild_and_answers_an_interaction() {
    let (sim, control) = start_default().await;
    let guild_id = guild(&control, "Sietch Tabr").await;
    let mut shard = shard(&sim, TOKEN, 0, 1, Intents::GUILDS | Intents::GUILD_MEMBERS);

    let ready = next_matching(&mut shard, WAIT, |e| if let Event::Ready(r) = e { Some(r.clone()) } else { None }).await;
    assert_eq!(ready.guilds.len(), 1);
    let created =
        next_matching(&mut shard, WAIT, |e| if let Event::GuildCreate(g) = e { Some(g.id()) } else { None }).await;
    assert_eq!(created.get(), guild_id);

    let (id, _token) = control.inject(&slash(guild_id, "arrakis")).await.expect("inject");
    let interaction =
        next_matching(&mut shard, WAIT, |e| if let Event::InteractionCreate(i) = e { Some(i.0.clone()) } else { None })
            .await;
    assert_eq!(interaction.id.get(), id);
    let Some(InteractionData::ApplicationCommand(command)) = &interaction.data else { panic!("a slash command") };
    assert_eq!(command.name, "arrakis");

    let client = http(&sim, TOKEN);
    let response = InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: Some(InteractionResponseData {
            flags: Some(twilight_model::channel::message::MessageFlags::EPHEMERAL),
            ..Default::default()
        }),
    };
    client
        .interaction(interaction.application_id)
        .create_response(interaction.id, &interaction.token, &response)
        .await
        .expect("callback");
    client
        .interaction(interaction.application_id)
        .update_response(&interaction.token)
        .content(Some("Working on it"))
        .await
        .expect("edit original");
    client
        .interaction(interaction.application_id)
        .create_followup(&interaction.token)
        .content("Done")
        .await
        .expect("follow-up");

    let report = control.interaction(id, 1000).await.expect("report");
    assert_eq!(report.callbacks.len(), 1);
    assert_eq!(report.callbacks[0]["type"], 5);
    assert!(report.acknowledged_after_ms.is_some_and(|ms| ms < 3000));
    assert_eq!(report.original.as_ref().map(|o| o["content"].clone()), Some("Working on it".into()));
    assert_eq!(report.followups[0]["content"], "Done");

    // A second acknowledgement is refused with 40060.
    let err = client
        .interaction(interaction.application_id)
        .create_response(interaction.id, &interaction.token, &response)
        .await
        .expect_err("twice");
    assert!(format!("{err:?}").contains("40060"), "{err:?}");
    assert!(control.counters().await.expect("counters").contract_violations.is_empty());
}

#[tokio::test]
async fn a_late_callback_is_an_unknown_interaction_and_modals_follow_the_docs() {
    // 400 ms: short enough to wait out, long enough that a loaded CI machine still answers the
    // modal callbacks below in time.
    let (sim, control) = start(SimConfig { response_deadline_ms: 400, ..SimConfig::default() }).await;
    let guild_id = guild(&control, "Late").await;
    let client = http(&sim, TOKEN);
    let app = Id::new(SimConfig::default().application_id);
    let pong = InteractionResponse { kind: InteractionResponseType::DeferredChannelMessageWithSource, data: None };

    let (id, token) = control.inject(&slash(guild_id, "arrakis")).await.expect("inject");
    // Wait for the (lowered) deadline to pass: the condition is the clock itself.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let err = client.interaction(app).create_response(Id::new(id), &token, &pong).await.expect_err("late");
    assert!(format!("{err:?}").contains("10062"), "{err:?}");

    // Modals: an action row holding a text input is refused; a Label holding it is accepted.
    let (id, token) = control.inject(&slash(guild_id, "arrakis")).await.expect("inject");
    let raw = |body: serde_json::Value| {
        let url = format!("http://{}/api/v10/interactions/{id}/{token}/callback", sim.api_host());
        async move { reqwest::Client::new().post(url).json(&body).send().await.expect("callback") }
    };
    let old_style = serde_json::json!({"type": 9, "data": {"custom_id": "wizard:init", "title": "Set up", "components": [
        {"type": 1, "components": [{"type": 4, "custom_id": "name", "style": 1, "label": "Name"}]}
    ]}});
    let response = raw(old_style).await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["code"], 50035, "{body}");
    let too_long_title = serde_json::json!({"type": 9, "data": {"custom_id": "wizard:init", "title": "x".repeat(46), "components": [
        {"type": 18, "label": "Name", "component": {"type": 4, "custom_id": "name", "style": 1}}
    ]}});
    assert_eq!(raw(too_long_title).await.status(), 400);
    let label = serde_json::json!({"type": 9, "data": {"custom_id": "wizard:init", "title": "Set up", "components": [
        {"type": 18, "label": "Community name", "component": {"type": 4, "custom_id": "name", "style": 1}}
    ]}});
    let _ = control.set_limits(&Default::default()).await;
    let response = raw(label).await;
    // The deadline here is 50 ms: the raw call may be late; what matters is that a Label modal
    // passes validation (not 50035).
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    assert!(status == 204 || body["code"] == 10062, "{status} {body}");
}

#[tokio::test]
async fn follow_ups_stop_when_the_token_expires() {
    let (sim, control) = start(SimConfig { token_lifetime_ms: 300, ..SimConfig::default() }).await;
    let guild_id = guild(&control, "Expiry").await;
    let client = http(&sim, TOKEN);
    let app = Id::new(SimConfig::default().application_id);
    let (id, token) = control.inject(&slash(guild_id, "arrakis")).await.expect("inject");
    let deferred = InteractionResponse { kind: InteractionResponseType::DeferredChannelMessageWithSource, data: None };
    client.interaction(app).create_response(Id::new(id), &token, &deferred).await.expect("in time");
    client.interaction(app).create_followup(&token).content("still valid").await.expect("within the lifetime");
    // Wait for the (lowered) token lifetime to pass: the condition is the clock itself.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let err = client.interaction(app).create_followup(&token).content("too late").await.expect_err("expired");
    assert!(format!("{err:?}").contains("50027"), "{err:?}");
}

#[tokio::test]
async fn bad_identifies_get_discords_close_codes() {
    let (sim, control) = start(SimConfig { privileged_intents: false, ..SimConfig::default() }).await;
    guild(&control, "Closed").await;
    let close_code = |mut s: twilight_gateway::Shard| async move {
        tokio::time::timeout(WAIT, async move {
            loop {
                match s.next_event(EventTypeFlags::all()).await {
                    Some(Ok(Event::GatewayClose(Some(frame)))) => return frame.code,
                    Some(_) => {}
                    None => panic!("stopped without a close frame"),
                }
            }
        })
        .await
        .expect("closed in time")
    };
    assert_eq!(close_code(shard(&sim, "wrong", 0, 1, Intents::GUILDS)).await, 4004);
    assert_eq!(close_code(shard(&sim, TOKEN, 0, 1, Intents::GUILDS | Intents::GUILD_MEMBERS)).await, 4014);
}

#[tokio::test]
async fn shards_receive_only_their_guilds() {
    let (sim, control) = start(SimConfig { shards: 2, ..SimConfig::default() }).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(guild(&control, &format!("g{i}")).await);
    }
    for shard_id in 0..2u32 {
        let mut s = shard(&sim, TOKEN, shard_id, 2, Intents::GUILDS);
        let ready = next_matching(&mut s, WAIT, |e| if let Event::Ready(r) = e { Some(r.clone()) } else { None }).await;
        let expected: Vec<u64> = ids.iter().copied().filter(|g| (g >> 22) % 2 == u64::from(shard_id)).collect();
        let got: Vec<u64> = ready.guilds.iter().map(|g| g.id.get()).collect();
        assert_eq!(got, expected, "shard {shard_id}");
    }
}

/// Holds a shard's IDENTIFY until the test lets it go (`Queue` is how twilight paces them).
struct HeldIdentify(mpsc::UnboundedSender<oneshot::Sender<()>>);

impl Queue for HeldIdentify {
    fn enqueue(&self, _shard: u32) -> oneshot::Receiver<()> {
        let (go, wait) = oneshot::channel();
        let _ = self.0.send(go);
        wait
    }
}

async fn next_event(events: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(WAIT, events.recv()).await.expect("an event within the deadline").expect("the shard runs")
}

#[tokio::test]
async fn a_guild_created_while_a_shard_identifies_is_announced_once() {
    let (sim, control) = start_default().await;
    let (held_tx, mut held) = mpsc::unbounded_channel();
    let config = ConfigBuilder::new(TOKEN.to_string(), Intents::GUILDS)
        .proxy_url(sim.gateway_url())
        .queue(HeldIdentify(held_tx))
        .build();
    let mut shard = Shard::with_config(ShardId::ONE, config);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(item) = shard.next_event(EventTypeFlags::all()).await {
            if let Ok(event) = item
                && events_tx.send(event).is_err()
            {
                break;
            }
        }
    });
    // Connected (HELLO received), not yet identified: the guild is created now.
    let go = tokio::time::timeout(WAIT, held.recv()).await.expect("the shard queues its identify").expect("queue");
    let during = guild(&control, "Created while identifying").await;
    go.send(()).expect("the shard waits");
    while !matches!(next_event(&mut events).await, Event::Ready(_)) {}
    let after = guild(&control, "Created after READY").await;

    let mut announced = Vec::new();
    while announced.last() != Some(&after) {
        if let Event::GuildCreate(g) = next_event(&mut events).await {
            announced.push(g.id().get());
        }
    }
    assert_eq!(announced, [during, after], "each guild's GUILD_CREATE once, in order");
}

#[tokio::test]
async fn a_dropped_connection_resumes_and_misses_nothing() {
    let (sim, control) = start_default().await;
    let guild_id = guild(&control, "Resume").await;
    let mut s = shard(&sim, TOKEN, 0, 1, Intents::GUILDS | Intents::GUILD_MEMBERS);
    next_matching(&mut s, WAIT, |e| matches!(e, Event::GuildCreate(_)).then_some(())).await;

    control.drop_gateway().await.expect("drop");
    let (first, _) = control.inject(&slash(guild_id, "status")).await.expect("inject during the outage");
    let resumed = next_matching(&mut s, WAIT, |e| match e {
        Event::InteractionCreate(i) => Some(i.id.get()),
        _ => None,
    })
    .await;
    assert_eq!(resumed, first, "the event sent while disconnected is replayed on RESUME");

    next_matching(&mut s, WAIT, |e| matches!(e, Event::Resumed).then_some(())).await;
    control.reconnect_gateway().await.expect("op 7");
    next_matching(&mut s, WAIT, |e| matches!(e, Event::Resumed).then_some(())).await;
    let (second, _) = control.inject(&slash(guild_id, "status")).await.expect("inject");
    let after = next_matching(&mut s, WAIT, |e| match e {
        Event::InteractionCreate(i) => Some(i.id.get()),
        _ => None,
    })
    .await;
    assert_eq!(after, second);
    let shards = control.shards().await.expect("shards");
    assert_eq!(shards.len(), 1, "one session, resumed rather than replaced: {shards:?}");
}

#[tokio::test]
async fn request_guild_members_answers_in_chunks_of_1000() {
    let (sim, control) = start_default().await;
    let guild_id = guild(&control, "Big").await;
    control
        .seed_members(
            guild_id,
            &MembersSeed {
                members: vec![],
                generate: Some(GenerateMembers { count: 2_500, first_id: 10_000, ..Default::default() }),
            },
        )
        .await
        .expect("members");
    let mut s = shard(&sim, TOKEN, 0, 1, Intents::GUILDS | Intents::GUILD_MEMBERS);
    next_matching(&mut s, WAIT, |e| matches!(e, Event::GuildCreate(_)).then_some(())).await;
    s.command(&RequestGuildMembers::builder(Id::new(guild_id)).nonce("all").query("", None));
    let mut seen = 0;
    let mut chunks = 0;
    while chunks < 3 {
        let (count, index, total) = next_matching(&mut s, WAIT, |e| match e {
            Event::MemberChunk(c) => Some((c.members.len(), c.chunk_index, c.chunk_count)),
            _ => None,
        })
        .await;
        assert_eq!((index, total), (chunks, 3));
        seen += count;
        chunks += 1;
    }
    assert_eq!(seen, 2_501, "every member (and the bot) once");
}

#[tokio::test]
async fn rest_changes_and_member_events_are_dispatched_to_the_shard() {
    let (sim, control) = start_default().await;
    let guild_id = guild(&control, "Events").await;
    let mut s = shard(&sim, TOKEN, 0, 1, Intents::GUILDS | Intents::GUILD_MEMBERS);
    next_matching(&mut s, WAIT, |e| matches!(e, Event::GuildCreate(_)).then_some(())).await;

    let client = http(&sim, TOKEN);
    let role = client.create_role(Id::new(guild_id)).name("Naib").await.expect("role").model().await.expect("model");
    let created =
        next_matching(&mut s, WAIT, |e| if let Event::RoleCreate(r) = e { Some(r.role.id) } else { None }).await;
    assert_eq!(created, role.id);
    let channel =
        client.create_guild_channel(Id::new(guild_id), "sietch").await.expect("channel").model().await.expect("model");
    let created =
        next_matching(&mut s, WAIT, |e| if let Event::ChannelCreate(c) = e { Some(c.id) } else { None }).await;
    assert_eq!(created, channel.id);

    let member = arrakis_sim::MemberSeed { id: Some(4242), ..Default::default() };
    control.seed_members(guild_id, &MembersSeed { members: vec![member], generate: None }).await.expect("member");
    let joined =
        next_matching(&mut s, WAIT, |e| if let Event::MemberAdd(m) = e { Some(m.user.id.get()) } else { None }).await;
    assert_eq!(joined, 4242);
    client.add_guild_member_role(Id::new(guild_id), Id::new(4242), role.id).await.expect("grant");
    let roles =
        next_matching(&mut s, WAIT, |e| if let Event::MemberUpdate(m) = e { Some(m.roles.clone()) } else { None })
            .await;
    assert_eq!(roles, vec![role.id]);
}
