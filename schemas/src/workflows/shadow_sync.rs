//! Shadow sync (`shadow-sync-{guild_id}`): compare Arrakis's eligibility with the roles an
//! incumbent bot gave, a page of members at a time, with zero Discord mutations.
//!
//! One sync pins a block per chain and a manifest version at its start, then pages through
//! the guild's members (Discord's `after` cursor, 1,000 a page). Progress travels in the
//! input across continue-as-new, so a 100,000-member guild keeps a bounded history and a
//! restarted worker resumes from the last finished page.

use crate::{CommunityId, GuildId, Mode, Snowflake, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Workflow type name.
pub const WORKFLOW_TYPE: &str = "ShadowSync";
/// `ArrakisKind` value.
pub const KIND: &str = "shadow_sync";
/// Query: where the sync stands.
pub const STATUS_QUERY: &str = "status";
/// Members per page: Discord's maximum for `GET /guilds/{guild.id}/members`.
pub const PAGE_SIZE: u16 = 1000;
/// Pages per run before continuing as new, unless the input says otherwise.
pub const DEFAULT_PAGES_PER_RUN: u32 = 20;
/// The bounds of `pages_per_run`.
pub const PAGES_PER_RUN: std::ops::RangeInclusive<u32> = 1..=200;

/// The readable workflow ID (the schedule's runs add Temporal's timestamp to it).
pub fn workflow_id(guild_id: GuildId) -> String {
    format!("shadow-sync-{guild_id}")
}

/// The ID of the guild's 6-hourly schedule.
pub fn schedule_id(guild_id: GuildId) -> String {
    format!("shadow-sync-{guild_id}")
}

/// Input. An operator starts a sync with just `guild_id`; `progress` is written by the
/// workflow itself when it continues as new.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowSyncInput {
    /// The guild.
    pub guild_id: GuildId,
    /// Pages per run before continuing as new (1–200; default 20).
    #[serde(default)]
    pub pages_per_run: Option<u32>,
    /// Where an unfinished sync stands (set by the workflow on continue-as-new).
    #[serde(default)]
    pub progress: Option<SyncProgress>,
}

impl ShadowSyncInput {
    /// The input's own rules beyond its types, naming the field.
    pub fn check(&self) -> Result<(), crate::ValidationErrors> {
        let mut errors = crate::ValidationErrors::default();
        if let Some(n) = self.pages_per_run.filter(|n| !PAGES_PER_RUN.contains(n)) {
            let (low, high) = (PAGES_PER_RUN.start(), PAGES_PER_RUN.end());
            errors.push("pages_per_run", format!("between {low} and {high}, got {n}"));
        }
        errors.into_result()
    }
}

/// What one sync fixed at its start and how far it got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SyncProgress {
    /// This sync's id (shared by every run of its continue-as-new chain).
    pub sync_id: String,
    /// What the start activity pinned.
    pub plan: SyncPlan,
    /// The last member of the last finished page (Discord's `after`).
    pub after: Option<UserId>,
    /// Counts so far.
    pub tally: SyncTally,
    /// Runs of the chain before this one.
    pub runs: u32,
}

/// What a sync compares against, fixed at its start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SyncPlan {
    /// The community (tenant) id.
    pub community_id: CommunityId,
    /// The manifest version whose rules decide Arrakis's side.
    pub manifest_version: i32,
    /// The block read per chain id, the same for every page.
    pub blocks: BTreeMap<u64, u64>,
    /// Manifest role key → the incumbent's Discord role it is compared with.
    pub role_map: BTreeMap<String, Snowflake>,
}

/// Counts of one page or of a whole sync.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SyncTally {
    /// Pages read.
    pub pages: u64,
    /// Members read (bots excluded).
    pub members: u64,
    /// Members with a linked wallet, compared role by role.
    pub compared: u64,
    /// Members without a linked wallet (Arrakis has nothing to say about them).
    pub unverified: u64,
    /// (member, role) pairs whose verdict was `unknown` (a chain or rank unreadable).
    pub unknown: u64,
    /// (member, role) pairs where Arrakis and the incumbent disagree.
    pub divergences: u64,
    /// Of those, roles Arrakis would grant.
    pub would_grant: u64,
    /// Of those, roles Arrakis would revoke.
    pub would_revoke: u64,
    /// Earlier predictions checked against what the incumbent did since.
    pub predictions_validated: u64,
    /// Of those, the ones that came true.
    pub predictions_correct: u64,
    /// Chain RPC requests made (exact when this is the only sync on its worker).
    #[serde(default)]
    pub rpc_calls: u64,
}

