//! Member sync's contract: the workflow's input and status, the signals and updates it takes,
//! and what its activities carry. Data only; the rules that read it are in `decide.rs`.

use crate::{CommunityId, GuildId, UserId, ValidationErrors, check_decision};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Workflow type name.
pub const WORKFLOW_TYPE: &str = "MemberSync";
/// `ArrakisKind` value.
pub const KIND: &str = "member_sync";
/// Query: where the sync stands.
pub const STATUS_QUERY: &str = "status";
/// Signal: a member linked a wallet (lenient payload [`WalletLinked`]).
pub const WALLET_LINKED_SIGNAL: &str = "wallet_linked";
/// Signal: a new manifest version was saved (any payload; it is not read).
pub const MANIFEST_PUBLISHED_SIGNAL: &str = "manifest_published";
/// Signal: re-decide one member now (lenient payload [`SyncMember`]); `/check-eligibility`.
pub const SYNC_MEMBER_SIGNAL: &str = "sync_member";
/// Update: sweep every member now (`/arrakis sync`), payload [`SweepRequest`].
pub const SYNC_NOW_UPDATE: &str = "sync_now";
/// Update: apply the revocations the breaker holds, payload [`Decision`].
pub const CONFIRM_REVOCATIONS_UPDATE: &str = "confirm_revocations";
/// Update: drop the revocations the breaker holds, payload [`Decision`].
pub const DISCARD_REVOCATIONS_UPDATE: &str = "discard_revocations";
/// Update: stop writing to Discord until resumed, payload [`Decision`].
pub const PAUSE_UPDATE: &str = "pause";
/// Update: write again after a pause (or after a dry-run first sweep), payload [`Decision`].
pub const RESUME_UPDATE: &str = "resume";
/// Update: end the sync (undeploy), payload [`Decision`].
pub const STOP_UPDATE: &str = "stop";

/// The readable workflow ID.
pub fn workflow_id(guild_id: GuildId) -> String {
    format!("member-sync-{guild_id}")
}

/// How the sync runs; every field has a default, so `{"guild_id": …}` is a whole input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSettings {
    /// Seconds between sweeps of every member (60–86,400; default 600).
    pub sweep_interval_secs: u64,
    /// Seconds a negative verdict must hold before a revocation (0–86,400; default 60).
    pub revoke_confirm_secs: u64,
    /// The share of a role's holders one batch may revoke before the breaker holds it
    /// (0–1; default 0.05).
    pub max_revoke_fraction: f64,
    /// Revocations below this count never trip the breaker (default 5): one transfer out of a
    /// small role is not a mass removal.
    pub breaker_min_revocations: u32,
    /// Milliseconds between polls for Transfer logs (250–60,000; default 2,000).
    pub watch_interval_ms: u64,
    /// Blocks a log must be buried under before it is acted on (0–64; default 0: the
    /// second read of a revocation is the guard against a block that does not last).
    pub confirmations: u64,
    /// Blocks read again at every poll, so a reorganised range is seen (0–256; default 6).
    pub reorg_margin: u64,
    /// The widest range of blocks one `eth_getLogs` asks for (1–10,000; default 2,000).
    pub max_block_range: u64,
    /// Run the first sweep as a dry run that reports "would grant N, would revoke M" and
    /// waits for `resume` (default false).
    pub dry_run_first: bool,
    /// Writes per write activity (1–50; default 10, one member-role window of Discord's).
    pub writes_per_batch: u32,
    /// Discord reads per minute, on average, that the second reads of waiting negatives may
    /// spend (1–600; default 30): half of a guild's member-list bucket at 10 per 10 s, so
    /// sweeps, links and writes always keep the rest.
    pub recheck_reads_per_minute: u32,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            sweep_interval_secs: 600,
            revoke_confirm_secs: 60,
            max_revoke_fraction: 0.05,
            breaker_min_revocations: 5,
            watch_interval_ms: 2_000,
            confirmations: 0,
            reorg_margin: 6,
            max_block_range: 2_000,
            dry_run_first: false,
            writes_per_batch: 10,
            recheck_reads_per_minute: 30,
        }
    }
}

