//! The shards: which ones this process runs, and the loop of each (interactions are answered
//! on their own task so a slow Temporal call never holds up the shard's heartbeat).
//!
//! A shard's READY lists its guilds, and each then arrives again in a GUILD_CREATE: that
//! backlog is not a join. The loop reads GUILD_CREATE itself (only the guild's id, never the
//! whole guild into memory) and tells the backlog from joins by the READY list; the backlog
//! goes to [`Detections`] as one list, which starts detection only for unjudged guilds.

use crate::{
    Settings, ShardPlan, detections::Detections, interactions::Interactions, metrics::Metrics, temporal::Workflows,
};
use anyhow::Context;
use arrakis_schemas::{
    Snowflake,
    workflows::members::{MemberEvent, MemberEventKind},
};
use futures::StreamExt;
use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::task::JoinSet;
use twilight_gateway::{
    CloseFrame, ConfigBuilder, Event, EventTypeFlags, Intents, Message, MessageSender, Shard, ShardId, ShardState,
};
use twilight_model::gateway::event::GatewayEventDeserializer;

/// The only events the gateway deserialises with twilight (GUILD_CREATE is read by hand).
const WANTED: EventTypeFlags = EventTypeFlags::READY
    .union(EventTypeFlags::RESUMED)
    .union(EventTypeFlags::INTERACTION_CREATE)
    .union(EventTypeFlags::MEMBER_ADD)
    .union(EventTypeFlags::MEMBER_REMOVE)
    .union(EventTypeFlags::MEMBER_UPDATE);

/// How long a member event may wait on Temporal before it is counted as failed.
const MEMBER_EVENT_DEADLINE: Duration = Duration::from_secs(5);

/// The running shards.
pub struct Running {
    /// (shard id, connected) per shard, for `/healthz`.
    pub states: Arc<Vec<(u32, AtomicBool)>>,
    senders: Vec<MessageSender>,
    tasks: JoinSet<()>,
}

impl Running {
    /// Closes every session cleanly and stops the loops.
    pub async fn stop(mut self) {
        for sender in &self.senders {
            let _ = sender.close(CloseFrame::NORMAL);
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), async { while self.tasks.join_next().await.is_some() {} })
            .await;
        self.tasks.abort_all();
    }
}

async fn shard_ids(settings: &Settings, http: &twilight_http::Client) -> anyhow::Result<Vec<ShardId>> {
    Ok(match &settings.shards {
        ShardPlan::Recommended => {
            let info = http.gateway().authed().await.context("GET /gateway/bot")?.model().await?;
            twilight_gateway::bucket(0, 1, info.shards).collect()
        }
        ShardPlan::Range { ids, total } => ids.clone().map(|id| ShardId::new(id, *total)).collect(),
    })
}

/// Starts this process's shards.
pub async fn start(
    settings: &Settings,
    http: &twilight_http::Client,
    interactions: Arc<Interactions>,
    workflows: Workflows,
    detections: Detections,
    metrics: Metrics,
) -> anyhow::Result<Running> {
    let ids = shard_ids(settings, http).await?;
    let mut builder = ConfigBuilder::new(settings.token.expose().to_string(), Intents::GUILDS | Intents::GUILD_MEMBERS);
    if let Some(url) = &settings.gateway_url {
        builder = builder.proxy_url(url.clone());
    }
    let config = builder.build();
    let states: Arc<Vec<(u32, AtomicBool)>> =
        Arc::new(ids.iter().map(|id| (id.number(), AtomicBool::new(false))).collect());
    let mut tasks = JoinSet::new();
    let mut senders = Vec::new();
    for (index, id) in ids.into_iter().enumerate() {
        let shard = Shard::with_config(id, config.clone());
        senders.push(shard.sender());
        metrics.shard(id.number(), false);
        let states = states.clone();
        let context = ShardContext {
            interactions: interactions.clone(),
            workflows: workflows.clone(),
            detections: detections.clone(),
            metrics: metrics.clone(),
        };
        tasks.spawn(run_shard(shard, index, states, context));
    }
    Ok(Running { states, senders, tasks })
}

fn event_name(event: &Event) -> &'static str {
    match event {
        Event::Ready(_) => "READY",
        Event::Resumed => "RESUMED",
        Event::InteractionCreate(_) => "INTERACTION_CREATE",
        Event::MemberAdd(_) => "GUILD_MEMBER_ADD",
        Event::MemberRemove(_) => "GUILD_MEMBER_REMOVE",
        Event::MemberUpdate(_) => "GUILD_MEMBER_UPDATE",
        Event::GatewayClose(_) => "GATEWAY_CLOSE",
        _ => "OTHER",
    }
}

/// What a GUILD_CREATE is read for: the guild's id, and whether it is an outage notice.
#[derive(serde::Deserialize)]
struct GuildCreated {
    d: GuildCreatedData,
}

#[derive(serde::Deserialize)]
struct GuildCreatedData {
    #[serde(with = "id_string")]
    id: u64,
    #[serde(default)]
    unavailable: bool,
}

