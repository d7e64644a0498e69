//! Builds the worker from [`Settings`] and runs it until SIGTERM or SIGINT, then drains.

use crate::{LogFormat, Settings, connect_client, http};
use anyhow::Context;
use arrakis_activities::{
    ManifestActivities, Store, SynthesisActivities, WizardActivities,
    chain::Chains,
    circuit::CircuitConfig,
    discord::{BudgetSettings, DiscordRest, DiscordSettings, Gate, RateBudget},
    eligibility::{EligibilityCache, EligibilityChecker, MemberActivities},
    member_sync::MemberSyncActivities,
    migration::MigrationActivities,
    score::{PgScoreStore, ScoreClient, ScoreLookup},
    shadow::ShadowActivities,
    wallet::WalletLinker,
};
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use temporalio_common::telemetry::{TelemetryOptions, metrics::CoreMeter};
use temporalio_sdk::{
    Runtime, Worker, WorkerOptions,
    runtime::{PollerBehavior, RuntimeOptions},
};

/// How long in-flight activities get to finish after SIGTERM before they are cancelled.
const DRAIN_PERIOD: Duration = Duration::from_secs(20);

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,temporalio_sdk_core=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// An eligibility checker from the settings; a chains file that does not parse stops the
/// worker with the field named.
fn eligibility_checker(settings: &Settings, store: &Store) -> anyhow::Result<EligibilityChecker<PgScoreStore>> {
    let config = &settings.eligibility;
    let chains = match &config.chains_file {
        Some(path) => Chains::from_file(path).map_err(anyhow::Error::msg)?,
        None => {
            tracing::warn!("ARRAKIS_CHAINS is unset: eligibility checks will answer unknown");
            Chains::default()
        }
    };
    let client = match (&config.score_api_url, &config.score_api_key) {
        (Some(url), Some(key)) => Some(ScoreClient::new(
            url.clone(),
            key.expose().to_string(),
            CircuitConfig::default(),
            Duration::from_secs(5),
        )),
        _ => None,
    };
    let cache = match &config.redis_url {
        Some(url) => EligibilityCache::new(url.expose()).context("REDIS_URL")?,
        None => EligibilityCache::disabled(),
    };
    let scores = ScoreLookup::new(client, PgScoreStore::new(store.clone()));
    Ok(EligibilityChecker::new(store.clone(), chains, scores, cache))
}

/// The eligibility and wallet activities, deciding with `checker`.
fn member_activities(
    settings: &Settings,
    store: &Store,
    checker: Arc<EligibilityChecker<PgScoreStore>>,
) -> MemberActivities {
    MemberActivities::new(checker, WalletLinker::new(store.clone(), settings.eligibility.verify_domain.clone()))
}

/// Runs the worker until SIGTERM or SIGINT.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    init_logging(settings.log_format);
    run_until(settings, shutdown_signal()?, |_| {}).await
}

