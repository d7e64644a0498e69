//! Migration (`migration-{guild_id}`): move a community from its incumbent bot to Arrakis — a
//! saga whose every step registers its compensation before it runs — with one-click and
//! automatic rollback.
//!
//! The path: shadow (proven accurate) → parallel (Arrakis's own `arrakis-*` roles, without
//! permissions, beside the incumbent's) → members moved over (`instant`, or `gradual` in
//! batches on durable timers) → primary. Rollback removes only what Arrakis added (deleting an
//! `arrakis-*` role takes it from every member in one request) and restores the manifest and
//! the mode the community had. The rules (readiness, who is moved, when to roll back by
//! itself) are pure functions here, with their tests.
//!
//! Two files: `contract.rs` (what crosses Temporal) and `decide.rs` (the rules, pure, with
//! their tests).

mod contract;
mod decide;

pub use contract::*;
pub use decide::*;