impl SyncSettings {
    /// Checks every bound, naming the field (`settings.sweep_interval_secs: …`).
    pub fn check(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mut range = |field: &str, value: u64, low: u64, high: u64| {
            if !(low..=high).contains(&value) {
                errors.push(format!("settings.{field}"), format!("between {low} and {high}, got {value}"));
            }
        };
        range("sweep_interval_secs", self.sweep_interval_secs, 60, 86_400);
        range("revoke_confirm_secs", self.revoke_confirm_secs, 0, 86_400);
        range("watch_interval_ms", self.watch_interval_ms, 250, 60_000);
        range("confirmations", self.confirmations, 0, 64);
        range("reorg_margin", self.reorg_margin, 0, 256);
        range("max_block_range", self.max_block_range, 1, 10_000);
        range("writes_per_batch", u64::from(self.writes_per_batch), 1, 50);
        range("recheck_reads_per_minute", u64::from(self.recheck_reads_per_minute), 1, 600);
        range("breaker_min_revocations", u64::from(self.breaker_min_revocations), 0, 100_000);
        if !(0.0..=1.0).contains(&self.max_revoke_fraction) {
            errors.push("settings.max_revoke_fraction", format!("between 0 and 1, got {}", self.max_revoke_fraction));
        }
        errors.into_result()
    }
}

/// Input. An operator starts a sync with just `guild_id`; `carried` is written by the
/// workflow itself when it continues as new.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberSyncInput {
    /// The guild.
    pub guild_id: GuildId,
    /// How the sync runs.
    #[serde(default)]
    pub settings: SyncSettings,
    /// What one run hands the next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried: Option<Carried>,
}

/// What a run hands the next across continue-as-new: small, whatever the guild's size (the
/// queues of writes and revocations live in Postgres).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Carried {
    /// The sweep under way, if any.
    #[serde(default)]
    pub sweep: Option<SweepProgress>,
    /// The last finished sweep.
    #[serde(default)]
    pub last_sweep: Option<SweepSummary>,
    /// Workflow time (Unix ms) of the next sweep.
    #[serde(default)]
    pub next_sweep_at_ms: u64,
    /// Why writing is paused, if it is.
    #[serde(default)]
    pub paused: Option<Pause>,
    /// Revocations the breaker holds for the operator.
    #[serde(default)]
    pub held: Option<HeldRevocations>,
    /// Members waiting to be decided (events, links, transfers), with why.
    #[serde(default)]
    pub queued: BTreeMap<UserId, Queued>,
    /// Members who left, to forget.
    #[serde(default)]
    pub leaving: BTreeSet<UserId>,
    /// Workflow time (Unix ms) when the earliest pending revocation may be confirmed.
    #[serde(default)]
    pub recheck_at_ms: Option<u64>,
    /// Holders per role key, as the last sweep counted them (the breaker's base).
    #[serde(default)]
    pub holders: BTreeMap<String, u64>,
    /// Where the chain watcher got to, per chain id.
    #[serde(default)]
    pub cursors: BTreeMap<u64, ChainCursor>,
    /// A sweep was asked for (manifest change, `/arrakis sync`).
    #[serde(default)]
    pub sweep_requested: bool,
    /// Counts since the sync started.
    #[serde(default)]
    pub totals: Totals,
    /// Runs of the chain before this one.
    #[serde(default)]
    pub runs: u32,
    /// Batches of confirmed revocations waiting for the operator's decision on the held one.
    #[serde(default)]
    pub unsettled: BTreeSet<String>,
    /// Workflow time (Unix ms) writes are tried again after a freeze or shadow mode stopped them.
    #[serde(default)]
    pub write_retry_at_ms: Option<u64>,
    /// Workflow time (Unix ms) before which no second reads of negatives start: the reads the
    /// last round spent, paid back at `recheck_reads_per_minute`.
    #[serde(default)]
    pub recheck_rest_until_ms: u64,
    /// The roles the last plan found (manifest key → Discord role): none means nothing to watch.
    #[serde(default)]
    pub roles: BTreeMap<String, u64>,
    /// During a migration: its workflow ID (from the last plan), told what this sync sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<String>,
    /// What the migration has not been told yet.
    #[serde(default)]
    pub unreported: crate::workflows::migration::AccessReport,
    /// Workflow time (Unix ms) of the last report to the migration.
    #[serde(default)]
    pub reported_at_ms: u64,
    /// The last migration batch the migration nudged this sync for (`migration_batch` in a
    /// `manifest_published` payload).
    #[serde(default)]
    pub migration_batch: u32,
    /// The last batch this sync told the migration it has written in full.
    #[serde(default)]
    pub settled_batch: u32,
}

