#![doc = include_str!("../README.md")]

pub mod chain;
pub use arrakis_sim::figures;
pub mod member_sync;
pub mod migration;
pub mod operator;
pub mod shadow;
pub mod wizard;

use anyhow::{Context, bail};
use arrakis_activities::Store;
use sqlx::{Connection, PgConnection};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Output,
    sync::mpsc,
    time::{Duration, Instant},
};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// An environment variable the local stack exports, with a hint when it is missing.
pub fn stack_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with `scripts/dev test` (it starts the local stack and exports it)")
    })
}

/// Polls `check` until it returns `Some`, failing after `deadline` with `what` in the message.
pub async fn wait_until<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < deadline, "timed out after {deadline:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A database of its own for one test, copied from a migrated template.
pub struct TestDatabase {
    /// The application login's URL (`arrakis_app`), as `DATABASE_URL` is in production.
    pub url: String,
    /// The service login's URL (`arrakis_service`), as `ARRAKIS_SERVICE_DATABASE_URL`.
    pub service_url: String,
    /// The cluster superuser's URL of this database: tests seed and inspect rows through it.
    pub admin_url: String,
    /// The storage layer over it.
    pub store: Store,
}

impl TestDatabase {
    /// A raw connection as the cluster's superuser, which sees every tenant. Tests use it to
    /// seed rows and to check what was written; Arrakis itself never logs in as it.
    pub async fn admin(&self) -> PgConnection {
        PgConnection::connect(&self.admin_url).await.expect("admin connection to the test database")
    }

    /// A raw connection as `role` (`arrakis_app`, `arrakis_service`, `arrakis_migrator`).
    pub async fn connect_as(&self, role: &str) -> PgConnection {
        PgConnection::connect(&with_user(&self.url, role)).await.expect("a connection as the role")
    }

    /// The worker's database settings: the application and service logins.
    pub fn worker_env(&self) -> [(&'static str, String); 2] {
        [("DATABASE_URL", self.url.clone()), ("ARRAKIS_SERVICE_DATABASE_URL", self.service_url.clone())]
    }
}

fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a database URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

fn with_user(url: &str, user: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a database URL");
    parsed.set_username(user).expect("a URL with a host");
    parsed.to_string()
}

/// Creates a fresh database with every migration applied. The template is migrated (by the
/// migration login, as the schema owner) under an advisory lock, so concurrent test processes
/// never race on it; the databases belong to `arrakis_owner`, as in production.
pub async fn fresh_database() -> TestDatabase {
    arrakis_sim::install_tls();
    let admin = stack_env("ARRAKIS_PG_ADMIN_URL");
    let app = stack_env("DATABASE_URL");
    let service = stack_env("ARRAKIS_SERVICE_DATABASE_URL");
    let migrator = stack_env("ARRAKIS_MIGRATION_DATABASE_URL");
    let mut maintenance = PgConnection::connect(&admin).await.expect("postgres is up");
    sqlx::query("SELECT pg_advisory_lock(727274)").execute(&mut maintenance).await.expect("lock");
    let template = "arrakis_test_template";
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(template)
        .fetch_optional(&mut maintenance)
        .await
        .expect("pg_database");
    if exists.is_none() {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {template} OWNER arrakis_owner")))
            .execute(&mut maintenance)
            .await
            .expect("create template");
    }
    Store::migrate(&with_database(&migrator, template)).await.expect("migrations apply to the template");
    let name = format!("arrakis_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name} TEMPLATE {template} OWNER arrakis_owner")))
        .execute(&mut maintenance)
        .await
        .expect("copy the template");
    // A database's own privileges are not copied from its template: no login creates
    // temporary objects here either (the worker refuses to start otherwise).
    sqlx::query(sqlx::AssertSqlSafe(format!("REVOKE TEMPORARY ON DATABASE {name} FROM PUBLIC")))
        .execute(&mut maintenance)
        .await
        .expect("revoke TEMPORARY");
    sqlx::query("SELECT pg_advisory_unlock(727274)").execute(&mut maintenance).await.expect("unlock");
    let (url, service_url) = (with_database(&app, &name), with_database(&service, &name));
    let store = Store::connect_lazy(&url, &service_url).expect("test database urls");
    TestDatabase { url, service_url, admin_url: with_database(&admin, &name), store }
}

