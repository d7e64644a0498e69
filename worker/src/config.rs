//! Typed settings from the environment, validated at startup; the names are the architecture's.

use std::{fmt, net::SocketAddr};
use url::Url;

/// A value that never prints (database URLs carry passwords).
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Everything the worker needs from its environment.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `TEMPORAL_ADDRESS`: the frontend, as a URL (`host:port` is accepted too).
    pub temporal_address: Url,
    /// `TEMPORAL_NAMESPACE`.
    pub namespace: String,
    /// `ARRAKIS_TASK_QUEUE`.
    pub task_queue: String,
    /// `DATABASE_URL`: the application login (`arrakis_app`), subject to row-level security.
    pub database_url: Secret,
    /// `ARRAKIS_SERVICE_DATABASE_URL`: the cross-tenant login (`arrakis_service`).
    pub service_database_url: Secret,
    /// `ARRAKIS_MIGRATION_DATABASE_URL`: the login that applies migrations
    /// (`arrakis_migrator`); `None` when this worker does not migrate.
    pub migration_database_url: Option<Secret>,
    /// `ARRAKIS_HTTP_ADDR`: where `/healthz` and `/metrics` are served.
    pub http_addr: SocketAddr,
    /// `ARRAKIS_LOG_FORMAT`: `text` or `json`.
    pub log_format: LogFormat,
    /// Discord access; `None` when `DISCORD_TOKEN` is unset (no Discord activities then).
    pub discord: Option<DiscordConfig>,
    /// What eligibility checks and wallet links need.
    pub eligibility: EligibilityConfig,
    /// `ARRAKIS_WORKFLOW_POLLERS`: `sdk` (the default) leaves workflow-task polling to the SDK
    /// (five polls, one on the shared queue, or autoscaling where the server offers it); a
    /// number, 2 to 100, polls that many at once, half on the shared queue. `gateway-bench`
    /// compares the two: on the dev server the SDK's answered updates faster.
    pub workflow_pollers: Option<usize>,
}

/// What the eligibility and wallet activities need; every part is optional, and what is
/// missing degrades (no chains: checks are `unknown`; no Score Service: the cache, then the
/// chain; no Redis: no five-minute cache).
#[derive(Clone, Debug, Default)]
pub struct EligibilityConfig {
    /// `ARRAKIS_CHAINS`: the path of the chains file (validated at startup).
    pub chains_file: Option<String>,
    /// `SCORE_API_URL`.
    pub score_api_url: Option<Url>,
    /// `SCORE_API_KEY` (required with `SCORE_API_URL`).
    pub score_api_key: Option<Secret>,
    /// `REDIS_URL`: the eligibility cache.
    pub redis_url: Option<Secret>,
    /// `ARRAKIS_VERIFY_DOMAIN`: how the `/verify` challenge names Arrakis (default `Arrakis`).
    pub verify_domain: String,
}

/// What the Discord activities need.
#[derive(Clone, Debug)]
pub struct DiscordConfig {
    /// `DISCORD_TOKEN`.
    pub token: Secret,
    /// `DISCORD_API_BASE`: the stand-in's URL, or `None` for Discord itself.
    pub api_base: Option<String>,
    /// `DISCORD_APPLICATION_ID`: the bot's user id (keeps it able to see channels it hides).
    pub application_id: Option<u64>,
    /// `REDIS_URL`: the shared rate budget.
    pub redis_url: Secret,
    /// `ARRAKIS_DISCORD_RPS`: requests per second for the bot across all workers (default 45,
    /// at most 50); also the Discord task queue's server-side activity rate.
    pub requests_per_second: u32,
}