/// A member waiting to be decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Queued {
    /// Why.
    pub reason: Reason,
    /// Their Discord roles, when the event said (otherwise they are read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<crate::Snowflake>>,
    /// When the gateway received the event that said `roles` (Unix ms): a write Arrakis sent
    /// after it overrides what the event says of that role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_at_ms: Option<u64>,
}

/// The last block the chain watcher read on one chain, and its hash: a different hash at that
/// height later means the chain reorganised under the cursor, and the last blocks are read again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChainCursor {
    /// Block number.
    pub block: u64,
    /// Its hash (0x…).
    pub hash: String,
}

/// Why a member is re-decided out of turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// They joined the guild.
    Joined,
    /// Their Discord roles changed (by someone else).
    RolesChanged,
    /// They linked a wallet.
    WalletLinked,
    /// One of their wallets moved tokens on chain.
    Transfer,
    /// They asked (`/check-eligibility`).
    Asked,
    /// A negative verdict is due for its second read.
    Confirmation,
}

/// A pause: by whom and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Pause {
    /// Who paused (`discord:…`, `cli:…`), or `dry_run` while a dry-run sweep awaits `resume`.
    pub by: String,
    /// Why.
    pub reason: String,
}

/// A sweep in progress: pinned at its start, advanced a page at a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SweepProgress {
    /// The sweep's id (its revocations are staged under it).
    pub sweep_id: String,
    /// What the sweep decides against.
    pub plan: SweepPlan,
    /// The last member of the last finished page (Discord's `after`).
    pub after: Option<UserId>,
    /// Counts so far.
    pub tally: SweepTally,
    /// A dry run writes nothing and reports what it would do.
    pub dry_run: bool,
    /// Workflow time (Unix ms) it started.
    pub started_at_ms: u64,
}

/// What a sweep or a re-check decides against, fixed at its start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SweepPlan {
    /// The community (tenant) id.
    pub community_id: CommunityId,
    /// The manifest version whose rules decide.
    pub manifest_version: i32,
    /// Manifest role key → the Discord role Arrakis made for it.
    pub roles: BTreeMap<String, u64>,
    /// The block read per chain id, the same for every page.
    pub blocks: BTreeMap<u64, u64>,
    /// Chains no RPC URL answered at the start, with why: their verdicts are `unknown`.
    #[serde(default)]
    pub unreadable: BTreeMap<u64, String>,
    /// The community's mode (the one the operator chose) when the plan was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<crate::Mode>,
    /// During a migration: who is moved so far (only they are granted roles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort: Option<crate::workflows::migration::Cohort>,
    /// During a migration: its workflow ID, told what member sync sees (access lost, Discord
    /// errors) so it can roll back by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<String>,
}

