//! The shards: which ones this process runs, and the loop of each (interactions are answered
//! on their own task so a slow Temporal call never holds up the shard's heartbeat).

use crate::{Settings, ShardPlan, interactions::Interactions, metrics::Metrics, temporal::Workflows};
use anyhow::Context;
use arrakis_schemas::{
    GuildId, Snowflake,
    workflows::members::{MemberEvent, MemberEventKind},
};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::task::JoinSet;
use twilight_gateway::{
    CloseFrame, ConfigBuilder, Event, EventTypeFlags, Intents, MessageSender, Shard, ShardId, ShardState, StreamExt,
};

/// The only events the gateway deserialises.
const WANTED: EventTypeFlags = EventTypeFlags::READY
    .union(EventTypeFlags::RESUMED)
    .union(EventTypeFlags::GUILD_CREATE)
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
        let (interactions, workflows, metrics) = (interactions.clone(), workflows.clone(), metrics.clone());
        tasks.spawn(run_shard(shard, index, states, interactions, workflows, metrics));
    }
    Ok(Running { states, senders, tasks })
}

fn event_name(event: &Event) -> &'static str {
    match event {
        Event::Ready(_) => "READY",
        Event::Resumed => "RESUMED",
        Event::GuildCreate(_) => "GUILD_CREATE",
        Event::InteractionCreate(_) => "INTERACTION_CREATE",
        Event::MemberAdd(_) => "GUILD_MEMBER_ADD",
        Event::MemberRemove(_) => "GUILD_MEMBER_REMOVE",
        Event::MemberUpdate(_) => "GUILD_MEMBER_UPDATE",
        Event::GatewayClose(_) => "GATEWAY_CLOSE",
        Event::GatewayReconnect => "GATEWAY_RECONNECT",
        Event::GatewayInvalidateSession(_) => "GATEWAY_INVALIDATE_SESSION",
        _ => "OTHER",
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
    Some(MemberEvent { guild_id: snowflake(guild)?, user_id: snowflake(user)?, kind, roles: member_roles })
}

async fn run_shard(
    mut shard: Shard,
    index: usize,
    states: Arc<Vec<(u32, AtomicBool)>>,
    interactions: Arc<Interactions>,
    workflows: Workflows,
    metrics: Metrics,
) {
    let id = shard.id().number();
    while let Some(item) = shard.next_event(WANTED).await {
        let received = Instant::now();
        let connected = matches!(shard.state(), ShardState::Active);
        if states[index].1.swap(connected, Ordering::Relaxed) != connected {
            tracing::info!(shard = id, connected, "shard state changed");
            metrics.shard(id, connected);
        }
        let event = match item {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!(shard = id, error = %e, "gateway receive error");
                continue;
            }
        };
        metrics.event(event_name(&event));
        match event {
            Event::InteractionCreate(interaction) => {
                let interactions = interactions.clone();
                tokio::spawn(async move { interactions.handle(interaction.0, received).await });
            }
            Event::GuildCreate(guild) => {
                // A guild joined (or seen again on reconnect): judge its incumbent once.
                let Ok(guild_id) = GuildId::new(guild.id().get()) else { continue };
                let workflows = workflows.clone();
                tokio::spawn(async move {
                    if let Err(e) = workflows.detect_incumbent(guild_id).await {
                        tracing::warn!(guild = %guild_id, error = %e, "incumbent detection not started");
                    }
                });
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