/// A setting that is missing or malformed, named with what is allowed.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {rule}")]
pub struct SettingsError {
    /// The environment variable.
    pub variable: &'static str,
    /// What it must be.
    pub rule: String,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &'static str, default: &str| {
            lookup(name).filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
        };
        let err = |variable: &'static str, rule: String| SettingsError { variable, rule };

        let address = get("TEMPORAL_ADDRESS", "http://127.0.0.1:7233");
        let with_scheme = if address.contains("://") { address.clone() } else { format!("http://{address}") };
        let temporal_address = Url::parse(&with_scheme)
            .ok()
            .filter(|u| {
                matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.port_or_known_default().is_some()
            })
            .ok_or_else(|| err("TEMPORAL_ADDRESS", format!("a host:port or http(s) URL, got {address:?}")))?;

        let name_rule = |variable: &'static str, value: String| {
            if value.is_empty() || value.len() > 255 || value.chars().any(char::is_whitespace) {
                Err(err(variable, format!("1–255 characters without spaces, got {value:?}")))
            } else {
                Ok(value)
            }
        };
        let namespace = name_rule("TEMPORAL_NAMESPACE", get("TEMPORAL_NAMESPACE", "arrakis"))?;
        let task_queue = name_rule("ARRAKIS_TASK_QUEUE", get("ARRAKIS_TASK_QUEUE", "arrakis"))?;

        let postgres_url = |variable: &'static str, role: &str| -> Result<Option<String>, SettingsError> {
            match lookup(variable).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Ok(Some(url)),
                Some(_) => {
                    Err(err(variable, format!("must start with postgres:// or postgresql:// (the {role} login)")))
                }
            }
        };
        let database_url = postgres_url("DATABASE_URL", "arrakis_app")?
            .ok_or_else(|| err("DATABASE_URL", "required: postgres://arrakis_app@host:port/db".into()))?;
        let service_database_url =
            postgres_url("ARRAKIS_SERVICE_DATABASE_URL", "arrakis_service")?.ok_or_else(|| {
                err("ARRAKIS_SERVICE_DATABASE_URL", "required: postgres://arrakis_service@host:port/db".into())
            })?;
        let migration_database_url = postgres_url("ARRAKIS_MIGRATION_DATABASE_URL", "arrakis_migrator")?;

        let http = get("ARRAKIS_HTTP_ADDR", "127.0.0.1:9464");
        let http_addr = http
            .parse()
            .map_err(|_| err("ARRAKIS_HTTP_ADDR", format!("an ip:port such as 127.0.0.1:9464, got {http:?}")))?;

        let pollers = get("ARRAKIS_WORKFLOW_POLLERS", "sdk");
        let workflow_pollers = match pollers.as_str() {
            "sdk" => None,
            n => Some(n.parse::<usize>().ok().filter(|n| (2..=100).contains(n)).ok_or_else(|| {
                err("ARRAKIS_WORKFLOW_POLLERS", format!("2 to 100 concurrent polls, or `sdk`, got {pollers:?}"))
            })?),
        };
        let log_format = match get("ARRAKIS_LOG_FORMAT", "text").as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(err("ARRAKIS_LOG_FORMAT", format!("`text` or `json`, got {other:?}"))),
        };
        // Migrating is on when a migration login is given, unless ARRAKIS_MIGRATE says not to.
        let migrate = match lookup("ARRAKIS_MIGRATE").unwrap_or_default().as_str() {
            "" => migration_database_url.is_some(),
            "true" | "1" => true,
            "false" | "0" => false,
            other => return Err(err("ARRAKIS_MIGRATE", format!("`true` or `false`, got {other:?}"))),
        };
        if migrate && migration_database_url.is_none() {
            return Err(err(
                "ARRAKIS_MIGRATION_DATABASE_URL",
                "required with ARRAKIS_MIGRATE=true: postgres://arrakis_migrator@host:port/db".into(),
            ));
        }
        let migration_database_url = migration_database_url.filter(|_| migrate).map(Secret::new);

        let discord = match lookup("DISCORD_TOKEN").filter(|v| !v.is_empty()) {
            None => None,
            Some(token) => {
                let redis_url = lookup("REDIS_URL")
                    .filter(|v| v.starts_with("redis://") || v.starts_with("rediss://"))
                    .ok_or_else(|| err("REDIS_URL", "required with DISCORD_TOKEN: redis://host:port".into()))?;
                let api_base = lookup("DISCORD_API_BASE").filter(|v| !v.is_empty());
                if let Some(base) = &api_base
                    && !(base.starts_with("http://") || base.starts_with("https://"))
                {
                    return Err(err(
                        "DISCORD_API_BASE",
                        format!("an http(s) URL such as http://127.0.0.1:3001, got {base:?}"),
                    ));
                }
                let application_id = match lookup("DISCORD_APPLICATION_ID").filter(|v| !v.is_empty()) {
                    None => None,
                    Some(v) => {
                        Some(v.parse().map_err(|_| err("DISCORD_APPLICATION_ID", format!("a Discord id, got {v:?}")))?)
                    }
                };
                let default_rps = arrakis_activities::discord::BudgetSettings::DEFAULT_REQUESTS_PER_SECOND.to_string();
                let rps = get("ARRAKIS_DISCORD_RPS", &default_rps);
                let requests_per_second =
                    rps.parse::<u32>().ok().filter(|r| (1..=50).contains(r)).ok_or_else(|| {
                        err("ARRAKIS_DISCORD_RPS", format!("1 to 50 (Discord allows 50 a second), got {rps:?}"))
                    })?;
                Some(DiscordConfig {
                    token: Secret::new(token),
                    api_base,
                    application_id,
                    redis_url: Secret::new(redis_url),
                    requests_per_second,
                })
            }
        };

        let chains_file = lookup("ARRAKIS_CHAINS").filter(|v| !v.is_empty());
        let score_api_url = match lookup("SCORE_API_URL").filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => Some(
                Url::parse(&v)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                    .ok_or_else(|| err("SCORE_API_URL", "an http(s) URL such as http://127.0.0.1:3003".into()))?,
            ),
        };
        let score_api_key = lookup("SCORE_API_KEY").filter(|v| !v.is_empty()).map(Secret::new);
        if score_api_url.is_some() && score_api_key.is_none() {
            return Err(err("SCORE_API_KEY", "required with SCORE_API_URL".into()));
        }
        let redis_url = match lookup("REDIS_URL").filter(|v| !v.is_empty()) {
            Some(v) if v.starts_with("redis://") || v.starts_with("rediss://") => Some(Secret::new(v)),
            Some(_) => return Err(err("REDIS_URL", "a redis:// or rediss:// URL".into())),
            None => None,
        };
        let verify_domain = get("ARRAKIS_VERIFY_DOMAIN", "Arrakis");
        if verify_domain.len() > 100 || verify_domain.contains('\n') {
            return Err(err("ARRAKIS_VERIFY_DOMAIN", "one line of at most 100 characters".into()));
        }
        let eligibility = EligibilityConfig { chains_file, score_api_url, score_api_key, redis_url, verify_domain };

        Ok(Self {
            eligibility,
            discord,
            temporal_address,
            namespace,
            task_queue,
            database_url: Secret::new(database_url),
            service_database_url: Secret::new(service_database_url),
            migration_database_url,
            http_addr,
            log_format,
            workflow_pollers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    const APP: (&str, &str) = ("DATABASE_URL", "postgres://arrakis_app:pw@127.0.0.1/arrakis");
    const SERVICE: (&str, &str) = ("ARRAKIS_SERVICE_DATABASE_URL", "postgres://arrakis_service:spw@127.0.0.1/arrakis");
    const MIGRATOR: (&str, &str) = ("ARRAKIS_MIGRATION_DATABASE_URL", "postgres://arrakis_migrator:mpw@h/arrakis");

    #[test]
    fn defaults_follow_the_architecture() {
        let s = settings(&[APP, SERVICE, MIGRATOR]).expect("valid");
        assert_eq!(s.temporal_address.as_str(), "http://127.0.0.1:7233/");
        assert_eq!((s.namespace.as_str(), s.task_queue.as_str()), ("arrakis", "arrakis"));
        let printed = format!("{s:?}");
        for password in ["pw@", "spw", "mpw"] {
            assert!(!printed.contains(password), "a database password must never print: {printed}");
        }
        assert!(s.migration_database_url.is_some(), "a migration login means this worker migrates");
        assert_eq!(s.workflow_pollers, None, "the SDK polls as it chooses unless told otherwise");
        let sixteen = settings(&[APP, SERVICE, ("ARRAKIS_WORKFLOW_POLLERS", "16")]).expect("a number");
        assert_eq!(sixteen.workflow_pollers, Some(16));
    }

    #[test]
    fn migrating_needs_the_migration_login_and_can_be_turned_off() {
        assert!(settings(&[APP, SERVICE]).expect("no migrations").migration_database_url.is_none());
        let off = settings(&[APP, SERVICE, MIGRATOR, ("ARRAKIS_MIGRATE", "false")]).expect("valid");
        assert!(off.migration_database_url.is_none());
        let e = settings(&[APP, SERVICE, ("ARRAKIS_MIGRATE", "true")]).expect_err("no migration login");
        assert_eq!(e.variable, "ARRAKIS_MIGRATION_DATABASE_URL", "{e}");
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (pair, variable) in [
            (("TEMPORAL_ADDRESS", "ftp://x"), "TEMPORAL_ADDRESS"),
            (("TEMPORAL_NAMESPACE", "a b"), "TEMPORAL_NAMESPACE"),
            (("ARRAKIS_HTTP_ADDR", "nowhere"), "ARRAKIS_HTTP_ADDR"),
            (("ARRAKIS_LOG_FORMAT", "xml"), "ARRAKIS_LOG_FORMAT"),
            (("ARRAKIS_WORKFLOW_POLLERS", "1"), "ARRAKIS_WORKFLOW_POLLERS"),
            (("ARRAKIS_WORKFLOW_POLLERS", "many"), "ARRAKIS_WORKFLOW_POLLERS"),
            (("ARRAKIS_WORKFLOW_POLLERS", "101"), "ARRAKIS_WORKFLOW_POLLERS"),
            (("ARRAKIS_MIGRATE", "maybe"), "ARRAKIS_MIGRATE"),
            (("DATABASE_URL", "mysql://x"), "DATABASE_URL"),
            (("ARRAKIS_SERVICE_DATABASE_URL", "mysql://x"), "ARRAKIS_SERVICE_DATABASE_URL"),
            (("ARRAKIS_MIGRATION_DATABASE_URL", "x"), "ARRAKIS_MIGRATION_DATABASE_URL"),
        ] {
            let mut pairs: Vec<_> = [APP, SERVICE].into_iter().filter(|(k, _)| *k != pair.0).collect();
            pairs.push(pair);
            let e = settings(&pairs).expect_err("must be rejected");
            assert_eq!(e.variable, variable, "{e}");
        }
        assert_eq!(settings(&[]).expect_err("no database").variable, "DATABASE_URL");
        assert_eq!(settings(&[APP]).expect_err("no service login").variable, "ARRAKIS_SERVICE_DATABASE_URL");
        assert_eq!(
            settings(&[APP, SERVICE, ("TEMPORAL_ADDRESS", "10.0.0.1:7233")])
                .expect("host:port")
                .temporal_address
                .as_str(),
            "http://10.0.0.1:7233/"
        );
    }
}
