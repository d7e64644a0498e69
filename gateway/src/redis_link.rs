//! The gateway's one Redis connection, shared by the interaction de-duplication and the set of
//! judged guilds: made on first use, made again after an error.

use redis::aio::MultiplexedConnection;
use tokio::sync::Mutex;

/// A lazily made, self-healing connection.
pub struct RedisLink {
    client: redis::Client,
    connection: Mutex<Option<MultiplexedConnection>>,
}

impl RedisLink {
    /// A link to `redis_url` (nothing is dialled yet).
    pub fn new(redis_url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self { client: redis::Client::open(redis_url)?, connection: Mutex::new(None) })
    }

    /// The connection, dialled if there is none.
    pub async fn connection(&self) -> Result<MultiplexedConnection, redis::RedisError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let connection = self.client.get_multiplexed_async_connection().await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Forgets the connection after an error, so the next use dials again.
    pub fn forget(&self) {
        if let Ok(mut slot) = self.connection.try_lock() {
            *slot = None;
        }
    }

    /// Runs `command`, forgetting the connection if it fails.
    pub async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, redis::RedisError> {
        let mut connection = self.connection().await?;
        command.query_async(&mut connection).await.inspect_err(|_| self.forget())
    }
}
