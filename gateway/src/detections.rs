//! Incumbent detection for the guilds that need it, and no others: a guild the bot joins, and
//! a guild of the READY backlog that no replica has judged yet (the judged set is in Redis,
//! shared by every gateway process). A reconnect of a 10,000-guild shard therefore starts
//! nothing for guilds already judged, and what it does start goes through one queue with a
//! bounded number of Temporal calls in flight, instead of a task per GUILD_CREATE.

use crate::{metrics::Metrics, redis_link::RedisLink, temporal::Workflows};
use arrakis_schemas::GuildId;
use futures::StreamExt;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Detection starts in flight at once.
pub const IN_FLIGHT: usize = 16;
/// Guilds asked about in one Redis round trip.
const CHUNK: usize = 1_000;

/// The Redis set of judged guilds of one deployment (its task queue).
pub struct Judged {
    redis: Arc<RedisLink>,
    key: String,
}

impl Judged {
    /// The judged set of the deployment that runs on `task_queue`.
    pub fn new(redis: Arc<RedisLink>, task_queue: &str) -> Self {
        Self { redis, key: format!("arrakis:judged:{task_queue}") }
    }

    /// Which of `guilds` nobody judged yet. When Redis cannot be asked, all of them: a
    /// detection too many is cheap (a judged guild keeps its finding), one missed is not.
    pub async fn unjudged(&self, guilds: &[u64]) -> Vec<u64> {
        let mut out = Vec::new();
        for chunk in guilds.chunks(CHUNK) {
            let mut command = redis::cmd("SMISMEMBER");
            command.arg(&self.key).arg(chunk);
            match self.redis.query::<Vec<bool>>(&command).await {
                Ok(known) => out.extend(chunk.iter().zip(known).filter(|(_, known)| !known).map(|(g, _)| *g)),
                Err(e) => {
                    tracing::warn!(error = %e, "Redis unavailable: every guild of the backlog is treated as unjudged");
                    out.extend_from_slice(chunk);
                }
            }
        }
        out
    }

    /// Records that `guild`'s detection started (best effort).
    pub async fn mark(&self, guild: u64) {
        let mut command = redis::cmd("SADD");
        command.arg(&self.key).arg(guild);
        if let Err(e) = self.redis.query::<i64>(&command).await {
            tracing::warn!(guild, error = %e, "could not record a judged guild");
        }
    }
}

/// The queue the shards hand guilds to; one task drains it.
#[derive(Clone)]
pub struct Detections {
    tx: mpsc::UnboundedSender<u64>,
    judged: Arc<Judged>,
    metrics: Metrics,
}

impl Detections {
    /// Starts the task that drains the queue, at most [`IN_FLIGHT`] starts at once.
    pub fn start(judged: Judged, workflows: Workflows, metrics: Metrics) -> Self {
        let (tx, rx) = mpsc::unbounded_channel::<u64>();
        let judged = Arc::new(judged);
        let (drain_judged, drain_metrics) = (judged.clone(), metrics.clone());
        tokio::spawn(async move {
            tokio_stream_of(rx)
                .for_each_concurrent(IN_FLIGHT, |guild| {
                    let (workflows, judged, metrics) = (workflows.clone(), drain_judged.clone(), drain_metrics.clone());
                    async move {
                        metrics.detection_queued(-1);
                        let Ok(guild_id) = GuildId::new(guild) else { return };
                        match workflows.detect_incumbent(guild_id).await {
                            Ok(()) => judged.mark(guild).await,
                            Err(e) => tracing::warn!(guild, error = %e, "incumbent detection not started"),
                        }
                    }
                })
                .await;
        });
        Self { tx, judged, metrics }
    }

    fn enqueue(&self, guilds: impl IntoIterator<Item = u64>) {
        for guild in guilds {
            if self.tx.send(guild).is_ok() {
                self.metrics.detection_queued(1);
            }
        }
    }

    /// A guild the bot joined: judged whether or not it was before (a re-join may find
    /// another incumbent; the finding of a judged guild is kept unless the operator says).
    pub fn joined(&self, guild: u64) {
        self.enqueue([guild]);
    }

    /// The guilds a READY lists: those nobody judged are queued (the ask runs beside the
    /// shard, which carries on receiving).
    pub fn backlog(&self, guilds: Vec<u64>) {
        let this = self.clone();
        tokio::spawn(async move {
            let unjudged = this.judged.unjudged(&guilds).await;
            tracing::info!(listed = guilds.len(), unjudged = unjudged.len(), "READY backlog checked");
            this.metrics.backlog_checked(guilds.len() - unjudged.len(), unjudged.len());
            this.enqueue(unjudged);
        });
    }
}

/// The receiver as a stream.
fn tokio_stream_of(mut rx: mpsc::UnboundedReceiver<u64>) -> impl futures::Stream<Item = u64> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