/// Counts of a page, a sweep or a re-check.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SweepTally {
    /// Pages read.
    pub pages: u64,
    /// Members read (bots excluded).
    pub members: u64,
    /// Of those, with a linked wallet.
    pub with_wallets: u64,
    /// Roles queued to be granted (or, in a dry run, that would be).
    pub grants: u64,
    /// Negative verdicts on held roles seen for the first time (a revocation waits for the
    /// second read).
    pub first_negatives: u64,
    /// Revocations confirmed by a second read (or, in a dry run, that would be).
    pub revocations: u64,
    /// (member, role) pairs left alone because the verdict was `unknown`.
    pub unknown: u64,
    /// Holders per role key, counted from the members' Discord roles.
    #[serde(default)]
    pub holders: BTreeMap<String, u64>,
    /// Chain RPC requests made.
    #[serde(default)]
    pub rpc_calls: u64,
}

impl SweepTally {
    /// Adds another page's counts.
    pub fn add(&mut self, page: &SweepTally) {
        self.pages += page.pages;
        self.members += page.members;
        self.with_wallets += page.with_wallets;
        self.grants += page.grants;
        self.first_negatives += page.first_negatives;
        self.revocations += page.revocations;
        self.unknown += page.unknown;
        self.rpc_calls += page.rpc_calls;
        for (role, n) in &page.holders {
            *self.holders.entry(role.clone()).or_default() += n;
        }
    }
}

/// A finished sweep, as the status shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SweepSummary {
    /// Its id.
    pub sweep_id: String,
    /// The manifest version it decided against.
    pub manifest_version: i32,
    /// Workflow time (Unix ms) it started.
    pub started_at_ms: u64,
    /// Workflow time (Unix ms) it finished.
    pub finished_at_ms: u64,
    /// Its counts.
    pub tally: SweepTally,
    /// True for a dry run (nothing was written).
    pub dry_run: bool,
    /// Revocations the breaker held at its end.
    pub held: u64,
}

/// Revocations the breaker holds until the operator confirms or discards them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HeldRevocations {
    /// The held batch (a sweep's id, or a re-check's).
    pub batch: String,
    /// How many.
    pub count: u64,
    /// The roles that tripped the breaker: (role key, revocations, holders).
    pub roles: Vec<(String, u64, u64)>,
    /// Workflow time (Unix ms) they were held.
    pub held_at_ms: u64,
}

/// Counts since the sync started (the status's, and what the metrics count).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Totals {
    /// Roles granted in Discord.
    pub grants: u64,
    /// Roles revoked in Discord.
    pub revocations: u64,
    /// Revocations held by the breaker.
    pub held: u64,
    /// Revocations the operator discarded.
    pub discarded: u64,
    /// Member-role writes sent to Discord.
    pub writes: u64,
    /// Writes Discord refused for good (the reason is in the audit log).
    pub failed_writes: u64,
}

/// The `wallet_linked` signal's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WalletLinked {
    /// The member.
    pub user_id: UserId,
    /// Their Discord roles as the linking interaction showed them: the member is decided from
    /// these instead of being read again (a burst of links costs no member reads). Absent
    /// (the CLI, older runs): they are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles_seen: Option<crate::workflows::members::RolesSeen>,
}

impl WalletLinked {
    /// How the member waits to be decided: from the roles the link carried, or (with none, or
    /// more than a guild can have) read from Discord.
    pub fn queued(&self) -> Queued {
        match &self.roles_seen {
            Some(seen) if seen.check().is_ok() => Queued {
                reason: Reason::WalletLinked,
                roles: Some(seen.roles.clone()),
                seen_at_ms: Some(seen.seen_at_ms),
            },
            _ => Queued::read(Reason::WalletLinked),
        }
    }
}

/// The `sync_member` signal's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SyncMember {
    /// The member.
    pub user_id: UserId,
}