/// Runs the worker: migrations, the Temporal connection, the HTTP endpoints (their bound
/// address goes to `on_ready`), then polling until `shutdown` completes, after which in-flight
/// work drains for up to 20 s. Tests drive it directly with their own shutdown future.
pub async fn run_until(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    if let Some(url) = &settings.migration_database_url {
        Store::migrate(url.expose()).await.context("applying database migrations (ARRAKIS_MIGRATION_DATABASE_URL)")?;
    }
    let store = Store::connect_lazy(settings.database_url.expose(), settings.service_database_url.expose())
        .context("DATABASE_URL / ARRAKIS_SERVICE_DATABASE_URL")?;
    // A login that would bypass the tenant policies stops the worker; an unreachable database
    // does not (it may come up later, and /healthz says so meanwhile).
    match store.check_roles().await {
        Err(e @ arrakis_activities::StoreError::Misconfigured(_)) => return Err(e.into()),
        Err(e) => tracing::warn!("could not check the database logins yet: {e}"),
        Ok(()) => {}
    }

    // The SDK's metrics go into the same registry as Arrakis's own: one /metrics page.
    let meter: Arc<dyn CoreMeter> = Arc::new(crate::sdk_metrics::SdkMeter::shared()?);
    let runtime = Runtime::from_current_tokio(
        RuntimeOptions::builder()
            .telemetry_options(TelemetryOptions::builder().metrics(meter).build())
            .build()
            .map_err(anyhow::Error::msg)?,
    )?;

    // One checker for every activity: one set of RPC clients, breakers and bulkheads per chain.
    let checker = Arc::new(eligibility_checker(&settings, &store)?);
    let members = member_activities(&settings, &store, checker.clone());
    let identity = format!("arrakis-worker@{}", std::process::id());
    let client = connect_client(&settings.temporal_address, &settings.namespace, &identity).await?;
    let mut options = arrakis_workflows::register_workflows!(WorkerOptions::new(settings.task_queue.clone()))
        .register_activities(members)
        .register_activities(ManifestActivities::new(store.clone(), client.clone()))
        .register_activities(WizardActivities::new(store.clone(), client.clone(), checker.chains().clone()))
        .graceful_shutdown_period(DRAIN_PERIOD)
        .build();
    if let Some(pollers) = settings.workflow_pollers {
        options.workflow_task_poller_behavior = Some(PollerBehavior::SimpleMaximum(pollers));
        options.nonsticky_to_sticky_poll_ratio = 0.5;
    }
    let mut worker = Worker::new(&runtime, client.clone(), options)?;
    let mut discord_worker = match &settings.discord {
        Some(discord) => Some(discord_worker(&runtime, client, &settings, discord, store.clone(), checker).await?),
        None => {
            tracing::warn!("DISCORD_TOKEN is unset: this worker runs no Discord activities");
            None
        }
    };

    let polling = Arc::new(AtomicBool::new(true));
    let listener = tokio::net::TcpListener::bind(settings.http_addr)
        .await
        .with_context(|| format!("ARRAKIS_HTTP_ADDR {} is not free", settings.http_addr))?;
    let http_addr = listener.local_addr()?;
    let router = http::router(http::Health { store, polling: polling.clone() });
    tokio::spawn(async move { axum::serve(listener, router).await });
    on_ready(http_addr);

    let stop = worker.shutdown_handle();
    let stop_discord = discord_worker.as_ref().map(Worker::shutdown_handle);
    let stopping = polling.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutdown requested: draining in-flight work");
        stopping.store(false, Ordering::Relaxed);
        stop();
        if let Some(stop) = stop_discord {
            stop();
        }
    });

    tracing::info!(
        task_queue = %settings.task_queue,
        namespace = %settings.namespace,
        http = %http_addr,
        "arrakis worker polling"
    );
    let (main, discord) = tokio::join!(worker.run(), async {
        match discord_worker.as_mut() {
            Some(w) => w.run().await,
            None => Ok(()),
        }
    });
    polling.store(false, Ordering::Relaxed);
    tracing::info!("arrakis worker stopped");
    main?;
    Ok(discord?)
}

/// The worker of the Discord task queue: the Discord activities, behind the shared Redis
/// budget, with the server-side task-queue rate limit as a second guard (the same value on
/// every worker, as Temporal requires).
async fn discord_worker(
    runtime: &Runtime,
    client: temporalio_client::Client,
    settings: &Settings,
    discord: &crate::DiscordConfig,
    store: Store,
    checker: Arc<EligibilityChecker<PgScoreStore>>,
) -> anyhow::Result<Worker> {
    let bot_key = discord.application_id.map_or_else(|| "default".to_string(), |id| id.to_string());
    let budget =
        RateBudget::connect(discord.redis_url.expose(), BudgetSettings::within(discord.requests_per_second, bot_key))
            .await
            .context("REDIS_URL: cannot reach Redis for the Discord rate budget")?;
    let rest = DiscordRest::new(
        &DiscordSettings {
            token: discord.token.expose().to_string(),
            api_base: discord.api_base.clone(),
            per_guild_per_second: (discord.requests_per_second / 2).max(1),
        },
        budget,
    );
    // Every change to a guild passes the gate; shadow mode holds a reader and nothing else.
    let gate = Gate::new(rest, store.clone());
    let shadow = ShadowActivities::new(
        store.clone(),
        gate.reader(),
        checker.clone(),
        client.clone(),
        settings.task_queue.clone(),
    );
    let members = MemberSyncActivities::new(store.clone(), gate.clone(), checker);
    let migration = MigrationActivities::new(store.clone(), gate.clone(), client.clone());
    let options = WorkerOptions::new(format!("{}-discord", settings.task_queue))
        .register_activities(SynthesisActivities::new(store, gate, discord.application_id))
        .register_activities(shadow)
        .register_activities(members)
        .register_activities(migration)
        .max_task_queue_activities_per_second(f64::from(discord.requests_per_second))
        .graceful_shutdown_period(DRAIN_PERIOD)
        .build();
    Ok(Worker::new(runtime, client, options)?)
}

/// Installs the SIGTERM and SIGINT handlers now, before the worker logs that it is polling,
/// so a signal sent right after that line drains the worker instead of killing it outright;
/// the returned future completes on the first of them.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}
