//! Builds the worker from [`Settings`] and runs it until SIGTERM or SIGINT, then drains.

use crate::{LogFormat, Settings, connect_client, http};
use anyhow::Context;
use arrakis_activities::{ManifestActivities, Store};
use arrakis_workflows::ManifestPublishWorkflow;
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use temporalio_common::telemetry::{
    PrometheusExporterOptions, TelemetryOptions, metrics::CoreMeter, start_prometheus_metric_exporter,
};
use temporalio_sdk::{Runtime, Worker, WorkerOptions, runtime::RuntimeOptions};

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

/// Runs the worker until SIGTERM or SIGINT.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    init_logging(settings.log_format);
    run_until(settings, shutdown_signal(), |_| {}).await
}

/// Runs the worker: migrations, the Temporal connection, the HTTP endpoints (their bound
/// address goes to `on_ready`), then polling until `shutdown` completes, after which in-flight
/// work drains for up to 20 s. Tests drive it directly with their own shutdown future.
pub async fn run_until(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let store = Store::connect_lazy(settings.database_url.expose()).context("DATABASE_URL")?;
    if settings.migrate {
        store.migrate().await.context("applying database migrations")?;
    }

    let exporter = start_prometheus_metric_exporter(
        PrometheusExporterOptions::builder().socket_addr(SocketAddr::from(([127, 0, 0, 1], 0))).build(),
    )?;
    let meter: Arc<dyn CoreMeter> = exporter.meter.clone();
    let runtime = Runtime::from_current_tokio(
        RuntimeOptions::builder()
            .telemetry_options(TelemetryOptions::builder().metrics(meter).build())
            .build()
            .map_err(anyhow::Error::msg)?,
    )?;

    let identity = format!("arrakis-worker@{}", std::process::id());
    let client = connect_client(&settings.temporal_address, &settings.namespace, &identity).await?;
    let options = WorkerOptions::new(settings.task_queue.clone())
        .register_workflow::<ManifestPublishWorkflow>()?
        .register_activities(ManifestActivities::new(store.clone()))
        .graceful_shutdown_period(DRAIN_PERIOD)
        .build();
    let mut worker = Worker::new(&runtime, client, options)?;

    let polling = Arc::new(AtomicBool::new(true));
    let listener = tokio::net::TcpListener::bind(settings.http_addr)
        .await
        .with_context(|| format!("ARRAKIS_HTTP_ADDR {} is not free", settings.http_addr))?;
    let http_addr = listener.local_addr()?;
    let router = http::router(http::Health { store, polling: polling.clone(), sdk_metrics: exporter.bound_addr });
    tokio::spawn(async move { axum::serve(listener, router).await });
    on_ready(http_addr);

    let stop = worker.shutdown_handle();
    let stopping = polling.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutdown requested: draining in-flight work");
        stopping.store(false, Ordering::Relaxed);
        stop();
    });

    tracing::info!(
        task_queue = %settings.task_queue,
        namespace = %settings.namespace,
        http = %http_addr,
        "arrakis worker polling"
    );
    let result = worker.run().await;
    polling.store(false, Ordering::Relaxed);
    tracing::info!("arrakis worker stopped");
    Ok(result?)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