/// A worker running on its own thread (its future is not `Send`), on a task queue of its own.
pub struct TestWorker {
    /// The task queue it polls.
    pub task_queue: String,
    /// Where its `/healthz` and `/metrics` are served.
    pub http_addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl TestWorker {
    /// Starts a worker against `db` and waits until it serves HTTP.
    pub fn start(db: &TestDatabase) -> Self {
        Self::start_with(db, &[])
    }

    /// As [`start`](Self::start), with extra settings (e.g. `DISCORD_TOKEN` and
    /// `DISCORD_API_BASE` pointing at the stand-in).
    pub fn start_with(db: &TestDatabase, extra: &[(&str, &str)]) -> Self {
        let task_queue = format!("test-{}", uuid::Uuid::new_v4().simple());
        Self::start_on(db, &task_queue, extra)
    }

    /// A worker on a given task queue (several workers may share one).
    pub fn start_on(db: &TestDatabase, task_queue: &str, extra: &[(&str, &str)]) -> Self {
        let task_queue = task_queue.to_string();
        let [app, service] = db.worker_env();
        let mut env: Vec<(String, String)> = [
            ("TEMPORAL_ADDRESS", stack_env("TEMPORAL_ADDRESS")),
            ("TEMPORAL_NAMESPACE", stack_env("TEMPORAL_NAMESPACE")),
            ("ARRAKIS_TASK_QUEUE", task_queue.clone()),
            app,
            service,
            ("ARRAKIS_HTTP_ADDR", "127.0.0.1:0".to_string()),
            ("ARRAKIS_MIGRATE", "false".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        // Later entries win, so `extra` overrides the defaults.
        let settings = arrakis_worker::Settings::from_lookup(|k| {
            env.iter().rev().find(|(name, _)| name == k).map(|(_, v)| v.clone())
        })
        .expect("test settings are valid");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(arrakis_worker::run_until(
                settings,
                async move {
                    let _ = stopped.await;
                },
                move |addr| {
                    let _ = ready_tx.send(addr);
                },
            ))
        });
        let http_addr = match ready_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => panic!("the worker did not start within 60 s: {:?}", thread.join()),
        };
        Self { task_queue, http_addr, stop: Some(stop), thread: Some(thread) }
    }

    /// Stops polling, drains, and returns how the worker ended.
    pub fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| anyhow::anyhow!("worker thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// A plain HTTP/1.0 GET on loopback: (status code, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").context("no header/body separator")?;
    let code = head.split_whitespace().nth(1).context("no status code")?.parse()?;
    Ok((code, body.to_string()))
}

/// Runs a shell snippet (a runbook line) with the stack's environment plus `extra`, from the
/// repository root, as an admin would.
pub fn run_shell(script: &str, extra: &[(&str, &str)]) -> Output {
    let mut command = std::process::Command::new("bash");
    command.arg("-euo").arg("pipefail").arg("-c").arg(script).current_dir(repo_root());
    for (k, v) in extra {
        command.env(k, v);
    }
    command.output().expect("bash runs")
}

/// The JSON object in a CLI answer (`-o json`): the update's or the workflow's result.
pub fn json_of(text: &str) -> serde_json::Value {
    let (start, end) = (text.find('{').unwrap_or(0), text.rfind('}').map_or(text.len(), |i| i + 1));
    let value: serde_json::Value = serde_json::from_str(&text[start..end]).unwrap_or(serde_json::Value::Null);
    match value.get("result") {
        Some(result) => result.clone(),
        None => value,
    }
}

/// The shell snippets of `docs/runbook.md` marked `<!-- runbook-test: NAME -->`, by name.
pub fn runbook_snippet(name: &str) -> anyhow::Result<String> {
    let runbook = std::fs::read_to_string(repo_root().join("docs/runbook.md"))?;
    let marker = format!("<!-- runbook-test: {name} -->");
    let Some((_, after)) = runbook.split_once(&marker) else { bail!("no {marker} in docs/runbook.md") };
    let block = after.split_once("```sh\n").context("no ```sh block after the marker")?.1;
    Ok(block.split_once("```").context("unterminated block")?.0.to_string())
}

