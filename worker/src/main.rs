//! `arrakis-worker`: reads its settings from the environment and runs. `arrakis-worker migrate`
//! applies the database migrations through `ARRAKIS_MIGRATION_DATABASE_URL` and exits (a
//! deploy step: the running workers then need no migration login).

use arrakis_worker::Settings;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None => run().await,
        Some("migrate") => migrate().await,
        Some(other) => {
            eprintln!(
                "arrakis-worker: unknown command {other:?}: run it without arguments, or as `arrakis-worker migrate`"
            );
            ExitCode::from(2)
        }
    }
}

async fn run() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("arrakis-worker: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    match arrakis_worker::run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("arrakis-worker: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate() -> ExitCode {
    let Some(url) = std::env::var("ARRAKIS_MIGRATION_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!(
            "arrakis-worker: invalid configuration: ARRAKIS_MIGRATION_DATABASE_URL: required: postgres://arrakis_migrator@host:port/db"
        );
        return ExitCode::from(2);
    };
    match arrakis_activities::Store::migrate(&url).await {
        Ok(()) => {
            println!("arrakis-worker: migrations applied");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("arrakis-worker: applying migrations: {e}");
            ExitCode::FAILURE
        }
    }
}
