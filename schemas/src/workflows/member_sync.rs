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

use crate::{
    CommunityId, GuildId, UserId, ValidationErrors, check_decision,
    eligibility::{RoleVerdict, Verdict},
};
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

impl Queued {
    /// A member queued without roles: they are read from Discord when decided.
    pub fn read(reason: Reason) -> Self {
        Self { reason, roles: None, seen_at_ms: None }
    }

    /// Folds a newer event for the same member into this one. A reason that needs a decision
    /// (a link, a transfer, a request) replaces the entry; a roles change only brings the
    /// newest roles, so the last GUILD_MEMBER_UPDATE of a burst (the echo of Arrakis's last
    /// write) is what is decided, never an earlier one that would ask for a write again.
    /// Roles that arrive out of order (a link's interaction and a gateway event travel
    /// different paths) never replace roles Discord showed later.
    pub fn merge(&mut self, newer: Queued) {
        let newer_is_older = newer.roles.is_some() && self.roles.is_some() && newer.seen_at_ms < self.seen_at_ms;
        if newer.reason != Reason::RolesChanged {
            let kept = newer_is_older.then(|| (self.roles.take(), self.seen_at_ms));
            *self = newer;
            if let Some((roles, seen_at_ms)) = kept {
                self.roles = roles;
                self.seen_at_ms = seen_at_ms;
            }
        } else if self.roles.is_some() && !newer_is_older {
            self.roles = newer.roles;
            self.seen_at_ms = newer.seen_at_ms;
        }
    }
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

/// What one member's roles should become.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberDecision {
    /// Role keys to grant: eligible, not held.
    pub grants: Vec<String>,
    /// Role keys held with a negative verdict: revoked once the second read confirms it.
    pub negatives: Vec<String>,
    /// Role keys whose verdict is unknown: left exactly as they are.
    pub unknown: Vec<String>,
    /// Role keys the member should hold afterwards (held and kept, plus grants).
    pub desired: Vec<String>,
}

/// Decides one member: `roles` maps each manifest role key to its Discord role (roles not yet
/// created are absent and skipped), `verdicts` are the member's, `current` their Discord roles.
/// An `unknown` verdict changes nothing, in either direction.
pub fn decide_member(roles: &BTreeMap<String, u64>, verdicts: &[RoleVerdict], current: &[u64]) -> MemberDecision {
    let mut out = MemberDecision::default();
    for (key, id) in roles {
        let holds = current.contains(id);
        match verdicts.iter().find(|v| &v.role == key).map(|v| &v.evaluation.verdict) {
            Some(Verdict::Eligible) => {
                if !holds {
                    out.grants.push(key.clone());
                }
                out.desired.push(key.clone());
            }
            Some(Verdict::NotEligible) if holds => out.negatives.push(key.clone()),
            Some(Verdict::NotEligible) => {}
            Some(Verdict::Unknown { .. }) | None => {
                out.unknown.push(key.clone());
                if holds {
                    out.desired.push(key.clone());
                }
            }
        }
    }
    out
}

