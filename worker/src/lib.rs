#![doc = include_str!("../README.md")]

mod config;
mod http;
mod sdk_metrics;
mod startup;
mod temporal;

pub use config::{DiscordConfig, EligibilityConfig, LogFormat, Secret, Settings, SettingsError};
pub use startup::{run, run_until};
pub use temporal::connect_client;
