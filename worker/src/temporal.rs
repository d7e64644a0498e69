//! The Temporal connection, shared by the worker and by tools such as the history recorder.

use std::time::Duration;
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions};
use url::Url;

/// Connects a client to `address` in `namespace`, failing within ten seconds if the server
/// cannot be reached.
pub async fn connect_client(address: &Url, namespace: &str, identity: &str) -> anyhow::Result<Client> {
    let options = ConnectionOptions::new(address.clone())
        .identity(identity.to_string())
        .connect_timeout(Duration::from_secs(10))
        .build();
    let connection =
        Connection::connect(options).await.map_err(|e| anyhow::anyhow!("cannot reach Temporal at {address}: {e}"))?;
    Ok(Client::new(connection, ClientOptions::new(namespace.to_string()).build())?)
}
