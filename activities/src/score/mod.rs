//! Scores: the Score Service client with its breaker and cached fallback, and the score store
//! port with its Postgres adapter.

mod client;
mod store;

pub use client::{ScoreClient, ScoreError, ScoreLookup};
pub use store::{PgScoreStore, ScoreChange, ScoreStore, StoredScore};
