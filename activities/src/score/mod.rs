//! Scores: the Score Service client with its breaker and cached fallback, and the score store
//! port with its Postgres adapter (the default) and its Scylla adapter.

mod client;
mod scylla;
mod store;

pub use client::{ScoreClient, ScoreError, ScoreLookup};
pub use scylla::ScyllaScoreStore;
pub use store::{PgScoreStore, ScoreChange, ScoreStore, StoredScore};