/// Runs the runbook line `name` as an operator would: a plain `bash -c` (no errexit, no
/// pipefail), in the environment `eval "$(scripts/dev env)"` gives and nothing more but `extra`,
/// the values the operator fills in (`GUILD_ID`, a test's own task queue or address). A line
/// that only passes because the suite's own environment or shell options help it fails here.
pub fn run_runbook(name: &str, extra: &[(&str, &str)]) -> Output {
    let mut script = String::from("eval \"$(scripts/dev env)\"\n");
    for (k, v) in extra {
        script.push_str(&format!("export {k}='{}'\n", v.replace('\'', r"'\''")));
    }
    script.push_str(&runbook_snippet(name).expect("runbook line"));
    let mut command = std::process::Command::new("bash");
    command.arg("-c").arg(script).current_dir(repo_root()).env_clear();
    // What a login shell has, and what `scripts/dev` reads to name its ports and folders.
    for (k, v) in std::env::vars() {
        let dev = k.starts_with("ARRAKIS_") && (k.ends_with("_PORT") || k.ends_with("_DIR"));
        if dev || ["PATH", "HOME", "USER", "LANG", "TERM", "TMPDIR"].contains(&k.as_str()) {
            command.env(k, v);
        }
    }
    command.output().expect("bash runs")
}

/// A random guild id, so runs of the suite never collide on workflow IDs.
pub fn random_guild_id() -> String {
    let n = u64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap_or_default());
    (1_000_000_000_000_000_000 + n % 8_000_000_000_000_000_000).to_string()
}

/// The `arrakis-worker` binary beside the test binaries (`cargo test --workspace` builds it).
pub fn worker_binary() -> PathBuf {
    sibling_binary("arrakis-worker")
}

/// A binary of the workspace beside the running test or bench binary.
pub fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // Test binaries live in target/<profile>/deps, other binaries in target/<profile>.
    let mut dir = exe.parent().expect("target/<profile>");
    if dir.ends_with("deps") {
        dir = dir.parent().expect("target/<profile>");
    }
    let binary = dir.join(name);
    assert!(
        binary.is_file(),
        "{} is missing: run the tests with `scripts/dev test` (cargo test --workspace)",
        binary.display()
    );
    binary
}

/// A worker as a separate process, for tests that kill it.
pub struct WorkerProcess {
    child: std::process::Child,
}

impl WorkerProcess {
    /// Starts `arrakis-worker` on `task_queue` and waits until it polls.
    pub fn spawn(db: &TestDatabase, task_queue: &str, extra: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let mut command = std::process::Command::new(worker_binary());
        command
            .envs(db.worker_env())
            .env("ARRAKIS_TASK_QUEUE", task_queue)
            .env("ARRAKIS_HTTP_ADDR", "127.0.0.1:0")
            .env("ARRAKIS_MIGRATE", "false")
            .env("ARRAKIS_LOG_FORMAT", "json")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        for (k, v) in extra {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("the worker starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.checked_duration_since(Instant::now()).expect("the worker polls within 60 s");
            let line = rx.recv_timeout(left).expect("the worker polls within 60 s");
            if line.contains("arrakis worker polling") {
                break;
            }
        }
        // Keep draining its output so it never blocks on a full pipe; keep it in a file when
        // ARRAKIS_WORKER_LOG_DIR is set, for debugging.
        let mut log = std::env::var("ARRAKIS_WORKER_LOG_DIR")
            .ok()
            .and_then(|dir| std::fs::File::create(Path::new(&dir).join(format!("worker-{}.log", child.id()))).ok());
        std::thread::spawn(move || {
            use std::io::Write;
            while let Ok(line) = rx.recv() {
                if let Some(file) = log.as_mut() {
                    let _ = writeln!(file, "{line}");
                }
            }
        });
        Self { child }
    }

    /// The process id (for its peak memory in `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no draining, no goodbye.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gateway running on its own thread, connected to the stand-in.
pub struct TestGateway {
    /// Where its `/healthz` and `/metrics` are served.
    pub http_addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl TestGateway {
    /// Starts a gateway with `env` as its environment and waits until it serves HTTP (its
    /// shards may still be connecting: see [`wait_ready`](Self::wait_ready)).
    pub fn start(env: Vec<(String, String)>) -> Self {
        let settings = arrakis_gateway::Settings::from_lookup(|k| {
            env.iter().rev().find(|(name, _)| name == k).map(|(_, v)| v.clone())
        })
        .expect("gateway test settings are valid");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(arrakis_gateway::run_until(
                settings,
                async move {
                    let _ = stopped.await;
                },
                move |addr| {
                    let _ = ready_tx.send(addr);
                },
            ))
        });
        let http_addr = match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => panic!("the gateway did not start within 30 s: {:?}", thread.join()),
        };
        Self { http_addr, stop: Some(stop), thread: Some(thread) }
    }

