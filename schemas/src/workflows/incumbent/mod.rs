//! Incumbent detection (`incumbent-detect-{guild_id}`): which token-gating bot already runs
//! in a guild, from what anyone can see in it (the bot among the members, its verification
//! channel, its roles), with a confidence 0–1 and the operator's override. A community with
//! an incumbent starts in shadow mode.
//!
//! The scoring is pure, in `decide.rs`, so the gateway, the activities and the tests share one
//! rule.
//!
//! Two files: `contract.rs` (what crosses Temporal) and `decide.rs` (the rules, pure, with
//! their tests).

mod contract;
mod decide;

pub use contract::*;
pub use decide::*;