/// The waiting negatives (Discord role ids) of one member that no longer wait for anything:
/// the member does not hold the role any more (the revocation was written, by Arrakis or by
/// hand, or the role was deleted), or no role of the manifest is that Discord role now. They
/// are dropped at once: kept, they would be due for a second read for ever, and the loop would
/// re-read the member on every turn without deciding anything.
pub fn settled_negatives(roles: &BTreeMap<String, u64>, current: &[u64], waiting: &[u64]) -> Vec<u64> {
    waiting.iter().copied().filter(|role| !current.contains(role) || !roles.values().any(|id| id == role)).collect()
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

/// A member's Discord roles as they are now: `current` as read (or as an event said) at
/// `read_at_ms`, with every write Arrakis sent after that read applied. A page read, or an
/// event, from before a write would otherwise ask for the same write again (a second PUT), or
/// see a role Arrakis just removed and note a negative for it.
pub fn as_discord_has(current: &[u64], read_at_ms: u64, written: &[LastWrite]) -> Vec<u64> {
    let mut roles: Vec<u64> = current.to_vec();
    for w in written.iter().filter(|w| w.at_ms > read_at_ms) {
        match w.action {
            WriteAction::Grant if !roles.contains(&w.role_id) => roles.push(w.role_id),
            WriteAction::Grant => {}
            WriteAction::Revoke => roles.retain(|r| *r != w.role_id),
        }
    }
    roles
}

/// Applies the operator's Discard: a held negative for a role in `kept` (Discord ids the
/// operator kept under this manifest version) is no negative; the member keeps the role until a
/// positive read or a new manifest version ends the keep, so the next sweep does not ask again.
pub fn keep_discarded(roles: &BTreeMap<String, u64>, decision: &mut MemberDecision, kept: &[u64]) {
    let (kept_now, still): (Vec<String>, Vec<String>) = std::mem::take(&mut decision.negatives)
        .into_iter()
        .partition(|k| roles.get(k).is_some_and(|id| kept.contains(id)));
    decision.negatives = still;
    decision.desired.extend(kept_now);
    decision.desired.sort();
}

/// Everything one member's decision reads: the pure input of [`plan_member`].
#[derive(Clone, Copy, Debug)]
pub struct MemberFacts<'a> {
    /// Manifest role key → Discord role id, for the roles that exist in Discord.
    pub roles: &'a BTreeMap<String, u64>,
    /// The member's verdicts (`None`: nothing to decide, e.g. no wallet and no managed role).
    pub verdicts: Option<&'a [RoleVerdict]>,
    /// Their Discord roles as they are now ([`as_discord_has`] of the last read).
    pub current: &'a [u64],
    /// Their negatives waiting for a second read: Discord role id and the first sighting.
    pub waiting: &'a [(u64, Sighting)],
    /// Roles the operator kept at the breaker under this manifest version.
    pub kept: &'a [u64],
    /// Roles whose revocation is already decided (queued, or held by the breaker): a read
    /// before it is written notes no new negative, which would revoke the pair a second time.
    pub revoking: &'a [u64],
    /// False while a migration has not moved the member over yet: they keep what they hold and
    /// get nothing new.
    pub moved: bool,
    /// This read.
    pub seen: &'a Sighting,
    /// `revoke_confirm`, in ms.
    pub confirm_ms: u64,
}

/// What one member's decision changes in the sync's records (Discord role ids).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberPlan {
    /// The decision itself (role keys), for counts.
    pub decision: MemberDecision,
    /// Grants to queue.
    pub grants: Vec<u64>,
    /// First negative reads to note.
    pub first: Vec<u64>,
    /// Negatives confirmed by this second read: they go past the breaker.
    pub staged: Vec<u64>,
    /// Waiting negatives read again without an end (same block, too soon, an unknown verdict):
    /// due again one `revoke_confirm` from now.
    pub checked: Vec<u64>,
    /// Negatives that wait for nothing any more ([`settled_negatives`]): dropped.
    pub settled: Vec<u64>,
    /// Eligible roles: any negative, held or queued revocation, or keep for them ends.
    pub qualify: Vec<u64>,
    /// Not eligible and not held: a queued grant for them ends.
    pub lapsed: Vec<u64>,
    /// What the member should hold afterwards.
    pub desired: Vec<u64>,
}

/// Decides one member from everything their decision reads: the loop's per-member core,
/// shared by sweeps and re-checks (and driven by the property tests). An unknown verdict
/// changes nothing; a negative is revoked only after a second read confirms it; a kept role
/// stays; a member a migration has not moved yet gets nothing new.
pub fn plan_member(facts: &MemberFacts<'_>) -> MemberPlan {
    let waiting: Vec<u64> = facts.waiting.iter().map(|(r, _)| *r).collect();
    let mut out =
        MemberPlan { settled: settled_negatives(facts.roles, facts.current, &waiting), ..MemberPlan::default() };
    let Some(verdicts) = facts.verdicts else {
        out.checked = waiting.iter().copied().filter(|r| !out.settled.contains(r)).collect();
        return out;
    };
    let mut decision = decide_member(facts.roles, verdicts, facts.current);
    keep_discarded(facts.roles, &mut decision, facts.kept);
    if !facts.moved {
        decision.grants.clear();
        decision.desired.retain(|k| facts.current.contains(&facts.roles[k]));
    }
    out.grants = decision.grants.iter().map(|k| facts.roles[k]).collect();
    for key in &decision.negatives {
        let role = facts.roles[key];
        if facts.revoking.contains(&role) {
            continue;
        }
        match facts.waiting.iter().find(|(r, _)| *r == role) {
            Some((_, first)) if revocation_confirmed(first, facts.seen, facts.confirm_ms) => out.staged.push(role),
            Some(_) => {}
            None => out.first.push(role),
        }
    }
    for verdict in verdicts {
        let Some(&role) = facts.roles.get(&verdict.role) else { continue };
        match verdict.evaluation.verdict {
            Verdict::Eligible => out.qualify.push(role),
            Verdict::NotEligible if !facts.current.contains(&role) => out.lapsed.push(role),
            _ => {}
        }
    }
    // Every other waiting negative was read again without an end (not confirmed yet, an unknown
    // verdict, a kept role): it is due again one `revoke_confirm` later, not at once.
    out.checked = waiting
        .iter()
        .copied()
        .filter(|r| ![&out.settled, &out.staged, &out.qualify].iter().any(|done| done.contains(r)))
        .collect();
    out.desired = decision.desired.iter().map(|k| facts.roles[k]).collect();
    out.decision = decision;
    out
}