/// The `sync_now` update's payload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    /// Who asked.
    #[serde(default = "default_actor")]
    pub actor: String,
    /// Report what the sweep would do and write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// The payload of `confirm_revocations`, `discard_revocations`, `pause`, `resume`, `stop`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Who decided (`discord:<user id>`, `cli:<name>`), for the audit log (1–100 characters).
    #[serde(default = "default_actor")]
    pub actor: String,
    /// Why (0–500 characters).
    #[serde(default)]
    pub reason: String,
    /// For `confirm_revocations` and `discard_revocations`: the held batch this decision is
    /// about, as its message's buttons name it. A decision about a batch that is no longer held
    /// (confirmed, discarded or replaced since) is refused and changes nothing. Left out (the
    /// CLI), it is about whichever batch is held now, as `status` shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
}

fn default_actor() -> String {
    "cli".into()
}

impl Decision {
    /// Checks the fields, naming them.
    pub fn check(&self) -> Result<(), ValidationErrors> {
        check_decision(&self.actor, &self.reason)
    }
}

impl SweepRequest {
    /// Checks the fields, naming them.
    pub fn check(&self) -> Result<(), ValidationErrors> {
        check_decision(&self.actor, "")
    }
}

/// Where the sync is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Starting.
    #[default]
    Starting,
    /// Between sweeps, watching the chains.
    Watching,
    /// Sweeping every member.
    Sweeping,
    /// Writing is paused by the operator (or a dry run awaits `resume`).
    Paused,
    /// The guild is frozen, or in shadow mode: nothing is written until that changes.
    Closed,
    /// Stopped (undeployed).
    Stopped,
}

/// The `status` query's answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemberSyncStatus {
    /// The guild.
    pub guild_id: Option<GuildId>,
    /// Where the sync is.
    pub phase: Phase,
    /// Why nothing is written (a freeze, shadow mode), if so.
    pub closed: Option<String>,
    /// The community's mode as the last plan read it (unknown when nothing was planned).
    #[serde(default)]
    pub mode: Option<crate::Mode>,
    /// The pause in force.
    pub paused: Option<Pause>,
    /// The sweep under way.
    pub sweep: Option<SweepProgress>,
    /// A sweep has been asked for (a manifest published, `sync_now`) and starts next.
    #[serde(default)]
    pub sweep_requested: bool,
    /// The last finished sweep.
    pub last_sweep: Option<SweepSummary>,
    /// Workflow time (Unix ms) of the next sweep.
    pub next_sweep_at_ms: u64,
    /// Member-role writes waiting to be sent.
    pub pending_writes: u64,
    /// Negative verdicts waiting for their second read.
    pub pending_revocations: u64,
    /// When the oldest pending write was queued (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_write_at_ms: Option<u64>,
    /// When the next confirming reads are due (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_recheck_at_ms: Option<u64>,
    /// Revocations the breaker holds for the operator.
    pub held: Option<HeldRevocations>,
    /// Members queued to be decided.
    pub queued: u64,
    /// The last block read per chain id.
    pub chains: BTreeMap<u64, u64>,
    /// Chains unreadable at the last read, with why: their verdicts are `unknown`.
    pub unknown_chains: BTreeMap<u64, String>,
    /// Counts since the sync started.
    pub totals: Totals,
    /// Runs of the continue-as-new chain so far.
    pub runs: u32,
}

/// The last write Arrakis sent for one (member, role) pair and Discord accepted: what Discord
/// has said of the pair since, even when a read or an event from before it says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastWrite {
    /// The Discord role.
    pub role_id: u64,
    /// Granted or revoked.
    pub action: WriteAction,
    /// When Discord answered (Unix ms).
    pub at_ms: u64,
}

/// One negative read of a held role: when, and at which block of each chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Sighting {
    /// Unix milliseconds.
    pub at_ms: u64,
    /// The block read per chain id.
    pub blocks: BTreeMap<u64, u64>,
}