impl SyncTally {
    /// Adds another tally (a page's) to this one.
    pub fn add(&mut self, other: &SyncTally) {
        self.pages += other.pages;
        self.members += other.members;
        self.compared += other.compared;
        self.unverified += other.unverified;
        self.unknown += other.unknown;
        self.divergences += other.divergences;
        self.would_grant += other.would_grant;
        self.would_revoke += other.would_revoke;
        self.predictions_validated += other.predictions_validated;
        self.predictions_correct += other.predictions_correct;
        self.rpc_calls += other.rpc_calls;
    }
}

/// Where a sync is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    /// Pinning blocks and the manifest.
    #[default]
    Starting,
    /// Reading pages.
    Paging,
    /// Recording the summary.
    Finishing,
    /// Finished.
    Done,
    /// Nothing to compare (not in shadow mode, no manifest, no role to compare).
    Skipped,
}

/// The `status` query's answer and the result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ShadowSyncStatus {
    /// This sync's id, once started.
    pub sync_id: Option<String>,
    /// Where it is.
    pub phase: SyncPhase,
    /// The last member of the last finished page.
    pub after: Option<UserId>,
    /// Counts so far.
    pub tally: SyncTally,
    /// Runs of the continue-as-new chain before this one.
    pub runs: u32,
    /// Why nothing was compared, when skipped.
    pub skipped: Option<String>,
    /// The community's shadow standing after the sync.
    pub summary: Option<ShadowSummary>,
}

/// A community's standing in shadow mode, as `/arrakis status` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ShadowSummary {
    /// The community's mode.
    // `""` (None) when no community is on record.
    #[serde(with = "crate::wire::empty_as_none")]
    #[schemars(with = "String")]
    pub mode: Option<Mode>,
    /// The incumbent on record, if any.
    pub incumbent: Option<String>,
    /// Its detection confidence, 0–1.
    pub confidence: Option<f64>,
    /// Share of validated predictions that came true, 0–1 (none validated yet: absent).
    pub accuracy: Option<f64>,
    /// Predictions validated so far.
    pub validated: u64,
    /// Whole days since the community entered shadow mode.
    pub days_in_shadow: Option<u64>,
    /// When the last sync finished (RFC 3339).
    pub last_sync_at: Option<String>,
    /// Divergences the last sync found.
    pub last_divergences: u64,
}

/// The start activity's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StartSync {
    /// The guild.
    pub guild_id: GuildId,
    /// The sync id the workflow chose.
    pub sync_id: String,
}

/// The start activity's answer: the plan, or why there is nothing to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncStart {
    /// Compare under this plan.
    Plan(SyncPlan),
    /// Nothing to compare, and why.
    Skip(String),
}

/// One page's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SyncPage {
    /// The guild.
    pub guild_id: GuildId,
    /// The sync.
    pub sync_id: String,
    /// What it compares against.
    pub plan: SyncPlan,
    /// Discord's `after` (none: the first page).
    pub after: Option<UserId>,
}

/// One page's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PageOutcome {
    /// The page's counts.
    pub tally: SyncTally,
    /// The last member read (the next page's `after`); none when the page was empty.
    pub last: Option<UserId>,
    /// True when this was the last page.
    pub done: bool,
}

/// The finish activity's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FinishSync {
    /// The guild.
    pub guild_id: GuildId,
    /// The sync.
    pub sync_id: String,
    /// The community (tenant) id.
    pub community_id: CommunityId,
    /// The sync's counts.
    pub tally: SyncTally,
}

/// The finish activity's answer: the standing, and the digest if the operator asked for one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SyncFinished {
    /// The community's standing.
    pub summary: ShadowSummary,
    /// Where and what to post, when the operator opted in to a digest.
    pub digest: Option<OperatorNotice>,
}

/// A message for the operator's channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OperatorNotice {
    /// The guild.
    pub guild_id: GuildId,
    /// The channel.
    pub channel_id: Snowflake,
    /// The text (Markdown, at most 2,000 characters).
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_per_run_is_bounded_and_named() {
        let guild_id = GuildId::new(1).expect("id");
        let input = |n| ShadowSyncInput { guild_id, pages_per_run: Some(n), progress: None };
        assert!(input(1).check().is_ok());
        assert!(input(200).check().is_ok());
        let e = input(0).check().expect_err("0 pages").to_string();
        assert!(e.starts_with("pages_per_run: between 1 and 200"), "{e}");
        assert!(input(201).check().is_err());
    }

    #[test]
    fn tallies_add_field_by_field() {
        let mut a = SyncTally { pages: 1, members: 10, divergences: 2, would_grant: 2, ..Default::default() };
        a.add(&SyncTally { pages: 1, members: 5, divergences: 1, would_revoke: 1, ..Default::default() });
        assert_eq!((a.pages, a.members, a.divergences, a.would_grant, a.would_revoke), (2, 15, 3, 2, 1));
    }
}
