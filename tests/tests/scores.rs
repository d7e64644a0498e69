//! The score store contract (Postgres always; any other adapter must pass the same suite), and
//! the Score Service client's breaker and degradation against the stand-in.

use arrakis_activities::{
    CommunityId,
    circuit::{CircuitConfig, CircuitState},
    score::{PgScoreStore, ScoreClient, ScoreError, ScoreLookup, ScoreStore, ScyllaScoreStore, StoredScore},
};
use arrakis_schemas::{
    CommunityManifest, Condition, Snowflake,
    eligibility::{BaseUnits, Holding, MemberFacts, RankFact, ScoreSource, Verdict, evaluate},
    score::asset_ref,
};
use arrakis_sim::{ScoreSeed, start_score_sim};
use arrakis_tests::fresh_database;
use serde_json::json;
use std::time::Duration;

async fn community(db: &arrakis_tests::TestDatabase, guild: u64) -> CommunityId {
    let mut tx = db.store.service().await.expect("service tx");
    let c = tx.ensure_guild_community(Snowflake::new(guild).expect("id")).await.expect("community");
    tx.commit().await.expect("commit");
    c
}

fn score(asset: &str, address: &str, rank: Option<u32>, score: &str, at: i64) -> StoredScore {
    StoredScore {
        asset: asset.into(),
        address: address.into(),
        rank,
        score: Some(score.into()),
        activity_score: None,
        never_redeemed: None,
        fetched_at: at,
    }
}

/// What every score store adapter must do.
async fn score_store_contract<S: ScoreStore>(store: &S, a: CommunityId, b: CommunityId) {
    let asset = "31337:0x00000000000000000000000000000000000000aa";
    let addr = |i: u8| format!("0x{}", format!("{i:02x}").repeat(20));
    let rows: Vec<_> =
        (1..=5).map(|i| score(asset, &addr(i), Some(u32::from(i)), &format!("{}", 100 - i), 1_000)).collect();
    store.save(a, &rows).await.expect("save");
    assert_eq!(store.get(a, asset, &addr(3)).await.expect("get"), Some(rows[2].clone()));
    assert_eq!(store.get(a, asset, &addr(9)).await.expect("get"), None);
    // Ranked pages, best first.
    let page = store.ranked(a, asset, 0, 2).await.expect("ranked");
    assert_eq!(page.iter().map(|s| s.rank).collect::<Vec<_>>(), vec![Some(1), Some(2)]);
    let page = store.ranked(a, asset, 2, 10).await.expect("ranked");
    assert_eq!(page.iter().map(|s| s.rank).collect::<Vec<_>>(), vec![Some(3), Some(4), Some(5)]);
    // Saving the same standing adds no history; a change does; "not ranked" is kept.
    store.save(a, &[score(asset, &addr(1), Some(1), "99", 2_000)]).await.expect("save same");
    store.save(a, &[score(asset, &addr(1), Some(2), "98", 3_000)]).await.expect("save change");
    store
        .save(a, &[StoredScore { rank: None, score: None, ..score(asset, &addr(1), None, "0", 4_000) }])
        .await
        .expect("unrank");
    let history = store.history(a, asset, &addr(1)).await.expect("history");
    assert_eq!(
        history.iter().map(|h| (h.at, h.rank)).collect::<Vec<_>>(),
        vec![(1_000, Some(1)), (3_000, Some(2)), (4_000, None)]
    );
    assert_eq!(store.get(a, asset, &addr(1)).await.expect("get").and_then(|s| s.rank), None);
    // Activity facts survive a rank-only update.
    let with_history = StoredScore {
        activity_score: Some(70),
        never_redeemed: Some(true),
        ..score(asset, &addr(2), Some(2), "98", 5_000)
    };
    store.save(a, &[with_history]).await.expect("save activity");
    store.save(a, &[score(asset, &addr(2), Some(2), "98", 6_000)]).await.expect("save rank only");
    let kept = store.get(a, asset, &addr(2)).await.expect("get").expect("stored");
    assert_eq!((kept.activity_score, kept.never_redeemed, kept.fetched_at), (Some(70), Some(true), 6_000));
    // Another tenant sees none of it.
    assert_eq!(store.get(b, asset, &addr(3)).await.expect("get"), None);
    assert!(store.ranked(b, asset, 0, 10).await.expect("ranked").is_empty());
    assert!(store.history(b, asset, &addr(1)).await.expect("history").is_empty());
}

