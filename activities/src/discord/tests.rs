//! The Discord REST layer against the stand-in and a real Redis: several workers share one
//! global budget, a 429 is never re-sent before its wait, and failures are classified. These
//! tests live inside the module because the raw client is private to it.

use super::{BudgetSettings, DiscordFailure, DiscordRest, DiscordSettings, GuildReader, RateBudget};
use arrakis_sim::{Faults, GuildSeed, Limits, RunningSim, SimConfig};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};
use twilight_model::id::Id;

const TOKEN: &str = "budget-test-token";

async fn sim() -> RunningSim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    arrakis_sim::start(SimConfig { token: TOKEN.into(), ..SimConfig::default() }, loopback, loopback)
        .await
        .expect("sim")
}

async fn worker(sim: &RunningSim, bot_key: &str) -> DiscordRest {
    let redis = std::env::var("REDIS_URL").expect("REDIS_URL: run with `scripts/dev test`");
    let budget = RateBudget::connect(&redis, BudgetSettings { bot_key: bot_key.into(), ..BudgetSettings::default() })
        .await
        .expect("redis");
    let settings = DiscordSettings {
        token: TOKEN.into(),
        api_base: Some(format!("http://{}", sim.api_host())),
        per_guild_per_second: 1000,
    };
    DiscordRest::new(&settings, budget)
}

/// Runs `clients` concurrent loops of GET roles on each worker for `for_how_long`.
async fn hammer(workers: &[DiscordRest], guild: u64, clients: usize, for_how_long: Duration) -> (u64, u64) {
    let deadline = Instant::now() + for_how_long;
    let mut tasks = Vec::new();
    for w in workers {
        for _ in 0..clients {
            let w = w.clone();
            tasks.push(tokio::spawn(async move {
                let (mut ok, mut limited) = (0u64, 0u64);
                while Instant::now() < deadline {
                    match GuildReader::new(w.clone()).roles(guild).await {
                        Ok(_) => ok += 1,
                        Err(DiscordFailure::RateLimited { retry_after }) => {
                            limited += 1;
                            tokio::time::sleep(retry_after).await;
                        }
                        Err(other) => panic!("unexpected failure: {other}"),
                    }
                }
                (ok, limited)
            }));
        }
    }
    let mut total = (0, 0);
    for t in tasks {
        let (ok, limited) = t.await.expect("task");
        total = (total.0 + ok, total.1 + limited);
    }
    total
}

#[tokio::test(flavor = "multi_thread")]
async fn three_workers_share_one_global_budget_and_never_hit_the_global_limit() {
    let sim = sim().await;
    let control = sim.client();
    let guild =
        control.create_guild(&GuildSeed { name: "budget".into(), ..GuildSeed::default() }).await.expect("guild");
    // Route buckets wide open: only the global limit (50/s) can refuse.
    control.set_limits(&Limits { route_limit: 100_000, ..Limits::default() }).await.expect("limits");
    let bot_key = format!("test-{}", uuid::Uuid::new_v4().simple());
    let workers = vec![worker(&sim, &bot_key).await, worker(&sim, &bot_key).await, worker(&sim, &bot_key).await];

    let (ok, limited) = hammer(&workers, guild, 4, Duration::from_secs(3)).await;
    let counters = control.counters().await.expect("counters").rate;
    assert!(ok > 0);
    assert_eq!((limited, counters.global_429, counters.user_429), (0, 0, 0), "{counters:?}");

    // The same load with a budget per worker (as if nothing were shared) does hit the limit:
    // the check above can fail.
    let unshared = vec![
        worker(&sim, &format!("{bot_key}-a")).await,
        worker(&sim, &format!("{bot_key}-b")).await,
        worker(&sim, &format!("{bot_key}-c")).await,
    ];
    hammer(&unshared, guild, 4, Duration::from_secs(2)).await;
    let counters = control.counters().await.expect("counters").rate;
    assert!(counters.global_429 > 0, "three separate budgets of 45 a second overrun 50: {counters:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_comes_back_as_rate_limited_and_is_not_resent() {
    let sim = sim().await;
    let control = sim.client();
    let guild = control.create_guild(&GuildSeed { name: "storm".into(), ..GuildSeed::default() }).await.expect("guild");
    let rest = worker(&sim, &format!("test-{}", uuid::Uuid::new_v4().simple())).await;
    for scope in ["user", "global"] {
        control
            .set_faults(&Faults {
                storm_count: 1,
                storm_scope: Some(scope.into()),
                storm_retry_after: 0.5,
                ..Faults::default()
            })
            .await
            .expect("faults");
        let before = control.counters().await.expect("counters").rate.requests;
        let failure = rest
            .send(Some(guild), "POST /guilds/{id}/roles", rest.http().create_role(Id::new(guild)).name("x"))
            .await
            .expect_err("429");
        let DiscordFailure::RateLimited { retry_after } = failure else { panic!("{scope}: {failure}") };
        assert!(retry_after >= Duration::from_millis(500), "the retry waits at least Discord's retry_after");
        let after = control.counters().await.expect("counters").rate;
        assert_eq!(after.requests - before, 1, "{scope}: the 429 was not re-sent");
        assert_eq!(after.early_retries, 0);
        // What Temporal does with next_retry_delay before the next attempt.
        tokio::time::sleep(retry_after).await;
    }
    assert_eq!(control.guild(guild).await.expect("state").roles.len(), 2, "nothing was created");
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_classified_for_temporal_and_the_operator() {
    let sim = sim().await;
    let control = sim.client();
    let powerless = control
        .create_guild(&GuildSeed { name: "no perms".into(), bot_permissions: Some(0), ..GuildSeed::default() })
        .await
        .expect("guild");
    let rest = worker(&sim, &format!("test-{}", uuid::Uuid::new_v4().simple())).await;
    let failure = rest
        .send(Some(powerless), "POST /guilds/{id}/roles", rest.http().create_role(Id::new(powerless)).name("x"))
        .await
        .expect_err("50013");
    assert!(matches!(failure, DiscordFailure::MissingPermissions { .. }), "{failure}");
    assert!(!failure.is_retryable());
    assert!(failure.to_string().contains("Manage Roles"), "an operator can act on it: {failure}");

    let failure = rest
        .send(Some(powerless), "GET /guilds/{id}/roles/{role}", rest.http().role(Id::new(powerless), Id::new(42)))
        .await
        .expect_err("10011");
    assert!(matches!(failure, DiscordFailure::NotFound { code: 10011, .. }), "{failure}");

    control.set_faults(&Faults { error_rate: 1.0, ..Faults::default() }).await.expect("faults");
    let failure = rest
        .send(Some(powerless), "GET /guilds/{id}/roles", rest.http().roles(Id::new(powerless)))
        .await
        .expect_err("500");
    assert!(matches!(failure, DiscordFailure::Unavailable(_)) && failure.is_retryable(), "{failure}");
    let error = failure.into_activity_error();
    assert!(format!("{error:?}").contains("DiscordUnavailable"), "{error:?}");
}
