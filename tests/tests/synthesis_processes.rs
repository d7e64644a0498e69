//! Synthesis with worker processes: one killed with `kill -9` mid-synthesis and replaced, and
//! three sharing the Discord budget across several guilds.

use arrakis_sim::{GuildSeed, Limits, RunningSim, SimClient, SimConfig};
use arrakis_tests::{
    TestDatabase, WorkerProcess, fresh_database, random_guild_id, run_shell, runbook_snippet, stack_env, wait_until,
};
use serde_json::{Value, json};
use std::{net::SocketAddr, time::Duration};

const TOKEN: &str = "process-test-token";

struct Stack {
    sim: RunningSim,
    control: SimClient,
    db: TestDatabase,
    task_queue: String,
}

impl Stack {
    async fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let sim = arrakis_sim::start(SimConfig { token: TOKEN.into(), ..SimConfig::default() }, loopback, loopback)
            .await
            .expect("sim");
        let control = sim.client();
        control.set_limits(&Limits { route_limit: 50, ..Limits::default() }).await.expect("limits");
        Self { sim, control, db: fresh_database().await, task_queue: format!("test-{}", uuid::Uuid::new_v4().simple()) }
    }

    fn worker(&self) -> WorkerProcess {
        let api_base = format!("http://{}", self.sim.api_host());
        let redis = stack_env("REDIS_URL");
        let app_id = SimConfig::default().application_id.to_string();
        let env = [
            ("TEMPORAL_ADDRESS", stack_env("TEMPORAL_ADDRESS")),
            ("TEMPORAL_NAMESPACE", stack_env("TEMPORAL_NAMESPACE")),
            ("DISCORD_TOKEN", TOKEN.to_string()),
            ("DISCORD_API_BASE", api_base),
            ("REDIS_URL", redis),
            ("DISCORD_APPLICATION_ID", app_id),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        WorkerProcess::spawn(&self.db.url, &self.task_queue, &env)
    }

    /// A guild in the stand-in with a published manifest of `roles` roles and `channels` channels
    /// in `categories` categories; returns its id.
    async fn guild(&self, roles: usize, categories: usize, per_category: usize) -> String {
        let guild = random_guild_id();
        self.control
            .create_guild(&GuildSeed {
                id: Some(guild.parse().expect("id")),
                name: "g".into(),
                bot_role_position: Some(200),
                ..GuildSeed::default()
            })
            .await
            .expect("guild");
        let manifest = json!({
            "guild_id": guild, "name": "Sietch", "mode": "parallel", "chains": [1],
            "assets": [{"key": "spice", "chain_id": 1, "kind": "erc20", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}],
            "rules": {"holder": {"min_balance": {"asset": "spice", "amount": "1"}}},
            "roles": (0..roles).map(|i| json!({"key": format!("r{i}"), "name": format!("arrakis-r{i}"), "grant": {"rule": "holder"}})).collect::<Vec<_>>(),
            "channels": {"strategy": "custom", "categories": (0..categories).map(|c| json!({
                "key": format!("c{c}"), "name": format!("Cat {c}"), "visible_to": [format!("r{}", c % roles.max(1))],
                "channels": (0..per_category).map(|n| json!({"key": format!("c{c}-{n}"), "name": format!("ch-{c}-{n}")})).collect::<Vec<_>>()
            })).collect::<Vec<_>>()}
        });
        let input = std::env::temp_dir().join(format!("publish-{guild}.json"));
        std::fs::write(&input, json!({"manifest": manifest, "actor": "cli:test"}).to_string()).expect("input");
        let (ok, text) = self.shell("publish", &guild, &[("PUBLISH_INPUT", &input.display().to_string())]);
        assert!(ok, "{text}");
        guild
    }

    fn shell(&self, name: &str, guild: &str, extra: &[(&str, &str)]) -> (bool, String) {
        let mut env = vec![("ARRAKIS_TASK_QUEUE", self.task_queue.as_str()), ("GUILD_ID", guild), ("VERSION", "1")];
        env.extend_from_slice(extra);
        let out = run_shell(&runbook_snippet(name).expect("runbook line"), &env);
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    }

    async fn status(&self, guild: &str) -> Value {
        let (_, text) = self.shell("synthesis-status", guild, &[]);
        serde_json::from_str(text[text.find('{').unwrap_or(0)..].trim()).unwrap_or(Value::Null)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_synthesis_is_replaced_and_nothing_is_duplicated() {
    let stack = Stack::start().await;
    let first = stack.worker();
    let guild = stack.guild(60, 20, 7).await;
    let (ok, text) = stack.shell("synthesis-start", &guild, &[]);
    assert!(ok, "{text}");
    let before = wait_until(Duration::from_secs(120), "the synthesis to be part-way", || async {
        let status = stack.status(&guild).await;
        let applied = status["applied"].as_u64().unwrap_or(0);
        (applied >= 40).then_some(applied)
    })
    .await;
    first.kill();
    let _second = stack.worker();
    let done = wait_until(Duration::from_secs(240), "the replacement worker to finish the synthesis", || async {
        let status = stack.status(&guild).await;
        (status["applied"] == 220 && status["current_op"].is_null()).then_some(status)
    })
    .await;
    assert!(before < 220, "the kill came mid-synthesis ({before} of 220 applied)");
    assert!(done["failed"].is_null() || done["failed"] == json!([]), "{done}");
    let state = stack.control.guild(guild.parse().expect("id")).await.expect("state");
    assert_eq!(state.roles.len(), 62, "no duplicate roles after the crash");
    assert_eq!(state.channels.len(), 160, "no duplicate channels after the crash");
}

#[tokio::test(flavor = "multi_thread")]
async fn three_worker_processes_synthesising_several_guilds_stay_within_the_global_budget() {
    let stack = Stack::start().await;
    let _workers = [stack.worker(), stack.worker(), stack.worker()];
    let mut guilds = Vec::new();
    for _ in 0..4 {
        guilds.push(stack.guild(15, 5, 4).await);
    }
    for guild in &guilds {
        let (ok, text) = stack.shell("synthesis-start", guild, &[]);
        assert!(ok, "{text}");
    }
    for guild in &guilds {
        let done = wait_until(Duration::from_secs(240), "every synthesis to finish", || async {
            let status = stack.status(guild).await;
            (status["applied"] == 40 && status["current_op"].is_null()).then_some(status)
        })
        .await;
        assert!(done["failed"].is_null() || done["failed"] == json!([]), "{done}");
    }
    let counters = stack.control.counters().await.expect("counters").rate;
    assert_eq!(counters.global_429, 0, "three processes, one budget: {counters:?}");
    for guild in &guilds {
        let state = stack.control.guild(guild.parse().expect("id")).await.expect("state");
        assert_eq!((state.roles.len(), state.channels.len()), (17, 25), "no duplicates in {guild}");
    }
}