/// One negative read of a held role: when, and at which block of each chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Sighting {
    /// Unix milliseconds.
    pub at_ms: u64,
    /// The block read per chain id.
    pub blocks: BTreeMap<u64, u64>,
}

/// True when a second negative read (`now`) confirms the first: at least `confirm_ms` later,
/// and at a later block of every chain the first read saw. The same block read twice is the
/// same state, not a confirmation.
pub fn revocation_confirmed(first: &Sighting, now: &Sighting, confirm_ms: u64) -> bool {
    let later = first.blocks.iter().all(|(chain, block)| now.blocks.get(chain).is_some_and(|b| b > block));
    now.at_ms >= first.at_ms.saturating_add(confirm_ms) && later
}

/// What the loop sees when it picks its next round: the pure input of [`next_round`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoopView {
    /// Workflow time (Unix ms).
    pub now_ms: u64,
    /// The operator answered the held batch.
    pub decision: bool,
    /// Members left the guild and are to be forgotten.
    pub leaving: bool,
    /// Members queued for a decision (links, transfers, joins, requests).
    pub urgent: bool,
    /// Members queued only to check a roles change (mostly echoes of Arrakis's writes).
    pub echoes: bool,
    /// When waiting negatives are due for their second read.
    pub recheck_at_ms: Option<u64>,
    /// Writes are queued.
    pub pending_writes: bool,
    /// The operator paused writing.
    pub paused: bool,
    /// A dry-run sweep awaits `resume` (no sweep starts until then).
    pub dry_run_paused: bool,
    /// A freeze or shadow mode closed the gate: writes are tried again at this time.
    pub write_retry_at_ms: Option<u64>,
    /// A sweep is under way.
    pub sweeping: bool,
    /// A sweep was asked for (a manifest published, `/arrakis sync`).
    pub sweep_requested: bool,
    /// When the scheduled sweep is due.
    pub next_sweep_at_ms: u64,
}

/// One unit of the loop's work: an activity or two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Apply the operator's answer to the held batch.
    DecideHeld,
    /// Forget members who left.
    Forget,
    /// Decide queued members; `due`: and the negatives due for their second read.
    Recheck {
        /// The due negatives are read too.
        due: bool,
    },
    /// Send a Discord window of queued writes.
    Write,
    /// Check queued roles changes (echoes) once the writes are out.
    Echoes,
    /// Decide the sweep's next page.
    SweepPage,
    /// Start a sweep.
    BeginSweep,
}

impl LoopView {
    /// Negatives are due for their second read.
    pub fn recheck_due(&self) -> bool {
        self.recheck_at_ms.is_some_and(|at| at <= self.now_ms)
    }

    /// Writes can go out now.
    pub fn can_write(&self) -> bool {
        self.pending_writes && !self.paused && self.write_retry_at_ms.is_none_or(|at| at <= self.now_ms)
    }

    /// A sweep is due and may start.
    pub fn sweep_due(&self) -> bool {
        !self.dry_run_paused && (self.sweep_requested || self.now_ms >= self.next_sweep_at_ms)
    }
}

