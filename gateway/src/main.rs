//! `arrakis-gateway`: reads its settings (exits 2 naming the variable when one is wrong) and
//! runs until SIGTERM or SIGINT.

use arrakis_gateway::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,twilight_gateway=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if std::env::var("ARRAKIS_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("arrakis-gateway: {e}");
            std::process::exit(2);
        }
    };
    arrakis_gateway::run_until(settings, shutdown()?, |_| {}).await
}

/// Installs the SIGTERM and SIGINT handlers before the gateway connects, so a signal sent as
/// soon as it logs anything stops it cleanly; the returned future completes on the first.
fn shutdown() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use anyhow::Context as _;
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
