//! A typed client of the stand-in's control API, for tests and the demo.

use crate::{
    Counters, Faults, GuildSeed, GuildState, InjectInteraction, InteractionReport, Limits, LogEntry, MembersSeed,
    ShardState,
    control::{ChannelSeed, RoleSeed},
};
use anyhow::{Context, bail};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// The control API at a base URL such as `http://127.0.0.1:3001`.
#[derive(Clone, Debug)]
pub struct SimClient {
    base: String,
    http: reqwest::Client,
}

impl SimClient {
    /// A client for the stand-in at `base`.
    pub fn new(base: &str) -> Self {
        crate::install_tls();
        Self { base: base.trim_end_matches('/').to_string(), http: reqwest::Client::new() }
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> anyhow::Result<T> {
        let response = request.send().await.context("discord-sim is not reachable")?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("discord-sim answered {status}: {text}");
        }
        let text = if text.is_empty() { "null".to_string() } else { text };
        serde_json::from_str(&text).with_context(|| format!("unexpected control answer: {text}"))
    }

    async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> anyhow::Result<T> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body)).await
    }

    /// Forgets everything: guilds, interactions, limits' state, faults, the log.
    pub async fn reset(&self) -> anyhow::Result<()> {
        self.post::<_, Value>("/_sim/reset", &()).await.map(drop)
    }

    /// Creates a guild (with the bot in it); returns its id.
    pub async fn create_guild(&self, seed: &GuildSeed) -> anyhow::Result<u64> {
        let v: Value = self.post("/_sim/guilds", seed).await?;
        v["id"].as_str().and_then(|s| s.parse().ok()).context("guild id")
    }

    /// Adds roles; returns their ids.
    pub async fn seed_roles(&self, guild: u64, roles: &[RoleSeed]) -> anyhow::Result<Vec<u64>> {
        let ids: Vec<String> = self.post(&format!("/_sim/guilds/{guild}/roles"), &roles).await?;
        Ok(ids.iter().filter_map(|s| s.parse().ok()).collect())
    }

    /// Adds channels; returns their ids.
    pub async fn seed_channels(&self, guild: u64, channels: &[ChannelSeed]) -> anyhow::Result<Vec<u64>> {
        let ids: Vec<String> = self.post(&format!("/_sim/guilds/{guild}/channels"), &channels).await?;
        Ok(ids.iter().filter_map(|s| s.parse().ok()).collect())
    }

    /// Adds members; returns the guild's member count.
    pub async fn seed_members(&self, guild: u64, seed: &MembersSeed) -> anyhow::Result<u64> {
        let v: Value = self.post(&format!("/_sim/guilds/{guild}/members"), seed).await?;
        v["member_count"].as_u64().context("member_count")
    }

    /// Every member's role ids, read past the rate limits (the test's view of the truth).
    pub async fn member_roles(&self, guild: u64) -> anyhow::Result<std::collections::BTreeMap<u64, Vec<u64>>> {
        let raw: std::collections::BTreeMap<String, Vec<String>> =
            self.send(self.http.get(format!("{}/_sim/guilds/{guild}/members", self.base))).await?;
        Ok(raw
            .into_iter()
            .filter_map(|(u, roles)| Some((u.parse().ok()?, roles.iter().filter_map(|r| r.parse().ok()).collect())))
            .collect())
    }

    /// A member leaves the guild (GUILD_MEMBER_REMOVE).
    pub async fn remove_member(&self, guild: u64, user: u64) -> anyhow::Result<()> {
        self.send::<Value>(self.http.delete(format!("{}/_sim/guilds/{guild}/members/{user}", self.base)))
            .await
            .map(drop)
    }

    /// Replaces a member's roles as another actor would.
    pub async fn set_member_roles(&self, guild: u64, user: u64, roles: &[u64]) -> anyhow::Result<()> {
        let body = serde_json::json!({"roles": roles.iter().map(u64::to_string).collect::<Vec<_>>()});
        self.send::<Value>(self.http.patch(format!("{}/_sim/guilds/{guild}/members/{user}", self.base)).json(&body))
            .await
            .map(drop)
    }

    /// Replaces a member's roles as `actor` (an incumbent bot, say), recorded in the guild's
    /// audit log under that user as Discord records it, at `at_ms` (Unix ms; now if `None`).
    pub async fn set_member_roles_as(
        &self,
        guild: u64,
        user: u64,
        roles: &[u64],
        actor: u64,
        at_ms: Option<u64>,
    ) -> anyhow::Result<()> {
        let body = serde_json::json!({"roles": roles.iter().map(u64::to_string).collect::<Vec<_>>(),
            "actor": actor.to_string(), "at_ms": at_ms});
        self.send::<Value>(self.http.patch(format!("{}/_sim/guilds/{guild}/members/{user}", self.base)).json(&body))
            .await
            .map(drop)
    }

    /// The guild as the stand-in holds it.
    pub async fn guild(&self, guild: u64) -> anyhow::Result<GuildState> {
        self.send(self.http.get(format!("{}/_sim/guilds/{guild}", self.base))).await
    }

    /// The messages the bot posted in a channel, oldest first.
    pub async fn channel_messages(&self, channel: u64) -> anyhow::Result<Vec<Value>> {
        self.send(self.http.get(format!("{}/_sim/channels/{channel}/messages", self.base))).await
    }

    /// Injects an interaction; returns (id, token).
    pub async fn inject(&self, interaction: &InjectInteraction) -> anyhow::Result<(u64, String)> {
        let v: Value = self.post("/_sim/interactions", interaction).await?;
        let id = v["id"].as_str().and_then(|s| s.parse().ok()).context("interaction id")?;
        Ok((id, v["token"].as_str().unwrap_or_default().to_string()))
    }

    /// What the bot answered, waiting up to `wait_ms` for a first response.
    pub async fn interaction(&self, id: u64, wait_ms: u64) -> anyhow::Result<InteractionReport> {
        self.send(self.http.get(format!("{}/_sim/interactions/{id}?wait_ms={wait_ms}", self.base))).await
    }

    /// Sets injected faults.
    pub async fn set_faults(&self, faults: &Faults) -> anyhow::Result<()> {
        self.send::<Value>(self.http.put(format!("{}/_sim/faults", self.base)).json(faults)).await.map(drop)
    }

    /// Sets rate limits.
    pub async fn set_limits(&self, limits: &Limits) -> anyhow::Result<()> {
        self.send::<Value>(self.http.put(format!("{}/_sim/limits", self.base)).json(limits)).await.map(drop)
    }

    /// Drops every gateway connection.
    pub async fn drop_gateway(&self) -> anyhow::Result<()> {
        self.post::<_, Value>("/_sim/gateway/drop", &()).await.map(drop)
    }

    /// Creates `count` guilds at once; their ids.
    pub async fn create_guilds(&self, count: u32) -> anyhow::Result<Vec<u64>> {
        let v: Value = self.post("/_sim/guilds/bulk", &serde_json::json!({"count": count})).await?;
        let ids = v["ids"].as_array().context("ids")?;
        Ok(ids.iter().filter_map(|id| id.as_str()?.parse().ok()).collect())
    }

    /// Forgets every gateway session: each shard identifies afresh (READY and every
    /// GUILD_CREATE again).
    pub async fn invalidate_sessions(&self) -> anyhow::Result<()> {
        self.post::<_, Value>("/_sim/gateway/invalidate", &()).await.map(drop)
    }

    /// Sends op 7 RECONNECT to every shard.
    pub async fn reconnect_gateway(&self) -> anyhow::Result<()> {
        self.post::<_, Value>("/_sim/gateway/reconnect", &()).await.map(drop)
    }

    /// Connected shards.
    pub async fn shards(&self) -> anyhow::Result<Vec<ShardState>> {
        self.send(self.http.get(format!("{}/_sim/gateway/shards", self.base))).await
    }

    /// Mutating requests since `since` (a sequence number).
    pub async fn log(&self, since: u64) -> anyhow::Result<Vec<LogEntry>> {
        self.send(self.http.get(format!("{}/_sim/log?since={since}", self.base))).await
    }

    /// The reads (GETs) of one route template, e.g. `/guilds/{guild_id}/members`.
    pub async fn reads(&self, route: &str) -> anyhow::Result<Vec<crate::ReadEntry>> {
        self.send(self.http.get(format!("{}/_sim/reads", self.base)).query(&[("route", route)])).await
    }

    /// Counters.
    pub async fn counters(&self) -> anyhow::Result<Counters> {
        self.send(self.http.get(format!("{}/_sim/counters", self.base))).await
    }
}