/// The loop's next round: every kind of work that is due, each once, most urgent first. A
/// round serves them all, so none waits behind another that is always due (a stream of links
/// does not starve the write queue, a re-check does not starve a due sweep or `/arrakis sync`):
/// each makes progress within one round. Empty: nothing is due, the loop idles until
/// [`idle_until`]. `fair` is false only while replaying runs recorded before rounds, which
/// did one of the first three kinds per turn.
pub fn next_round(v: &LoopView, fair: bool) -> Vec<Step> {
    let mut steps = Vec::new();
    if v.decision {
        steps.push(Step::DecideHeld);
    }
    if v.leaving {
        steps.push(Step::Forget);
    }
    if v.urgent || v.recheck_due() {
        steps.push(Step::Recheck { due: v.recheck_due() && (fair || !v.urgent) });
    }
    if !fair && !steps.is_empty() {
        steps.truncate(1);
        return steps;
    }
    if v.can_write() {
        steps.push(Step::Write);
    }
    if !v.pending_writes && v.echoes {
        steps.push(Step::Echoes);
    }
    if v.sweeping {
        steps.push(Step::SweepPage);
    } else if v.sweep_due() {
        steps.push(Step::BeginSweep);
    }
    steps
}

/// When an idle loop wakes by itself (an input wakes it sooner): the next sweep, the next
/// re-check, or the next try of writes a closed gate kept waiting; never sooner than 1 s.
pub fn idle_until(v: &LoopView) -> u64 {
    let mut at = if v.dry_run_paused { u64::MAX } else { v.next_sweep_at_ms };
    at = at.min(v.recheck_at_ms.unwrap_or(u64::MAX));
    if v.pending_writes && !v.paused {
        at = at.min(v.write_retry_at_ms.unwrap_or(v.now_ms));
    }
    at.max(v.now_ms.saturating_add(1_000))
}

/// How long second reads of negatives rest after a round that spent `reads` Discord reads, so
/// that on average they spend at most `reads_per_minute`: re-checks take a set share of the
/// guild's read budget, however many negatives wait.
pub fn recheck_rest_ms(reads: u32, reads_per_minute: u32) -> u64 {
    u64::from(reads) * 60_000 / u64::from(reads_per_minute.max(1))
}

/// The breaker's answer for a batch of revocations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BreakerVerdict {
    /// Apply them.
    Pass,
    /// Hold them all for the operator: the roles that tripped it, with (revocations, holders).
    Trip(Vec<(String, u64, u64)>),
}

