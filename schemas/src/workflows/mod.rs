//! The contract of each workflow: its pinned names, its input (JSON, startable from the
//! `temporal` CLI), its output, and the payloads of its updates, signals and queries.
//!
//! Names are pinned here, once: they are shared by the worker, the gateway, the CLI lines of
//! `docs/runbook.md` and every run in flight, so renaming one is a breaking change.

pub mod contracts;
pub mod eligibility_check;
pub mod incumbent;
pub mod kill_switch;
pub mod manifest_publish;
pub mod member_sync;
pub mod members;
pub mod migration;
pub mod reconcile;
pub mod shadow_sync;
pub mod synthesis;
pub mod wallet_link;
pub mod wizard;

/// The custom search attributes every Arrakis workflow sets (Keyword type).
pub mod search_attributes {
    /// The guild the run belongs to.
    pub const GUILD_ID: &str = "ArrakisGuildId";
    /// Which workflow this is (`wizard`, `synthesis`, …).
    pub const KIND: &str = "ArrakisKind";
    /// The community's mode (`shadow`, `parallel`, …) where it applies.
    pub const MODE: &str = "ArrakisMode";
    /// All of them, for registering on a server.
    pub const ALL: [&str; 3] = [GUILD_ID, KIND, MODE];
}