/// A member-role write, as the activities queue it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteAction {
    /// `PUT /guilds/{guild}/members/{user}/roles/{role}`.
    Grant,
    /// `DELETE /guilds/{guild}/members/{user}/roles/{role}`.
    Revoke,
}

impl WriteAction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Revoke => "revoke",
        }
    }
}

// ---- activity contracts ------------------------------------------------------------------------

/// `member_sync.ensure`'s input: start the guild's member sync if it is not running (DEPLOY),
/// and tell it a new manifest version is out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EnsureSync {
    /// The guild.
    pub guild_id: GuildId,
    /// The task queue its runs go to.
    pub task_queue: String,
}

/// `member_sync.open`'s input: what a fresh run needs from Postgres.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OpenSync {
    /// The guild.
    pub guild_id: GuildId,
}

/// `member_sync.open`'s answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Opened {
    /// The chain watcher's cursors saved by earlier runs.
    pub cursors: BTreeMap<u64, ChainCursor>,
    /// A held batch on record, if the breaker holds one.
    pub held: Option<HeldRevocations>,
}

/// `member_sync.plan`'s input: pin what a sweep or a re-check decides against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanRequest {
    /// The guild.
    pub guild_id: GuildId,
}

/// `member_sync.plan`'s answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanOutcome {
    /// Nothing to decide (shadow mode, no manifest, no role made yet), with why.
    Skip(String),
    /// What to decide against.
    Plan(SweepPlan),
}

/// `member_sync.sweep_page`'s input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SweepPage {
    /// The guild.
    pub guild_id: GuildId,
    /// The sweep (its id stages its revocations).
    pub sweep_id: String,
    /// What it decides against.
    pub plan: SweepPlan,
    /// The last member of the previous page.
    pub after: Option<UserId>,
    /// Write nothing, count what would be.
    pub dry_run: bool,
    /// How long a negative verdict must hold, ms.
    pub revoke_confirm_ms: u64,
}

/// What a page (or a re-check) decided.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Decided {
    /// The page's counts.
    pub tally: SweepTally,
    /// The last member read (the next page's `after`).
    pub last: Option<UserId>,
    /// True when this was the last page.
    pub done: bool,
    /// Unix ms when the earliest pending revocation may be confirmed.
    pub recheck_at_ms: Option<u64>,
    /// Revocations confirmed and staged under the batch, waiting for the breaker.
    pub staged: u64,
    /// Member-role writes queued in all.
    pub pending_writes: u64,
    /// A re-check left due confirmations for later (too many for one): a sweep takes them.
    #[serde(default)]
    pub more_due: bool,
    /// Discord requests the activity spent reading members (single reads and pages).
    #[serde(default)]
    pub reads: u32,
    /// What is queued now (none when nothing was read: a dry run, a skipped plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backlog: Option<Backlog>,
}

/// What is queued in Postgres after an activity: the figures `status` shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Backlog {
    /// Member-role writes queued.
    pub writes: u64,
    /// When the oldest of them was queued (Unix ms).
    pub oldest_write_at_ms: Option<u64>,
    /// Negatives waiting for their confirming read.
    pub negatives: u64,
}

/// `member_sync.recheck`'s input: decide these members now, at the newest blocks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Recheck {
    /// The guild.
    pub guild_id: GuildId,
    /// The batch its confirmed revocations are staged under.
    pub batch: String,
    /// The members, with why (their Discord roles are read unless the event said).
    pub members: BTreeMap<UserId, Queued>,
    /// Also re-read every member whose pending revocation is due.
    pub due: bool,
    /// How long a negative verdict must hold, ms.
    pub revoke_confirm_ms: u64,
    /// The chain watcher's cursors to save with the decisions (so a restart neither skips nor
    /// repeats a range).
    #[serde(default)]
    pub cursors: BTreeMap<u64, ChainCursor>,
}

