//! Member sync (`member-sync-{guild_id}`): the token-gating loop. One entity workflow per
//! deployed guild grants and revokes the manifest's roles as members' holdings change: a sweep
//! of every member every `sweep_interval`, chain watching between sweeps so a transfer changes
//! a role within seconds, and the gateway's member events, wallet links and manifest changes.
//!
//! The rules that keep members safe are pure functions here, with their tests:
//! [`decide_member`] (an `unknown` verdict never revokes), [`revocation_confirmed`] (a
//! revocation needs a second negative read at a later block, at least `revoke_confirm` after
//! the first) and [`breaker`] (a batch that would strip many of a role's holders is held for
//! the operator).
//!
//! Two files: `contract.rs` (what crosses Temporal: input, status, signals, updates, the
//! activities' payloads) and `decide.rs` (the rules, pure, with their tests).

mod contract;
mod decide;

pub use contract::*;
pub use decide::*;