/// Holds a batch when, for any role, it would revoke more than `max_fraction` of the role's
/// `holders` and at least `min_count` revocations (a handful never trips it). A role whose
/// holders are unknown (no sweep yet) counts as having none.
pub fn breaker(
    holders: &BTreeMap<String, u64>,
    revocations: &BTreeMap<String, u64>,
    max_fraction: f64,
    min_count: u32,
) -> BreakerVerdict {
    let tripped: Vec<(String, u64, u64)> = revocations
        .iter()
        .filter_map(|(role, &revoking)| {
            let held_by = holders.get(role).copied().unwrap_or(0);
            let too_many = (revoking as f64) > max_fraction * held_by as f64 && revoking >= u64::from(min_count);
            too_many.then(|| (role.clone(), revoking, held_by))
        })
        .collect();
    if tripped.is_empty() { BreakerVerdict::Pass } else { BreakerVerdict::Trip(tripped) }
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

/// Priorities of queued writes: members who just acted come before a sweep's backlog.
pub mod priority {
    /// Events, transfers, links, confirmed decisions.
    pub const NOW: i16 = 0;
    /// A sweep's findings.
    pub const SWEEP: i16 = 1;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eligibility::Evaluation;

    #[test]
    fn a_newer_roles_change_brings_its_roles_and_a_decision_replaces_it() {
        let roles = |ids: &[u64], at| Queued {
            reason: Reason::RolesChanged,
            roles: Some(ids.iter().map(|i| crate::Snowflake::new(*i).expect("id")).collect()),
            seen_at_ms: Some(at),
        };
        let mut q = roles(&[11], 1);
        q.merge(roles(&[11, 12], 2));
        assert_eq!(q, roles(&[11, 12], 2), "the echo of the last write wins");
        q.merge(Queued::read(Reason::Transfer));
        assert_eq!(q, Queued::read(Reason::Transfer), "a transfer is read fresh");
        q.merge(roles(&[11], 3));
        assert_eq!(q, Queued::read(Reason::Transfer), "a read comes later anyway");
        let mut joined = Queued { reason: Reason::Joined, ..roles(&[], 1) };
        joined.merge(roles(&[11], 4));
        assert_eq!(joined, Queued { reason: Reason::Joined, ..roles(&[11], 4) });
    }

    #[test]
    fn second_reads_rest_in_proportion_to_what_they_spent() {
        assert_eq!(recheck_rest_ms(0, 30), 0, "a round that read nothing rests not at all");
        assert_eq!(recheck_rest_ms(1, 30), 2_000);
        assert_eq!(recheck_rest_ms(5, 30), 10_000, "five single reads at 30 a minute: 10 s");
        assert_eq!(recheck_rest_ms(100, 600), 10_000);
        assert_eq!(recheck_rest_ms(3, 0), 180_000, "a zero rate is read as one a minute, never a division by zero");
        let bad = SyncSettings { recheck_reads_per_minute: 0, ..SyncSettings::default() };
        assert!(bad.check().expect_err("refused").has("settings.recheck_reads_per_minute"));
    }

    #[test]
    fn roles_that_arrive_late_never_replace_roles_seen_later() {
        let roles = |reason, ids: &[u64], at| Queued {
            reason,
            roles: Some(ids.iter().map(|i| crate::Snowflake::new(*i).expect("id")).collect()),
            seen_at_ms: Some(at),
        };
        // The echo of a grant (seen at 5) reached the workflow before the link's interaction
        // (seen at 3): the link's reason, the echo's roles.
        let mut q = roles(Reason::RolesChanged, &[11], 5);
        q.merge(roles(Reason::WalletLinked, &[], 3));
        assert_eq!(q, roles(Reason::WalletLinked, &[11], 5));
        q.merge(roles(Reason::RolesChanged, &[], 4));
        assert_eq!(q, roles(Reason::WalletLinked, &[11], 5), "an older event changes nothing");
        let linked = WalletLinked {
            user_id: crate::UserId::new(7).expect("id"),
            roles_seen: Some(crate::workflows::members::RolesSeen { roles: vec![], seen_at_ms: 9 }),
        };
        assert_eq!(linked.queued(), roles(Reason::WalletLinked, &[], 9));
        let from_cli = WalletLinked { roles_seen: None, ..linked };
        assert_eq!(from_cli.queued(), Queued::read(Reason::WalletLinked), "without roles the member is read");
        let too_many = crate::workflows::members::RolesSeen {
            roles: (1..=251).map(|i| crate::Snowflake::new(i).expect("id")).collect(),
            seen_at_ms: 9,
        };
        let garbled = WalletLinked { roles_seen: Some(too_many), ..from_cli };
        assert_eq!(garbled.queued(), Queued::read(Reason::WalletLinked), "roles no guild can have are read instead");
    }

    #[test]
    fn writes_after_a_read_override_what_it_said() {
        let w = |role_id, action, at_ms| LastWrite { role_id, action, at_ms };
        let written = [w(11, WriteAction::Grant, 100), w(12, WriteAction::Revoke, 100)];
        // Read before both writes: the PUT and the DELETE stand.
        assert_eq!(as_discord_has(&[12], 50, &written), vec![11]);
        // Read after them: the read is the truth (someone changed it by hand since).
        assert_eq!(as_discord_has(&[12], 150, &written), vec![12]);
        assert_eq!(as_discord_has(&[11, 13], 50, &written), vec![11, 13]);
    }

    #[test]
    fn a_discarded_removal_is_kept_and_others_still_wait() {
        let mut d = MemberDecision {
            grants: vec![],
            negatives: vec!["holder".into(), "whale".into()],
            unknown: vec![],
            desired: vec!["gold".into()],
        };
        keep_discarded(&roles(), &mut d, &[11]);
        assert_eq!(d.negatives, vec!["whale"]);
        assert_eq!(d.desired, vec!["gold", "holder"]);
    }

    #[test]
    fn a_negative_is_settled_once_its_role_is_not_held_or_not_managed() {
        let roles: BTreeMap<String, u64> = [("holder".to_string(), 10), ("whale".to_string(), 20)].into();
        // Still held and managed: it waits for its second read.
        assert_eq!(settled_negatives(&roles, &[10, 20], &[10, 20]), Vec::<u64>::new());
        // The echo of Arrakis's own DELETE of 10 (20 still held): 10's negative is done.
        assert_eq!(settled_negatives(&roles, &[20], &[10, 20]), vec![10]);
        // A role the manifest dropped (30) waits for nothing, held or not.
        assert_eq!(settled_negatives(&roles, &[30], &[30]), vec![30]);
        assert_eq!(settled_negatives(&roles, &[], &[]), Vec::<u64>::new());
    }

    fn verdicts(list: &[(&str, Verdict)]) -> Vec<RoleVerdict> {
        list.iter()
            .map(|(role, verdict)| RoleVerdict {
                role: role.to_string(),
                evaluation: Evaluation { verdict: verdict.clone(), sources: Default::default(), degraded: vec![] },
            })
            .collect()
    }

    fn roles() -> BTreeMap<String, u64> {
        [("holder", 11), ("whale", 12), ("gold", 13)].into_iter().map(|(k, id)| (k.to_string(), id)).collect()
    }

    #[test]
    fn an_unknown_verdict_never_revokes_and_never_grants() {
        let unknown = Verdict::Unknown { reason: "chain 1 unreadable".into() };
        let d = decide_member(
            &roles(),
            &verdicts(&[("holder", unknown.clone()), ("whale", unknown.clone()), ("gold", unknown)]),
            &[11],
        );
        assert!(d.grants.is_empty() && d.negatives.is_empty(), "{d:?}");
        assert_eq!(d.unknown, vec!["gold", "holder", "whale"]);
        assert_eq!(d.desired, vec!["holder"], "a held role stays held");
    }

    #[test]
    fn eligible_roles_are_granted_and_held_negatives_wait_for_confirmation() {
        let d = decide_member(
            &roles(),
            &verdicts(&[
                ("holder", Verdict::Eligible),
                ("whale", Verdict::NotEligible),
                ("gold", Verdict::NotEligible),
            ]),
            &[12, 99],
        );
        assert_eq!(d.grants, vec!["holder"]);
        assert_eq!(d.negatives, vec!["whale"], "only a held role can be revoked; 99 is not ours");
        assert_eq!(d.desired, vec!["holder"]);
        // A role the manifest has but Discord does not yet (no id) is skipped.
        let mut partial = roles();
        partial.remove("holder");
        assert!(decide_member(&partial, &verdicts(&[("holder", Verdict::Eligible)]), &[]).grants.is_empty());
    }

    #[test]
    fn a_revocation_needs_a_later_block_and_the_confirmation_time() {
        let first = Sighting { at_ms: 1_000, blocks: [(1, 100)].into() };
        let later = |at_ms, block| Sighting { at_ms, blocks: [(1, block)].into() };
        assert!(revocation_confirmed(&first, &later(61_000, 101), 60_000));
        assert!(!revocation_confirmed(&first, &later(60_999, 101), 60_000), "too soon");
        assert!(!revocation_confirmed(&first, &later(61_000, 100), 60_000), "the same block is the same read");
        assert!(!revocation_confirmed(&first, &Sighting { at_ms: 61_000, blocks: BTreeMap::new() }, 60_000));
        // No chain involved (a member without wallets): time alone confirms.
        let offchain = Sighting { at_ms: 1_000, blocks: BTreeMap::new() };
        assert!(revocation_confirmed(&offchain, &Sighting { at_ms: 61_000, blocks: BTreeMap::new() }, 60_000));
    }

    #[test]
    fn the_breaker_holds_a_mass_removal_and_lets_a_handful_through() {
        let holders: BTreeMap<String, u64> = [("holder".to_string(), 1_000), ("whale".to_string(), 10)].into();
        let batch = |list: &[(&str, u64)]| list.iter().map(|(k, n)| (k.to_string(), *n)).collect();
        assert_eq!(breaker(&holders, &batch(&[("holder", 50)]), 0.05, 5), BreakerVerdict::Pass);
        assert_eq!(
            breaker(&holders, &batch(&[("holder", 51)]), 0.05, 5),
            BreakerVerdict::Trip(vec![("holder".into(), 51, 1_000)])
        );
        assert_eq!(breaker(&holders, &batch(&[("whale", 4)]), 0.05, 5), BreakerVerdict::Pass, "a handful");
        assert_eq!(
            breaker(&holders, &batch(&[("whale", 5)]), 0.05, 5),
            BreakerVerdict::Trip(vec![("whale".into(), 5, 10)])
        );
        assert!(matches!(breaker(&BTreeMap::new(), &batch(&[("gold", 5)]), 0.05, 5), BreakerVerdict::Trip(_)));
    }

    #[test]
    fn settings_are_bounded_and_name_the_field() {
        assert_eq!(SyncSettings::default().check(), Ok(()));
        let bad = SyncSettings { sweep_interval_secs: 5, max_revoke_fraction: 1.5, ..SyncSettings::default() };
        let errors = bad.check().expect_err("bad");
        assert!(errors.has("settings.sweep_interval_secs") && errors.has("settings.max_revoke_fraction"), "{errors}");
    }
}