#[tokio::test]
async fn the_postgres_score_store_passes_the_contract() {
    let db = fresh_database().await;
    let (a, b) = (community(&db, 1301).await, community(&db, 1302).await);
    score_store_contract(&PgScoreStore::new(db.store.clone()), a, b).await;
}

async fn http_put(url: &str, body: serde_json::Value) {
    reqwest::Client::new().put(url).json(&body).send().await.expect("PUT").error_for_status().expect("2xx");
}

/// The same contract on Scylla, whenever `SCYLLA_URI` points at a node (no Scylla package
/// exists for this machine, so the local stack has none).
#[tokio::test]
async fn the_scylla_score_store_passes_the_contract_when_scylla_is_configured() {
    let Ok(uri) = std::env::var("SCYLLA_URI") else {
        eprintln!("SCYLLA_URI is unset: the Scylla adapter's contract run is skipped");
        return;
    };
    let keyspace = format!("arrakis_test_{}", uuid::Uuid::new_v4().simple());
    let store = ScyllaScoreStore::connect(&uri, &keyspace).await.expect("Scylla at SCYLLA_URI");
    let (a, b) = (CommunityId(uuid::Uuid::new_v4()), CommunityId(uuid::Uuid::new_v4()));
    score_store_contract(&store, a, b).await;
}

fn manifest() -> CommunityManifest {
    serde_json::from_value(json!({
        "guild_id": "1100000000000000001", "name": "Sietch", "theme": "sietch", "mode": "exclusive",
        "chains": [31337],
        "assets": [{"key": "spice", "chain_id": 31337, "kind": "erc20", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "decimals": 0}],
        "rules": {
            "holder": {"min_balance": {"asset": "spice", "amount": "10"}},
            "top": {"rank_at_most": {"asset": "spice", "rank": 2}}
        },
        "roles": [{"key": "holder", "name": "Holder", "grant": {"rule": "holder"}}]
    }))
    .expect("manifest")
}

fn facts_with(rank: RankFact, balance: &str) -> MemberFacts {
    let mut f = MemberFacts::default();
    f.holdings.insert("spice".into(), Holding::known(BaseUnits::parse(balance).expect("digits")));
    f.ranks.insert("spice".into(), rank);
    f
}

