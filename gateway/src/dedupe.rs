//! Interaction de-duplication across gateway replicas: the first replica to claim an
//! interaction id in Redis answers it; the others drop it. Redis being down must not silence
//! Arrakis, so then every replica answers (Discord accepts only the first response).

use crate::redis_link::RedisLink;
use std::{sync::Arc, time::Duration};

/// How long a claim is kept: an interaction token lives 15 minutes.
const CLAIM_TTL_SECS: u64 = 15 * 60;
/// How long a claim may take before the interaction is answered anyway.
const CLAIM_DEADLINE: Duration = Duration::from_millis(250);

/// Claims interaction ids in Redis.
pub struct Dedupe {
    redis: Arc<RedisLink>,
}

impl Dedupe {
    /// A de-duplicator over `redis`.
    pub fn new(redis: Arc<RedisLink>) -> Self {
        Self { redis }
    }

    async fn claim(&self, id: u64) -> Result<bool, redis::RedisError> {
        let mut command = redis::cmd("SET");
        command
            .arg(format!("arrakis:interaction:{id}"))
            .arg(std::process::id())
            .arg("NX")
            .arg("EX")
            .arg(CLAIM_TTL_SECS);
        let claimed: Option<String> = self.redis.query(&command).await?;
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
