//! The Arrakis worker: registers the workflows and activities on the task queue, serves
//! `/healthz` and `/metrics`, and drains on SIGTERM. `main.rs` only wires these together.

mod config;
mod http;
mod sdk_metrics;
mod startup;
mod temporal;

pub use config::{DiscordConfig, EligibilityConfig, LogFormat, Secret, Settings, SettingsError};
pub use startup::{run, run_until};
pub use temporal::connect_client;