    /// Waits until every shard has a session (`/healthz` answers 200).
    pub async fn wait_ready(&self) {
        let addr = self.http_addr;
        wait_until(Duration::from_secs(20), "the gateway's shards to connect", || async move {
            matches!(http_get(addr, "/healthz").await, Ok((200, _))).then_some(())
        })
        .await;
    }

    /// The gateway's metrics text.
    pub async fn metrics(&self) -> String {
        http_get(self.http_addr, "/metrics").await.map(|(_, body)| body).unwrap_or_default()
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The bot token the stand-in of a [`SynthesisStack`] accepts.
pub const SIM_TOKEN: &str = "process-test-token";

/// The stand-in, a database and a task queue: what a synthesis run against worker processes needs.
pub struct SynthesisStack {
    /// The Discord stand-in.
    pub sim: arrakis_sim::RunningSim,
    /// Its control API.
    pub control: arrakis_sim::SimClient,
    /// The database.
    pub db: TestDatabase,
    /// The task queue the workers poll.
    pub task_queue: String,
}

impl SynthesisStack {
    /// Starts the stand-in with a fresh database, its routes at `route_limit` a second (a test
    /// that is about Discord's real per-route limits sets 10 per 10 s, the stand-in's default,
    /// with `control.set_limits`).
    pub async fn start(route_limit: u32) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let sim = arrakis_sim::start(
            arrakis_sim::SimConfig { token: SIM_TOKEN.into(), ..arrakis_sim::SimConfig::default() },
            loopback,
            loopback,
        )
        .await
        .expect("sim");
        let control = sim.client();
        control
            .set_limits(&arrakis_sim::Limits { route_limit, route_window_secs: 1.0, ..arrakis_sim::Limits::default() })
            .await
            .expect("limits");
        Self { sim, control, db: fresh_database().await, task_queue: format!("test-{}", uuid::Uuid::new_v4().simple()) }
    }

    /// The settings a worker needs to talk to the stand-in.
    fn discord_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TEMPORAL_ADDRESS", stack_env("TEMPORAL_ADDRESS")),
            ("TEMPORAL_NAMESPACE", stack_env("TEMPORAL_NAMESPACE")),
            ("DISCORD_TOKEN", SIM_TOKEN.to_string()),
            ("DISCORD_API_BASE", format!("http://{}", self.sim.api_host())),
            ("REDIS_URL", stack_env("REDIS_URL")),
            ("DISCORD_APPLICATION_ID", arrakis_sim::SimConfig::default().application_id.to_string()),
        ]
    }

    /// The environment of a gateway connected to the stand-in and the stack's Temporal.
    pub fn gateway_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self.discord_env().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        env.extend([
            ("DISCORD_GATEWAY_URL".to_string(), self.sim.gateway_url()),
            ("ARRAKIS_TASK_QUEUE".to_string(), self.task_queue.clone()),
            ("ARRAKIS_GATEWAY_HTTP_ADDR".to_string(), "127.0.0.1:0".to_string()),
        ]);
        env
    }

    /// A gateway on the stand-in, its shards connected.
    pub async fn gateway(&self) -> TestGateway {
        let gateway = TestGateway::start(self.gateway_env());
        gateway.wait_ready().await;
        gateway
    }

    /// A worker process on the task queue, talking to the stand-in.
    pub fn worker(&self) -> WorkerProcess {
        let env = self.discord_env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        WorkerProcess::spawn(&self.db, &self.task_queue, &env)
    }

    /// A worker process with extra settings (e.g. `ARRAKIS_CHAINS`), for tests that kill it.
    pub fn worker_with(&self, extra: &[(&str, &str)]) -> WorkerProcess {
        let env = self.discord_env();
        let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend_from_slice(extra);
        WorkerProcess::spawn(&self.db, &self.task_queue, &env)
    }

    /// A worker in this process with extra settings (e.g. `ARRAKIS_CHAINS`).
    pub fn in_process_worker_with(&self, extra: &[(&str, &str)]) -> TestWorker {
        let env = self.discord_env();
        let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend_from_slice(extra);
        TestWorker::start_on(&self.db, &self.task_queue, &env)
    }

    /// A worker in this process (a thread) on the task queue, talking to the stand-in.
    pub fn in_process_worker(&self) -> TestWorker {
        let env = self.discord_env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        TestWorker::start_on(&self.db, &self.task_queue, &env)
    }

    /// A new guild in the stand-in, the bot's role high enough to manage what it creates.
    pub async fn new_guild(&self) -> String {
        let guild = random_guild_id();
        self.control
            .create_guild(&arrakis_sim::GuildSeed {
                id: Some(guild.parse().expect("id")),
                name: "Sietch".into(),
                bot_role_position: Some(200),
                ..arrakis_sim::GuildSeed::default()
            })
            .await
            .expect("guild");
        guild
    }

    /// Publishes `manifest` as the guild's next version through the runbook's line.
    pub fn publish(&self, guild: &str, manifest: serde_json::Value) {
        let input = std::env::temp_dir().join(format!("publish-{guild}-{}.json", uuid::Uuid::new_v4().simple()));
        std::fs::write(&input, serde_json::json!({"manifest": manifest, "actor": "cli:test"}).to_string())
            .expect("input");
        let (ok, text) = self.shell("publish", guild, &[("PUBLISH_INPUT", &input.display().to_string())]);
        assert!(ok, "{text}");
    }

    /// A new guild with a published manifest of `roles` roles and `categories` categories of
    /// `per_category` channels; returns its id.
    pub async fn guild(&self, roles: usize, categories: usize, per_category: usize) -> String {
        let guild = self.new_guild().await;
        let manifest = serde_json::json!({
            "guild_id": guild, "name": "Sietch", "mode": "parallel", "chains": [1],
            "assets": [{"key": "spice", "chain_id": 1, "kind": "erc20", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}],
            "rules": {"holder": {"min_balance": {"asset": "spice", "amount": "1"}}},
            "roles": (0..roles).map(|i| serde_json::json!({"key": format!("r{i}"), "name": format!("arrakis-r{i}"), "grant": {"rule": "holder"}})).collect::<Vec<_>>(),
            "channels": {"strategy": "custom", "categories": (0..categories).map(|c| serde_json::json!({
                "key": format!("c{c}"), "name": format!("Cat {c}"), "visible_to": [format!("r{}", c % roles.max(1))],
                "channels": (0..per_category).map(|n| serde_json::json!({"key": format!("c{c}-{n}"), "name": format!("ch-{c}-{n}")})).collect::<Vec<_>>()
            })).collect::<Vec<_>>()}
        });
        self.publish(&guild, manifest);
        guild
    }

    /// Runs a runbook line for `guild`.
    pub fn shell(&self, name: &str, guild: &str, extra: &[(&str, &str)]) -> (bool, String) {
        let mut env = vec![("ARRAKIS_TASK_QUEUE", self.task_queue.as_str()), ("GUILD_ID", guild), ("VERSION", "1")];
        env.extend_from_slice(extra);
        let out = run_runbook(name, &env);
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    }

    /// The synthesis status query, as JSON.
    pub async fn status(&self, guild: &str) -> serde_json::Value {
        let (_, text) = self.shell("synthesis-status", guild, &[]);
        serde_json::from_str(text[text.find('{').unwrap_or(0)..].trim()).unwrap_or(serde_json::Value::Null)
    }
}