mod id_string {
    //! Discord's ids are strings in JSON.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One frame, read: a GUILD_CREATE by hand, the wanted events by twilight, the rest skipped.
enum Frame {
    GuildCreated(GuildCreatedData),
    Event(Box<Event>),
    Skipped,
}

fn read(json: String) -> Result<Frame, String> {
    let is_guild_create =
        GatewayEventDeserializer::from_json(&json).is_some_and(|d| d.event_type() == Some("GUILD_CREATE"));
    if is_guild_create {
        return serde_json::from_str::<GuildCreated>(&json)
            .map(|g| Frame::GuildCreated(g.d))
            .map_err(|e| e.to_string());
    }
    match twilight_gateway::parse(json, WANTED) {
        Ok(Some(event)) => Ok(Frame::Event(Box::new(event.into()))),
        Ok(None) => Ok(Frame::Skipped),
        Err(e) => Err(e.to_string()),
    }
}

fn member_event(event: &Event) -> Option<MemberEvent> {
    let snowflake = |id: u64| Snowflake::new(id).ok();
    let roles = |ids: &[twilight_model::id::Id<twilight_model::id::marker::RoleMarker>]| {
        ids.iter().filter_map(|r| snowflake(r.get())).collect::<Vec<_>>()
    };
    let (guild, user, kind, member_roles) = match event {
        Event::MemberAdd(m) => {
            (m.guild_id.get(), m.member.user.id.get(), MemberEventKind::Joined, roles(&m.member.roles))
        }
        Event::MemberRemove(m) => (m.guild_id.get(), m.user.id.get(), MemberEventKind::Left, Vec::new()),
        Event::MemberUpdate(m) => (m.guild_id.get(), m.user.id.get(), MemberEventKind::Updated, roles(&m.roles)),
        _ => return None,
    };
    let received_at_ms = Some(crate::now_ms());
    Some(MemberEvent {
        guild_id: snowflake(guild)?,
        user_id: snowflake(user)?,
        kind,
        roles: member_roles,
        received_at_ms,
    })
}

/// What a shard's loop hands its events to.
struct ShardContext {
    interactions: Arc<Interactions>,
    workflows: Workflows,
    detections: Detections,
    metrics: Metrics,
}

async fn run_shard(mut shard: Shard, index: usize, states: Arc<Vec<(u32, AtomicBool)>>, context: ShardContext) {
    let ShardContext { interactions, workflows, detections, metrics } = context;
    let id = shard.id().number();
    // The guilds the last READY listed whose GUILD_CREATE has not come yet.
    let mut backlog: HashSet<u64> = HashSet::new();
    while let Some(item) = shard.next().await {
        let received = Instant::now();
        let connected = matches!(shard.state(), ShardState::Active);
        if states[index].1.swap(connected, Ordering::Relaxed) != connected {
            tracing::info!(shard = id, connected, "shard state changed");
            metrics.shard(id, connected);
        }
        if let Some(latency) = shard.latency().average() {
            metrics.shard_latency(id, latency);
        }
        let frame = match item {
            Ok(Message::Text(json)) => read(json),
            Ok(Message::Close(frame)) => Ok(Frame::Event(Box::new(Event::GatewayClose(frame)))),
            Err(e) => Err(e.to_string()),
        };
        let event = match frame {
            Ok(Frame::Event(event)) => *event,
            Ok(Frame::GuildCreated(guild)) => {
                metrics.event("GUILD_CREATE");
                // The backlog of a READY, or an outage notice, is not a join.
                if !backlog.remove(&guild.id) && !guild.unavailable {
                    detections.joined(guild.id);
                }
                continue;
            }
            Ok(Frame::Skipped) => continue,
            Err(e) => {
                tracing::warn!(shard = id, error = %e, "gateway receive error");
                continue;
            }
        };
        metrics.event(event_name(&event));
        match event {
            Event::Ready(ready) => {
                metrics.session(id, "identify");
                backlog = ready.guilds.iter().map(|g| g.id.get()).collect();
                detections.backlog(backlog.iter().copied().collect());
            }
            Event::Resumed => metrics.session(id, "resume"),
            Event::InteractionCreate(interaction) => {
                let interactions = interactions.clone();
                tokio::spawn(async move { interactions.handle(interaction.0, received).await });
            }
            Event::MemberAdd(_) | Event::MemberRemove(_) | Event::MemberUpdate(_) => {
                let Some(member) = member_event(&event) else { continue };
                let (workflows, metrics) = (workflows.clone(), metrics.clone());
                tokio::spawn(async move {
                    let outcome =
                        match tokio::time::timeout(MEMBER_EVENT_DEADLINE, workflows.member_event(&member)).await {
                            Ok(Ok(true)) => "signalled",
                            Ok(Ok(false)) => "no_workflow",
                            Ok(Err(e)) => {
                                tracing::warn!(guild = %member.guild_id, error = %e, "member event not passed on");
                                "failed"
                            }
                            Err(_) => "failed",
                        };
                    metrics.member_event(outcome);
                });
            }
            _ => {}
        }
    }
    states[index].1.store(false, Ordering::Relaxed);
    metrics.shard(id, false);
}
