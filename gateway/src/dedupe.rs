//! Interaction de-duplication across gateway replicas: the first replica to claim an
//! interaction id in Redis answers it; the others drop it. Redis being down must not silence
//! Arrakis, so then every replica answers (Discord accepts only the first response).

use redis::aio::MultiplexedConnection;
use std::time::Duration;
use tokio::sync::Mutex;

/// How long a claim is kept: an interaction token lives 15 minutes.
const CLAIM_TTL_SECS: u64 = 15 * 60;
/// How long a claim may take before the interaction is answered anyway.
const CLAIM_DEADLINE: Duration = Duration::from_millis(250);

/// Claims interaction ids in Redis.
pub struct Dedupe {
    client: redis::Client,
    connection: Mutex<Option<MultiplexedConnection>>,
}

impl Dedupe {
    /// A de-duplicator on `redis_url` (connects on first use, reconnects after errors).
    pub fn new(redis_url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self { client: redis::Client::open(redis_url)?, connection: Mutex::new(None) })
    }

    async fn claim(&self, id: u64) -> Result<bool, redis::RedisError> {
        let mut slot = self.connection.lock().await;
        let mut connection = match slot.as_ref() {
            Some(c) => c.clone(),
            None => {
                let c = self.client.get_multiplexed_async_connection().await?;
                *slot = Some(c.clone());
                c
            }
        };
        drop(slot);
        let claimed: Option<String> = redis::cmd("SET")
            .arg(format!("arrakis:interaction:{id}"))
            .arg(std::process::id())
            .arg("NX")
            .arg("EX")
            .arg(CLAIM_TTL_SECS)
            .query_async(&mut connection)
            .await
            .inspect_err(|_| {
                if let Ok(mut slot) = self.connection.try_lock() {
                    *slot = None;
                }
            })?;
        Ok(claimed.is_some())
    }

    /// True when this replica should answer interaction `id` (it claimed it, or Redis could
    /// not be asked in time).
    pub async fn first_delivery(&self, id: u64) -> bool {
        match tokio::time::timeout(CLAIM_DEADLINE, self.claim(id)).await {
            Ok(Ok(first)) => first,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "Redis unavailable for de-duplication; answering anyway");
                true
            }
            Err(_) => {
                tracing::warn!("Redis too slow for de-duplication; answering anyway");
                true
            }
        }
    }
}
