//! Rate limits as Discord does them: a client that ignores them gets global 429s with the
//! right headers and body and, past the invalid-request threshold, a ban; twilight, which reads
//! the bucket headers, is never refused.

mod common;

use arrakis_sim::{Faults, Limits, SimConfig};
use common::{TOKEN, guild, http, start};
use serde_json::Value;
use std::time::{Duration, Instant};
use twilight_model::id::Id;

#[tokio::test]
async fn a_client_that_ignores_limits_gets_global_429s_and_then_a_ban() {
    let (sim, control) = start(SimConfig::default()).await;
    let guild_id = guild(&control, "Flood").await;
    // Route buckets wide open, so only the global limit speaks; the ban threshold lowered.
    control
        .set_limits(&Limits { route_limit: 10_000, invalid_request_threshold: 120, ..Limits::default() })
        .await
        .expect("limits");
    let http = reqwest::Client::new();
    let url = format!("http://{}/api/v10/guilds/{guild_id}/roles", sim.api_host());

    // 100 requests a second for 3 seconds, paced, ignoring every answer.
    let start = Instant::now();
    let mut global_429 = None;
    let mut banned_at = None;
    for i in 0..300u32 {
        let due = start + Duration::from_millis(u64::from(i) * 10);
        tokio::time::sleep_until(due.into()).await;
        let response = http.get(&url).header("authorization", format!("Bot {TOKEN}")).send().await.expect("answer");
        if response.status() == 429 {
            let headers = response.headers().clone();
            let text = response.text().await.unwrap_or_default();
            if text.starts_with("error code: 1015") {
                banned_at.get_or_insert(i);
            } else if global_429.is_none() {
                global_429 = Some((headers, serde_json::from_str::<Value>(&text).expect("JSON 429 body")));
            }
        }
    }
    let (headers, body) = global_429.expect("a global 429");
    assert_eq!(headers["x-ratelimit-global"], "true");
    assert_eq!(headers["x-ratelimit-scope"], "global");
    assert!(headers["retry-after"].to_str().expect("ascii").parse::<u64>().expect("seconds") >= 1);
    assert_eq!(body["global"], true);
    assert!(body["retry_after"].as_f64().is_some_and(|r| r > 0.0 && r <= 1.0), "{body}");

    let counters = control.counters().await.expect("counters").rate;
    assert!(counters.global_429 >= 120, "about half of 300 requests over 50/s: {counters:?}");
    assert!(counters.banned, "the ban tripped at the lowered threshold: {counters:?}");
    assert!(banned_at.is_some(), "banned requests get Cloudflare's 1015");
    assert!(counters.early_retries > 0, "requests inside retry_after are counted");
}

#[tokio::test]
async fn twilight_honours_the_bucket_headers_and_is_never_refused() {
    let (sim, control) = start(SimConfig::default()).await;
    let guild_id = guild(&control, "Polite").await;
    control.set_limits(&Limits { route_limit: 3, route_window_secs: 0.5, ..Limits::default() }).await.expect("limits");
    let client = http(&sim, TOKEN);
    for i in 0..12 {
        client.create_role(Id::new(guild_id)).name(&format!("r{i}")).await.expect("created without a 429");
    }
    let counters = control.counters().await.expect("counters").rate;
    assert_eq!((counters.user_429, counters.global_429, counters.early_retries), (0, 0, 0), "{counters:?}");
}

#[tokio::test]
async fn injected_storms_and_errors_are_reported_as_discord_would() {
    let (sim, control) = start(SimConfig::default()).await;
    let guild_id = guild(&control, "Stormy").await;
    control
        .set_faults(&Faults {
            storm_count: 1,
            storm_scope: Some("shared".into()),
            storm_retry_after: 0.2,
            ..Faults::default()
        })
        .await
        .expect("faults");
    let http = reqwest::Client::new();
    let url = format!("http://{}/api/v10/guilds/{guild_id}/roles", sim.api_host());
    let response = http.get(&url).header("authorization", format!("Bot {TOKEN}")).send().await.expect("answer");
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["x-ratelimit-scope"], "shared");
    let counters = control.counters().await.expect("counters").rate;
    assert_eq!((counters.shared_429, counters.invalid_requests), (1, 0), "shared 429s are not invalid requests");

    control.set_faults(&Faults { error_rate: 1.0, ..Faults::default() }).await.expect("faults");
    let response = http.get(&url).header("authorization", format!("Bot {TOKEN}")).send().await.expect("answer");
    assert_eq!(response.status(), 500);
}

#[tokio::test]
async fn member_role_edits_share_one_bucket_per_guild() {
    let (sim, control) = start(SimConfig::default()).await;
    let guild_id = guild(&control, "Roles").await;
    control
        .set_limits(&Limits {
            member_role_limit: 4,
            member_role_window_secs: 60.0,
            route_limit: 100,
            ..Limits::default()
        })
        .await
        .expect("limits");
    let role = control
        .seed_roles(guild_id, &[arrakis_sim::RoleSeed { name: "tier".into(), position: 1, ..Default::default() }])
        .await
        .expect("role")[0];
    let members: Vec<arrakis_sim::MemberSeed> =
        (1..=5).map(|i| arrakis_sim::MemberSeed { id: Some(900 + i), ..Default::default() }).collect();
    control.seed_members(guild_id, &arrakis_sim::MembersSeed { members, generate: None }).await.expect("members");
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for user in 901..=905 {
        let url = format!("http://{}/api/v10/guilds/{guild_id}/members/{user}/roles/{role}", sim.api_host());
        let response = http.put(url).header("authorization", format!("Bot {TOKEN}")).send().await.expect("answer");
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert_eq!(response.headers()["x-ratelimit-scope"], "user");
            assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
        }
    }
    assert_eq!(statuses, vec![204, 204, 204, 204, 429], "five different members, one per-guild bucket of four");
}
