//! `arrakis-worker`: reads its settings from the environment and runs.

use arrakis_worker::Settings;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("arrakis-worker: invalid configuration: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match arrakis_worker::run(settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("arrakis-worker: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