/// `member_sync.settle`'s input: put a batch's confirmed revocations past the breaker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Settle {
    /// The guild.
    pub guild_id: GuildId,
    /// The batch.
    pub batch: String,
    /// Holders per role key (the breaker's base).
    pub holders: BTreeMap<String, u64>,
    /// The breaker's share.
    pub max_revoke_fraction: f64,
    /// The breaker's floor.
    pub breaker_min_revocations: u32,
}

/// `member_sync.settle`'s answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Settled {
    /// Revocations queued to be written.
    pub queued: u64,
    /// Members who lose a role with them, or whose revocations the breaker holds: the
    /// members whose verdict turned negative, as a migration counts lost access.
    #[serde(default)]
    pub members: u64,
    /// The batch the breaker holds, if it tripped.
    pub held: Option<HeldRevocations>,
}

/// `member_sync.write`'s input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WriteBatch {
    /// The guild.
    pub guild_id: GuildId,
    /// At most this many writes.
    pub max: u32,
}

/// `member_sync.write`'s answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Written {
    /// Requests sent to Discord.
    #[serde(default)]
    pub requests: u64,
    /// Grants sent.
    pub grants: u64,
    /// Revocations sent.
    pub revocations: u64,
    /// Writes Discord refused for good (e.g. the role sits above the bot's).
    pub failed: u64,
    /// Requests Discord failed with a retryable error (a 5xx, a 429 the budget did not
    /// foresee): the batch stops at the first and the rest wait `closed`'s pause, so a
    /// migration counts them among its Discord errors.
    #[serde(default)]
    pub errored: u64,
    /// Writes still queued.
    pub remaining: u64,
    /// Why nothing could be written (frozen, shadow mode), if so.
    pub closed: Option<String>,
    /// What is queued now (none when nothing was read: a dry run, a skipped plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backlog: Option<Backlog>,
}

/// `member_sync.watch`'s input: poll Transfer logs from the cursors for up to `window_ms`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Watch {
    /// The guild.
    pub guild_id: GuildId,
    /// Where each chain was read to (absent: start at the head).
    pub cursors: BTreeMap<u64, ChainCursor>,
    /// How long to poll before answering when nothing moves, ms.
    pub window_ms: u64,
    /// Between polls, ms.
    pub interval_ms: u64,
    /// Blocks a log must be buried under.
    pub confirmations: u64,
    /// Blocks read again at every poll.
    pub reorg_margin: u64,
    /// The widest range one request asks for.
    pub max_block_range: u64,
}

/// `member_sync.watch`'s answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Watched {
    /// Linked members whose wallets sent or received a watched token.
    pub moved: BTreeSet<UserId>,
    /// Where each chain was read to.
    pub cursors: BTreeMap<u64, ChainCursor>,
    /// Chains whose cursor block changed hash (reorganised), read again from the margin.
    #[serde(default)]
    pub reorgs: u64,
    /// Chains no RPC URL answered, with why.
    pub unreadable: BTreeMap<u64, String>,
    /// Transfer logs seen (all, linked or not).
    pub logs: u64,
}

/// `member_sync.decide_held`'s input: the operator's answer to a held batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HeldDecision {
    /// The guild.
    pub guild_id: GuildId,
    /// The held batch.
    pub batch: String,
    /// Apply them (true) or drop them (false).
    pub confirm: bool,
    /// Who decided, and why.
    pub decision: Decision,
}

/// `member_sync.alert`'s input: tell the operator the breaker holds a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HeldAlert {
    /// The guild.
    pub guild_id: GuildId,
    /// What is held.
    pub held: HeldRevocations,
}

/// `member_sync.forget`'s input: members who left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Forget {
    /// The guild.
    pub guild_id: GuildId,
    /// The members.
    pub users: BTreeSet<UserId>,
}

/// The custom id prefix of the breaker's buttons: `ms:confirm:{batch}`, `ms:discard:{batch}`.
pub const BUTTON_PREFIX: &str = "ms";
