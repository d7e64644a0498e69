//! Shared set-up for the stand-in's tests: a stand-in on free loopback ports, a seeded guild,
//! and twilight's own clients pointed at it.

#![allow(dead_code)]

use arrakis_sim::{GuildSeed, RunningSim, SimClient, SimConfig};
use std::{net::SocketAddr, time::Duration};
use twilight_gateway::{ConfigBuilder, EventTypeFlags, Intents, Shard, ShardId, StreamExt};
use twilight_model::gateway::event::Event;

pub const TOKEN: &str = "test-token";

pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

pub async fn start(config: SimConfig) -> (RunningSim, SimClient) {
    // twilight's TLS stack needs a process-wide provider; the project uses ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = arrakis_sim::start(SimConfig { token: TOKEN.into(), ..config }, loopback(), loopback())
        .await
        .expect("sim starts");
    let client = sim.client();
    (sim, client)
}

pub async fn start_default() -> (RunningSim, SimClient) {
    start(SimConfig::default()).await
}

pub fn http(sim: &RunningSim, token: &str) -> twilight_http::Client {
    twilight_http::Client::builder()
        .proxy(sim.api_host(), true)
        .token(token.to_string())
        .timeout(Duration::from_secs(10))
        .build()
}

pub async fn guild(client: &SimClient, name: &str) -> u64 {
    client
        .create_guild(&GuildSeed { name: name.into(), bot_role_position: Some(10), ..GuildSeed::default() })
        .await
        .expect("guild")
}

pub fn shard(sim: &RunningSim, token: &str, id: u32, count: u32, intents: Intents) -> Shard {
    let config = ConfigBuilder::new(token.to_string(), intents).proxy_url(sim.gateway_url()).build();
    Shard::with_config(ShardId::new(id, count), config)
}

/// The next event matching `pick`, within `deadline`.
pub async fn next_matching<T>(shard: &mut Shard, deadline: Duration, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
    tokio::time::timeout(deadline, async {
        loop {
            match shard.next_event(EventTypeFlags::all()).await {
                Some(Ok(event)) => {
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                }
                Some(Err(e)) => panic!("gateway error: {e:?}"),
                None => panic!("the shard stopped"),
            }
        }
    })
    .await
    .expect("event within the deadline")
}
