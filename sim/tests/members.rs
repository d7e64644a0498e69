//! Member listing as Discord pages it: `limit` ≤ 1000 and `after`, through twilight-http.

mod common;

use arrakis_sim::{GenerateMembers, Limits, MembersSeed, SimConfig};
use common::{TOKEN, guild, http, start};
use std::collections::BTreeSet;
use twilight_model::id::Id;

#[tokio::test]
async fn listing_100000_members_with_after_returns_each_exactly_once() {
    let (sim, control) = start(SimConfig::default()).await;
    let guild_id = guild(&control, "Arrakeen").await;
    let count = control
        .seed_members(
            guild_id,
            &MembersSeed {
                members: vec![],
                generate: Some(GenerateMembers { count: 100_000, first_id: 1_000_000, ..Default::default() }),
            },
        )
        .await
        .expect("seeded");
    assert_eq!(count, 100_001, "100,000 members and the bot");
    control.set_limits(&Limits { route_limit: 1_000, ..Limits::default() }).await.expect("limits");

    let client = http(&sim, TOKEN);
    let mut seen = BTreeSet::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let mut request = client.guild_members(Id::new(guild_id)).limit(1000);
        if let Some(after) = after {
            request = request.after(after);
        }
        let page = request.await.expect("page").models().await.expect("members");
        pages += 1;
        let Some(last) = page.last() else { break };
        after = Some(last.user.id);
        for member in &page {
            assert!(seen.insert(member.user.id.get()), "member {} listed twice", member.user.id);
        }
    }
    assert_eq!(seen.len(), 100_001);
    assert_eq!(pages, 102, "101 pages of up to 1000, then an empty one");

    let err = client.guild_members(Id::new(guild_id)).limit(1001).await;
    assert!(err.is_err(), "twilight refuses a limit above 1000 itself");
    let response = reqwest::Client::new()
        .get(format!("http://{}/api/v10/guilds/{guild_id}/members?limit=1001", sim.api_host()))
        .header("authorization", format!("Bot {TOKEN}"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 400, "and so does Discord");
}