#[tokio::test]
async fn with_the_score_service_down_basic_checks_hold_and_rank_checks_degrade_and_say_so() {
    let db = fresh_database().await;
    let community = community(&db, 1303).await;
    let sim = start_score_sim("127.0.0.1:0".parse().expect("addr"), "k3y").await.expect("score sim");
    let asset = asset_ref(31337, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", None);
    let (top, second, third, fresh) = (
        "0x1111111111111111111111111111111111111111",
        "0x2222222222222222222222222222222222222222",
        "0x3333333333333333333333333333333333333333",
        "0x4444444444444444444444444444444444444444",
    );
    let seeds: Vec<ScoreSeed> = [(top, "300"), (second, "200"), (third, "100")]
        .into_iter()
        .map(|(address, score)| ScoreSeed { address: address.into(), score: score.into() })
        .collect();
    http_put(&format!("{}/_sim/scores/{asset}", sim.url()), json!(seeds)).await;
    let client = ScoreClient::new(
        sim.url().parse().expect("url"),
        "k3y".into(),
        CircuitConfig::default(),
        Duration::from_secs(2),
    );
    let lookup = ScoreLookup::new(Some(client), PgScoreStore::new(db.store.clone()));
    let m = manifest();
    let top_rule = Condition::Rule("top".into());

    // Up: live answers, cached as they come.
    let live = lookup.rank(community, &asset, second, 1).await;
    assert_eq!(live, RankFact::Ranked { position: 2, source: ScoreSource::ScoreService, score: Some("200".into()) });
    assert_eq!(
        lookup.rank(community, &asset, third, 1).await,
        RankFact::Ranked { position: 3, source: ScoreSource::ScoreService, score: Some("100".into()) }
    );
    assert_eq!(
        lookup.rank(community, &asset, fresh, 1).await,
        RankFact::Unranked { source: ScoreSource::ScoreService }
    );

    // The action history of `second`: active, never redeemed; read live and cached.
    let history = json!({"address": second, "asset": asset, "activity_score": 70,
        "actions": [{"kind": "acquired", "at": 1}, {"kind": "active", "at": 2}]});
    http_put(&format!("{}/_sim/history/{asset}/{second}", sim.url()), history).await;
    assert_eq!(
        lookup.history_facts(community, &asset, second, 1).await,
        (Some((70, ScoreSource::ScoreService)), Some((true, ScoreSource::ScoreService)))
    );

    // Down (every request answered 503): the breaker opens after enough failures, answers
    // come from the cache and say so.
    http_put(&format!("{}/_sim/outage", sim.url()), json!({"status": 503})).await;
    let cached = lookup.rank(community, &asset, second, 2).await;
    assert_eq!(cached, RankFact::Ranked { position: 2, source: ScoreSource::Cache, score: Some("200".into()) });
    let e = evaluate(&m, &top_rule, &facts_with(cached, "0"));
    assert_eq!((e.verdict, e.sources.contains(&ScoreSource::Cache)), (Verdict::Eligible, true));
    for _ in 0..4 {
        let fact = lookup.rank(community, &asset, third, 2).await;
        assert_eq!(fact, RankFact::Ranked { position: 3, source: ScoreSource::Cache, score: Some("100".into()) });
    }
    let client = lookup.client().expect("client");
    assert_eq!(client.breaker().state(), CircuitState::Open);
    assert!(matches!(client.holder(&asset, third).await, Err(ScoreError::CircuitOpen)));

    // Badge facts degrade the same way: the cached history, else activity 0 and "never
    // redeemed" denied (what `badges_for` does with `None`).
    assert_eq!(
        lookup.history_facts(community, &asset, second, 4).await,
        (Some((70, ScoreSource::Cache)), Some((true, ScoreSource::Cache)))
    );
    assert_eq!(lookup.history_facts(community, &asset, top, 4).await, (None, None));

    // Never cached: rank_at_most falls back to the balance check, permissively, and says so.
    let unavailable = lookup.rank(community, &asset, top, 3).await;
    assert!(
        matches!(&unavailable, RankFact::Unavailable { reason } if reason.contains("circuit is open")),
        "{unavailable:?}"
    );
    let e = evaluate(&m, &top_rule, &facts_with(unavailable.clone(), "5"));
    assert_eq!(e.verdict, Verdict::Eligible);
    assert!(e.sources.contains(&ScoreSource::NativeDegraded) && !e.degraded.is_empty(), "{e:?}");
    let e = evaluate(&m, &top_rule, &facts_with(unavailable.clone(), "0"));
    assert_eq!(e.verdict, Verdict::NotEligible);

    // The basic check never consulted the Score Service: the same answer up or down.
    for (balance, want) in [("10", Verdict::Eligible), ("9", Verdict::NotEligible)] {
        let e = evaluate(&m, &Condition::Rule("holder".into()), &facts_with(unavailable.clone(), balance));
        assert_eq!((e.verdict, e.sources.len()), (want, 0));
    }
}

#[tokio::test]
async fn the_score_stand_in_follows_its_contract() {
    let sim = start_score_sim("127.0.0.1:0".parse().expect("addr"), "k3y").await.expect("score sim");
    let http = reqwest::Client::new(); // after start_score_sim, which picks the TLS provider
    let asset = "31337:0xabc";
    let seeds: Vec<ScoreSeed> = (1..=5u32)
        .map(|i| ScoreSeed { address: format!("0x{}", format!("{i:02x}").repeat(20)), score: (i * 10).to_string() })
        .collect();
    http.put(format!("{}/_sim/scores/{asset}", sim.url())).json(&seeds).send().await.expect("seed");
    let unauthorized = http.get(format!("{}/v1/assets/{asset}/holders", sim.url())).send().await.expect("request");
    assert_eq!(unauthorized.status(), 401);
    let page: arrakis_schemas::score::RankedHolders = http
        .get(format!("{}/v1/assets/{asset}/holders?limit=2&after=1", sim.url()))
        .bearer_auth("k3y")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("ranked holders");
    assert_eq!(page.holders.iter().map(|h| h.rank).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(page.holders[0].score, "40", "best score first");
    assert_eq!(page.next_after, Some(3));
    let bad = http
        .get(format!("{}/v1/assets/{asset}/holders?limit=0", sim.url()))
        .bearer_auth("k3y")
        .send()
        .await
        .expect("request");
    assert_eq!(bad.status(), 400);
}
