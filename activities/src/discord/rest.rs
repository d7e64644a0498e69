//! The client activities call Discord through.

use super::{DiscordFailure, RateBudget};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::{
    future::IntoFuture,
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};
use twilight_http::{Client, Response, response::ResponseFuture};

/// How a 429 that twilight would have re-sent is retried instead: by Temporal, no sooner than
/// this. A route 429 has already been waited out by twilight's bucket before the guard stops
/// the re-send; a global 429's window is at most one second.
const RATE_LIMITED_RETRY: Duration = Duration::from_secs(1);

/// Where and as whom to call Discord.
#[derive(Clone)]
pub struct DiscordSettings {
    /// The bot token (never logged).
    pub token: String,
    /// `DISCORD_API_BASE`: e.g. `http://127.0.0.1:3001` for the stand-in; `None` for Discord.
    pub api_base: Option<String>,
    /// Requests per second one guild may use, so a big guild cannot starve the rest.
    pub per_guild_per_second: u32,
}

impl std::fmt::Debug for DiscordSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordSettings")
            .field("api_base", &self.api_base)
            .field("per_guild_per_second", &self.per_guild_per_second)
            .finish_non_exhaustive()
    }
}

/// twilight-http behind the shared budget, the shared route buckets and a per-guild limiter.
#[derive(Clone)]
pub struct DiscordRest {
    http: Arc<Client>,
    budget: RateBudget,
    guilds: Arc<DefaultKeyedRateLimiter<u64>>,
}

impl DiscordRest {
    /// A client for `settings`, drawing on `budget`.
    pub fn new(settings: &DiscordSettings, budget: RateBudget) -> Self {
        let mut builder = Client::builder().token(settings.token.clone()).timeout(Duration::from_secs(15));
        if let Some(base) = &settings.api_base {
            let use_http = base.starts_with("http://");
            let host = base.trim_start_matches("http://").trim_start_matches("https://").trim_end_matches('/');
            builder = builder.proxy(host.to_string(), use_http);
        }
        let per_guild = NonZeroU32::new(settings.per_guild_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        Self {
            http: Arc::new(builder.build()),
            budget,
            guilds: Arc::new(DefaultKeyedRateLimiter::keyed(Quota::per_second(per_guild))),
        }
    }

    /// The twilight client, for building requests to pass to [`send`](Self::send); private to
    /// the module, so only the reader, the messenger and the gated writer build requests.
    pub(super) fn http(&self) -> &Client {
        &self.http
    }

    /// Sends one request: waits for the guild's share, the route bucket and the global budget,
    /// then lets twilight send it once. A 429 is never re-sent here: it comes back as
    /// [`DiscordFailure::RateLimited`] for Temporal to retry after the wait.
    pub(super) async fn send<T, R>(
        &self,
        guild: Option<u64>,
        route: &str,
        request: R,
    ) -> Result<Response<T>, DiscordFailure>
    where
        R: IntoFuture<IntoFuture = ResponseFuture<T>>,
        T: Unpin,
    {
        if let Some(guild) = guild {
            self.guilds.until_key_ready(&guild).await;
        }
        let budget = |e: redis::RedisError| DiscordFailure::Budget(e.to_string());
        // Buckets are per route and major parameter, as Discord keys them.
        let route = match guild {
            Some(guild) => format!("{route} {guild}"),
            None => route.to_string(),
        };
        let route = route.as_str();
        self.budget.take_route(route).await.map_err(budget)?;
        self.budget.take_global().await.map_err(budget)?;

        let mut future = request.into_future();
        let attempts = Arc::new(AtomicU32::new(0));
        let counter = attempts.clone();
        // twilight re-sends a 429 by itself; the guard lets only the first attempt through.
        future.set_pre_flight(move || counter.fetch_add(1, Ordering::SeqCst) == 0);
        match future.await {
            Ok(response) => {
                self.learn(route, &response).await;
                Ok(response)
            }
            Err(error) => {
                let failure = DiscordFailure::from_twilight(&error, RATE_LIMITED_RETRY);
                if let DiscordFailure::RateLimited { retry_after } = &failure {
                    // Every worker holds back, not only this attempt: the bucket, and (the
                    // scope being unknown once twilight has consumed the 429) the whole bot.
                    let held = self.budget.learn_route(route, 0, 0, *retry_after).await;
                    let all = self.budget.block_global(*retry_after).await;
                    if let Err(e) = held.and(all) {
                        tracing::warn!("could not share a 429 with the other workers: {e}");
                    }
                }
                Err(failure)
            }
        }
    }

    /// Shares the route bucket's state from the response headers; best effort.
    async fn learn<T>(&self, route: &str, response: &Response<T>) {
        let mut limit = None;
        let mut remaining = None;
        let mut reset_after = None;
        for (name, value) in response.headers() {
            let value = std::str::from_utf8(value).ok();
            match name {
                "x-ratelimit-limit" => limit = value.and_then(|v| v.parse::<u64>().ok()),
                "x-ratelimit-remaining" => remaining = value.and_then(|v| v.parse::<u64>().ok()),
                "x-ratelimit-reset-after" => reset_after = value.and_then(|v| v.parse::<f64>().ok()),
                _ => {}
            }
        }
        if let (Some(remaining), Some(reset_after)) = (remaining, reset_after)
            && let Err(e) = self
                .budget
                .learn_route(route, limit.unwrap_or(0), remaining, Duration::from_secs_f64(reset_after.max(0.0)))
                .await
        {
            tracing::warn!("could not share route bucket {route}: {e}");
        }
    }
}
