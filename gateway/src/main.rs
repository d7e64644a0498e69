//! `arrakis-gateway`: reads its settings (exits 2 naming the variable when one is wrong) and
//! runs until SIGTERM or Ctrl-C.

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
    arrakis_gateway::run_until(settings, shutdown(), |_| {}).await
}

async fn shutdown() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}
