//! The client activities call Discord through.

use super::{DiscordFailure, RateBudget};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::{
    future::IntoFuture,
    num::NonZeroU32,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU32, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};
use twilight_http::{Client, Response, error::ErrorType, request::TryIntoRequest, response::ResponseFuture};

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

/// A route bucket (Discord's `user` or `shared` scope) holds a 429's re-send at least this
/// long; a global 429 (which twilight tracks in no bucket) is released at once.
const BUCKET_HOLD: Duration = Duration::from_millis(25);

/// When twilight's request future was polled, to tell a 429's scope after twilight consumed
/// the 429 and its `X-RateLimit-Scope`: the poll that took the 429 asks for a new permit and
/// returns pending; the poll that is granted it runs the guard, which refuses the re-send. The
/// time between the two is how long a bucket held it.
#[derive(Debug, Default)]
struct Polls {
    previous: Option<Instant>,
    current: Option<Instant>,
    held: Option<Duration>,
}

impl Polls {
    fn polled(&mut self) {
        self.previous = self.current.replace(Instant::now());
    }

    fn hold_re_send(&mut self) {
        self.held = self.previous.map(|at| at.elapsed());
    }

    fn scope(&self) -> &'static str {
        match self.held {
            Some(held) if held >= BUCKET_HOLD => "route",
            Some(_) => "global",
            None => "unknown",
        }
    }
}

/// twilight's request future, with its polls noted in [`Polls`].
struct Polled<F> {
    future: F,
    polls: Arc<Mutex<Polls>>,
}

impl<F: Future + Unpin> Future for Polled<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.polls.lock().unwrap_or_else(PoisonError::into_inner).polled();
        Pin::new(&mut self.future).poll(cx)
    }
}

/// The status a failed request is counted under: Discord's HTTP status when one came back.
fn status_of(error: &twilight_http::Error) -> String {
    match error.kind() {
        ErrorType::Response { status, .. } => status.get().to_string(),
        ErrorType::RequestCanceled => "429".to_string(),
        ErrorType::RequestTimedOut => "timeout".to_string(),
        _ => "unreachable".to_string(),
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

    /// The shared budget, whose Redis also carries what the gateway leaves for the worker.
    pub(super) fn budget(&self) -> &RateBudget {
        &self.budget
    }

    /// Sends one request: waits for the guild's share, the route bucket and the global budget,
    /// then lets twilight send it once. A 429 is never re-sent here: it comes back as
    /// [`DiscordFailure::RateLimited`] for Temporal to retry after the wait. Every request is
    /// counted by route and status, every wait and every 429 (by scope) is measured.
    pub(super) async fn send<T, R>(
        &self,
        guild: Option<u64>,
        route: &str,
        request: R,
    ) -> Result<Response<T>, DiscordFailure>
    where
        R: IntoFuture<IntoFuture = ResponseFuture<T>> + TryIntoRequest,
        T: Unpin,
    {
        let metrics = crate::metrics::metrics();
        let count = |status: &str| metrics.discord_requests.with_label_values(&[route, status]).inc();
        let request = request.try_into_request().map_err(|e| {
            count("invalid");
            DiscordFailure::Rejected { status: 0, code: 0, message: format!("could not build {route}: {e}") }
        })?;
        let mut started = Instant::now();
        if let Some(guild) = guild {
            self.guilds.until_key_ready(&guild).await;
        }
        let mut waited = |limiter: &str| {
            let now = Instant::now();
            metrics.waited(limiter, now - started);
            started = now;
        };
        waited("guild");
        let budget = |e: redis::RedisError| {
            count("budget");
            DiscordFailure::Budget(e.to_string())
        };
        // Buckets are per route and major parameter, as Discord keys them.
        let bucket = match guild {
            Some(guild) => format!("{route} {guild}"),
            None => route.to_string(),
        };
        let bucket = bucket.as_str();
        self.budget.take_route(bucket).await.map_err(budget)?;
        waited("route");
        self.budget.take_global().await.map_err(budget)?;
        waited("global");

        let mut future = self.http.request::<T>(request);
        let attempts = Arc::new(AtomicU32::new(0));
        let counter = attempts.clone();
        let polls = Arc::new(Mutex::new(Polls::default()));
        let held = polls.clone();
        // twilight re-sends a 429 by itself; the guard lets only the first attempt through,
        // noting how long twilight held the re-send (see `Polls`).
        future.set_pre_flight(move || {
            let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
            if !first {
                held.lock().unwrap_or_else(PoisonError::into_inner).hold_re_send();
            }
            first
        });
        match (Polled { future, polls: polls.clone() }).await {
            Ok(response) => {
                count(response.status().get().to_string().as_str());
                self.learn(bucket, &response).await;
                Ok(response)
            }
            Err(error) => {
                count(&status_of(&error));
                let failure = DiscordFailure::from_twilight(&error, RATE_LIMITED_RETRY);
                if let DiscordFailure::RateLimited { retry_after } = &failure {
                    let scope = polls.lock().unwrap_or_else(PoisonError::into_inner).scope();
                    metrics.discord_rate_limited.with_label_values(&[scope]).inc();
                    // Every worker holds back, not only this attempt: the bucket, and (the
                    // scope being unknown once twilight has consumed the 429) the whole bot.
                    let held = self.budget.learn_route(bucket, 0, 0, *retry_after).await;
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