/// True once the latest run of `workflow_id` has completed (checked with the `temporal` CLI).
pub fn workflow_completed(workflow_id: &str) -> bool {
    let out = run_shell(&format!("temporal workflow describe --workflow-id {workflow_id} --output json"), &[]);
    String::from_utf8_lossy(&out.stdout).contains("WORKFLOW_EXECUTION_STATUS_COMPLETED")
}

/// Payloads Temporal's SDK cannot decode into a typed value, as the `temporal` CLI sends them:
/// (what, the CLI's input flags). Before `Lenient` took raw payloads, each of these wedged a
/// run for good when sent as a signal or a start input.
pub fn undecodable_inputs() -> Vec<(&'static str, String)> {
    // A manifest whose one rule nests 70 `all_of`s: past serde_json's recursion limit of 128
    // (each level is an object and an array), which the manifest's own "at most 8 deep" never
    // got to see. Any other type refuses it by its first, unknown field.
    let deep = std::env::temp_dir().join("arrakis-rule-nested-70-deep.json");
    if !deep.exists() {
        let rule = format!("{}{}{}", r#"{"all_of":["#.repeat(70), r#"{"owns_nft":{"asset":"a"}}"#, "]}".repeat(70));
        std::fs::write(&deep, format!(r#"{{"manifest":{{"rules":{{"deep":{rule}}}}}}}"#)).expect("a temporary file");
    }
    vec![
        ("no input", String::new()),
        ("two inputs", "--input '{}' --input '{}'".to_string()),
        ("binary/plain", "--input-meta encoding=binary/plain --input '\"abc\"'".to_string()),
        ("a rule nested 70 deep", format!("--input-file {}", deep.display())),
    ]
}

/// Sends `signal` to `workflow_id` with every undecodable input and a few that do not fit any
/// contract (`{}`, `123`, `null`), through the CLI; each must be accepted by the server.
pub fn send_garbage(workflow_id: &str, signal: &str) {
    let mut inputs = undecodable_inputs();
    inputs.extend([
        ("{}", "--input '{}'".to_string()),
        ("123", "--input 123".to_string()),
        ("null", "--input null".to_string()),
    ]);
    for (what, flags) in inputs {
        let out =
            run_shell(&format!("temporal workflow signal --workflow-id {workflow_id} --name {signal} {flags}"), &[]);
        assert!(
            out.status.success(),
            "{signal} with {what}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `promtool check metrics` over a `/metrics` page: its complaints, or `None` when it passes.
pub fn promtool_complaints(page: &str) -> Option<String> {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/dev installs Debian's prometheus package)");
    child.stdin.take().expect("stdin").write_all(page.as_bytes()).expect("promtool reads the page");
    let out = child.wait_with_output().expect("promtool runs");
    (!out.status.success())
        .then(|| format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Every metric the Grafana dashboard (`docs/grafana/arrakis.json`) charts, by name.
pub fn dashboard_metrics() -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join("docs/grafana/arrakis.json")).expect("the dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut names = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("every target has an expr");
            let words = expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'));
            names.extend(words.filter(|w| w.starts_with("arrakis_") || w.starts_with("temporal_")).map(str::to_string));
        }
    }
    names
}

/// The operator's view holds together: both pages pass `promtool check metrics`, and every
/// metric the dashboard charts is on one of them.
pub fn assert_metrics_pages(worker: &str, gateway: &str) {
    assert_eq!(promtool_complaints(worker), None, "the worker's /metrics");
    assert_eq!(promtool_complaints(gateway), None, "the gateway's /metrics");
    let on_a_page = |name: &str| {
        [worker, gateway].iter().any(|page| {
            page.lines().any(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' '])))
        })
    };
    let charted = dashboard_metrics();
    assert!(charted.len() >= 15, "the dashboard charts {charted:?}");
    let missing: Vec<&String> = charted.iter().filter(|name| !on_a_page(name)).collect();
    assert!(missing.is_empty(), "charted by the dashboard but on no /metrics page: {missing:?}");
}
