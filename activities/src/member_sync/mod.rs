//! Member sync's activities: pin what to decide against, decide pages of members (a sweep) or
//! single members (events, transfers, links, due confirmations), put confirmed revocations past
//! the mass-removal breaker, send the queued member-role writes through the gate, and watch the
//! chains for transfers. Decisions are the pure rules of `arrakis_schemas::workflows::member_sync`;
//! everything a workflow's history could not hold (queues, negatives, held batches) is in
//! Postgres.

mod ledger;

pub use ledger::{Negative, QueuedWrite};

use crate::failure::{ActivityFailure, FailureKind, storage};
use crate::{
    CommunityId, Store,
    chain::ChainError,
    discord::{DiscordFailure, Gate, GateClosed, WriteError, button_row},
    eligibility::{CHAIN_ATTEMPTS, EligibilityChecker},
    metrics::metrics,
    score::PgScoreStore,
};
use alloy::primitives::Address;
use arrakis_schemas::{
    AssetKind, CommunityManifest, GuildId, Mode, RoleGrant, UserId,
    plan::ItemKind,
    workflows::member_sync::{
        BUTTON_PREFIX, BreakerVerdict, ChainCursor, Decided, Forget, HeldAlert, HeldDecision, HeldRevocations,
        MemberFacts, OpenSync, Opened, PlanOutcome, PlanRequest, Queued, Reason, Recheck, Settle, Settled, Sighting,
        SweepPage, SweepPlan, SweepTally, Watch, Watched, WriteAction, WriteBatch, Written, as_discord_has, breaker,
        plan_member, priority,
    },
};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::{Duration, Instant},
};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use twilight_model::channel::message::component::ButtonStyle;

/// Discord's codes for a role or a member that no longer exists.
const UNKNOWN_ROLE: u64 = 10011;
const UNKNOWN_MEMBER: u64 = 10007;

/// Members per page: Discord's maximum for `GET /guilds/{guild.id}/members`.
pub const PAGE_SIZE: u16 = 1000;
/// Most members a re-check reads one by one; more due confirmations wait for the next sweep.
pub const RECHECK_MAX: usize = 200;

fn discord(e: DiscordFailure) -> ActivityError {
    e.into_activity_error()
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default()
}

fn user(id: i64) -> Option<UserId> {
    UserId::new(u64::try_from(id).ok()?).ok()
}

/// Member sync's activities, on the Discord task queue (they read and write Discord).
pub struct MemberSyncActivities {
    store: Store,
    gate: Gate,
    checker: Arc<EligibilityChecker<PgScoreStore>>,
}

impl MemberSyncActivities {
    /// Activities deciding with `checker` and changing Discord only through `gate`.
    pub fn new(store: Store, gate: Gate, checker: Arc<EligibilityChecker<PgScoreStore>>) -> Self {
        Self { store, gate, checker }
    }

    /// The guild's community, which the input names too: an input naming another community
    /// (hand-written progress) is refused instead of writing into it.
    async fn tenant(&self, guild: GuildId, claimed: Option<CommunityId>) -> Result<CommunityId, ActivityError> {
        let community = self.store.community_of(guild).await.map_err(storage)?;
        match (community, claimed) {
            (Some(c), None) => Ok(c),
            (Some(c), Some(claimed)) if c == claimed => Ok(c),
            (Some(_), Some(claimed)) => Err(ActivityFailure::new(
                FailureKind::InvalidInput,
                format!("community_id: {claimed:?} is not the community of guild {guild}"),
            )
            .into()),
            (None, _) => Err(ActivityFailure::new(
                FailureKind::UnknownGuild,
                format!("guild {guild} has no community: publish a manifest first"),
            )
            .into()),
        }
    }

    /// What to decide against now: the latest manifest, the Discord roles Arrakis made for
    /// it, and the newest block of each chain (a chain no URL answers is `unknown`).
    async fn plan_for(&self, guild: GuildId) -> Result<PlanOutcome, ActivityError> {
        let state = match self.gate.state(guild).await {
            Ok(state) => state,
            Err(GateClosed::NoCommunity(_)) => return Ok(PlanOutcome::Skip("this server has no community yet".into())),
            Err(e) => return Err(e.into_activity_error()),
        };
        if state.mode == Mode::Shadow {
            return Ok(PlanOutcome::Skip(GateClosed::Shadow.to_string()));
        }
        let mut tx = self.store.tenant(state.community).await.map_err(storage)?;
        let manifest = tx.latest_manifest().await.map_err(storage)?;
        let applied = tx.shadow_states().await.map_err(storage)?;
        let migration = tx.active_migration().await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        let Some(record) = manifest else { return Ok(PlanOutcome::Skip("no manifest published yet".into())) };
        let made: BTreeMap<&str, u64> = applied
            .iter()
            .filter(|s| ItemKind::parse(&s.kind) == Some(ItemKind::Role))
            .filter_map(|s| Some((s.key.as_str(), s.discord_id? as u64)))
            .collect();
        // A role deleted by hand is not written to (every write would be a 404) until
        // reconciliation makes it again; one read of the guild's roles tells.
        let present: BTreeSet<u64> = self
            .gate
            .reader()
            .roles(guild.get())
            .await
            .map_err(DiscordFailure::into_activity_error)?
            .iter()
            .map(|r| r.id.get())
            .collect();
        let roles: BTreeMap<String, u64> = record
            .manifest
            .roles
            .iter()
            .filter_map(|r| Some((r.key.clone(), *made.get(r.key.as_str())?)))
            .filter(|(_, id)| present.contains(id))
            .collect();
        if roles.is_empty() {
            return Ok(PlanOutcome::Skip("no role of the manifest exists in Discord yet: deploy first".into()));
        }
        // Work aimed at a role id that is gone (deleted by hand, recreated under a new id) is
        // forgotten: each write would be a 404, and the sweep re-grants the new id.
        let managed: Vec<i64> = roles.values().map(|id| *id as i64).collect();
        let mut tx = self.store.tenant(state.community).await.map_err(storage)?;
        let dead = tx.dead_roles(&managed).await.map_err(storage)?;
        let mut gone = Vec::new();
        if !dead.is_empty() {
            tx.forget_roles(&dead).await.map_err(storage)?;
            gone = tx.take_alerts(None).await.map_err(storage)?;
        }
        tx.commit().await.map_err(storage)?;
        let outcome = "**Nothing to decide any more:** the removals it held no longer apply (their roles were \
                       deleted, or the members qualify again).";
        self.close_alerts(guild, gone, outcome).await;
        let (blocks, unreadable) = self.heads(&record.manifest).await;
        Ok(PlanOutcome::Plan(SweepPlan {
            community_id: state.community,
            manifest_version: record.version,
            roles,
            blocks,
            unreadable,
            mode: Some(state.mode),
            cohort: migration.as_ref().and_then(|m| m.cohort.clone()),
            migration: migration.map(|m| m.workflow_id),
        }))
    }

    /// The newest block of every chain the manifest's assets live on.
    async fn heads(&self, manifest: &CommunityManifest) -> (BTreeMap<u64, u64>, BTreeMap<u64, String>) {
        let chains: BTreeSet<u64> = manifest.assets.iter().map(|a| a.chain_id).collect();
        let (mut blocks, mut unreadable) = (BTreeMap::new(), BTreeMap::new());
        for chain in chains {
            let head = match self.checker.chains().client(chain) {
                Ok(client) => client.block_number().await,
                Err(e) => Err(e),
            };
            match head {
                Ok(block) => {
                    blocks.insert(chain, block);
                }
                Err(e) => {
                    unreadable.insert(chain, e.to_string());
                }
            }
        }
        (blocks, unreadable)
    }

    /// Decides `members` against `plan` and records what follows: grants queued, first
    /// negatives noted, confirmed negatives staged under `batch`, what no longer holds
    /// cancelled. Each member's roles are taken as Discord holds them now: as read, with the
    /// writes Arrakis sent since the read applied, so a read from before a write never asks for
    /// it again. During a migration only the members it moved so far are granted roles. A dry
    /// run records nothing and counts what would be done.
    #[allow(clippy::too_many_arguments)]
    async fn decide(
        &self,
        community: CommunityId,
        plan: &SweepPlan,
        members: &[Seen],
        batch: &str,
        dry_run: bool,
        confirm_ms: u64,
        write_priority: i16,
        attempt: u32,
    ) -> Result<Decided, ActivityError> {
        let ids: Vec<i64> = members.iter().map(|m| m.user).collect();
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let record = tx.manifest_version(plan.manifest_version).await.map_err(storage)?.ok_or_else(|| {
            ActivityFailure::new(FailureKind::NoManifest, format!("manifest version {} is gone", plan.manifest_version))
        })?;
        let linked = tx.wallets_of(&ids).await.map_err(storage)?;
        let negatives = tx.negatives_of(&ids).await.map_err(storage)?;
        let written = tx.written_of(&ids).await.map_err(storage)?;
        let kept = tx.kept_of(&ids, plan.manifest_version).await.map_err(storage)?;
        let revoking = tx.revoking_of(&ids).await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        let members: Vec<(i64, Vec<u64>, Option<u64>)> = members
            .iter()
            .map(|m| {
                let writes = written.get(&m.user).map_or(&[][..], Vec::as_slice);
                (m.user, as_discord_has(&m.roles, m.read_at_ms, writes), m.joined_ms)
            })
            .collect();
        let members = &members;
        let managed: BTreeSet<u64> = plan.roles.values().copied().collect();
        let mut tally = SweepTally { pages: 1, ..SweepTally::default() };
        let mut wallets: BTreeMap<String, Vec<Address>> = BTreeMap::new();
        for (user_id, roles, _) in members {
            tally.members += 1;
            for (key, id) in &plan.roles {
                if roles.contains(id) {
                    *tally.holders.entry(key.clone()).or_default() += 1;
                }
            }
            let addresses: Vec<Address> =
                linked.get(user_id).map(|a| a.iter().filter_map(|a| a.parse().ok()).collect()).unwrap_or_default();
            if !addresses.is_empty() {
                tally.with_wallets += 1;
            }
            // Members without a wallet and without a managed role have nothing to decide.
            let pending = negatives.iter().any(|n| n.user_id == *user_id);
            if !addresses.is_empty() || roles.iter().any(|r| managed.contains(r)) || pending {
                wallets.insert(user_id.to_string(), addresses);
            }
        }
        let calls_before = self.checker.chains().round_trips();
        let verdicts =
            self.checker.verdicts(community, &record.manifest, &wallets, &plan.blocks, now_ms() as i64 / 1000).await;
        tally.rpc_calls = self.checker.chains().round_trips().saturating_sub(calls_before);
        if let Some((chain, why)) = verdicts.unreachable.iter().next()
            && attempt < CHAIN_ATTEMPTS
        {
            return Err(ActivityFailure::new(
                FailureKind::ChainUnavailable,
                format!("chain {chain} unreadable, retrying: {why}"),
            )
            .into());
        }
        let seen = Sighting { at_ms: now_ms(), blocks: plan.blocks.clone() };
        let names: BTreeMap<&str, String> = record
            .manifest
            .roles
            .iter()
            .map(|r| (r.key.as_str(), format!("{} ({})", r.name, grant_words(&r.grant))))
            .collect();
        let (mut grants, mut first, mut staged, mut checked, mut qualify, mut lapsed, mut desired, mut settled) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let key_of: BTreeMap<u64, &String> = plan.roles.iter().map(|(k, id)| (*id, k)).collect();
        for (user_id, roles, joined_at_ms) in members {
            let waiting: Vec<(u64, Sighting)> = negatives
                .iter()
                .filter(|n| n.user_id == *user_id)
                .map(|n| (n.role_id as u64, n.first.clone()))
                .collect();
            let verdicts = verdicts.members.get(&user_id.to_string()).map(|m| m.roles.as_slice());
            let moved = match (&plan.cohort, user(*user_id)) {
                (Some(cohort), Some(user)) => cohort.moved(user, *joined_at_ms),
                _ => true,
            };
            let member = plan_member(&MemberFacts {
                roles: &plan.roles,
                verdicts,
                current: roles,
                waiting: &waiting,
                kept: kept.get(user_id).map_or(&[][..], Vec::as_slice),
                revoking: revoking.get(user_id).map_or(&[][..], Vec::as_slice),
                moved,
                seen: &seen,
                confirm_ms,
            });
            let pairs = |ids: &[u64]| ids.iter().map(|r| (*user_id, *r as i64)).collect::<Vec<_>>();
            settled.extend(pairs(&member.settled));
            if verdicts.is_none() {
                continue;
            }
            tally.unknown += member.decision.unknown.len() as u64;
            for &role_id in &member.grants {
                let key = key_of[&role_id];
                let why = format!(
                    "manifest v{}, grant {}",
                    plan.manifest_version,
                    names.get(key.as_str()).map_or(key.as_str(), String::as_str)
                );
                grants.push(QueuedWrite {
                    user_id: *user_id,
                    role_id: role_id as i64,
                    role_key: key.clone(),
                    action: WriteAction::Grant,
                    why,
                });
            }
            first.extend(member.first.iter().map(|r| (*user_id, *r as i64, key_of[r].clone())));
            staged.extend(pairs(&member.staged));
            checked.extend(pairs(&member.checked));
            qualify.extend(pairs(&member.qualify));
            lapsed.extend(pairs(&member.lapsed));
            desired.push((*user_id, member.desired.iter().map(|r| *r as i64).collect::<Vec<_>>()));
        }
        tally.grants = grants.len() as u64;
        tally.first_negatives = first.len() as u64;
        if dry_run {
            // What a real run would revoke: every held role whose verdict is negative.
            tally.revocations = first.len() as u64 + staged.len() as u64;
            return Ok(Decided { tally, ..Decided::default() });
        }
        tally.revocations = staged.len() as u64;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.cancel(&settled, false).await.map_err(storage)?;
        tx.cancel(&qualify, false).await.map_err(storage)?;
        tx.cancel(&lapsed, true).await.map_err(storage)?;
        tx.queue_writes(&grants, write_priority).await.map_err(storage)?;
        tx.add_negatives(&first, &seen).await.map_err(storage)?;
        tx.stage_negatives(&staged, batch).await.map_err(storage)?;
        tx.check_negatives(&checked).await.map_err(storage)?;
        tx.set_desired(&desired).await.map_err(storage)?;
        let backlog = tx.pending().await.map_err(storage)?;
        let oldest = tx.oldest_negative_ms().await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(Decided {
            tally,
            recheck_at_ms: oldest.map(|at| at + confirm_ms),
            staged: staged.len() as u64,
            pending_writes: backlog.writes,
            backlog: Some(backlog),
            ..Decided::default()
        })
    }
}

/// Members a re-check reads one `GET` at a time; more are read from the member list, a page
/// of 1,000 per request over their id range, instead of one request each (Discord allows
/// about 5 single reads a second per guild, and a burst of links queues hundreds).
const SINGLE_READS_MAX: usize = 5;

/// What a re-check has read of Discord so far. Heartbeated after every request, so that an
/// attempt that times out or fails is resumed by the next one where it stopped.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct ReadProgress {
    /// Members read (bots left out): user id, Discord roles, when they joined.
    seen: Vec<Seen>,
    /// Members Discord does not have any more.
    left: Vec<i64>,
    /// The last user id read (a single read) or paged past: the next read starts after it.
    after: Option<i64>,
    /// Requests made (single reads and pages), across attempts.
    #[serde(default)]
    requests: u32,
}

impl MemberSyncActivities {
    /// Reads `wanted` members of `guild` as Discord allows: a few single reads, or the member
    /// list in pages over their id range; a retry resumes from the last heartbeat.
    async fn read_members(
        &self,
        ctx: &ActivityContext,
        guild: u64,
        wanted: &BTreeSet<i64>,
    ) -> Result<ReadProgress, ActivityError> {
        let (Some(&first), Some(&last)) = (wanted.first(), wanted.last()) else { return Ok(ReadProgress::default()) };
        let mut progress: ReadProgress = ctx.heartbeat_details().deserialize().ok().flatten().unwrap_or_default();
        let reader = self.gate.reader();
        if wanted.len() <= SINGLE_READS_MAX {
            let resumed = progress.after;
            for &user in wanted.iter().filter(|u| resumed.is_none_or(|after| **u > after)) {
                let read_at_ms = now_ms();
                progress.requests += 1;
                match reader.member(guild, user as u64).await.map_err(discord)? {
                    Some(m) if !m.user.bot => progress.seen.extend(Seen::read(&m, read_at_ms)),
                    Some(_) => {}
                    None => progress.left.push(user),
                }
                progress.after = Some(user);
                let _ = ctx.record_heartbeat(progress.clone()).await;
            }
            return Ok(progress);
        }
        let mut present: BTreeSet<i64> = progress.seen.iter().map(|m| m.user).collect();
        let mut after = progress.after.unwrap_or(first - 1);
        loop {
            let cursor = u64::try_from(after).ok().filter(|a| *a > 0);
            let read_at_ms = now_ms();
            progress.requests += 1;
            let page = reader.members_page(guild, cursor, PAGE_SIZE).await.map_err(discord)?;
            for m in &page {
                let Ok(user) = i64::try_from(m.user.id.get()) else { continue };
                if wanted.contains(&user) && present.insert(user) && !m.user.bot {
                    progress.seen.extend(Seen::read(m, read_at_ms));
                }
            }
            let end = page.last().and_then(|m| i64::try_from(m.user.id.get()).ok());
            progress.after = end.or(Some(last));
            let _ = ctx.record_heartbeat(progress.clone()).await;
            match end {
                Some(end) if page.len() == usize::from(PAGE_SIZE) && end < last => after = end,
                _ => break,
            }
        }
        // Paged past their ids without meeting them: they left.
        progress.left = wanted.iter().copied().filter(|u| !present.contains(u)).collect();
        Ok(progress)
    }
}

/// What grants a role, in the words of Discord's audit log.
fn grant_words(grant: &RoleGrant) -> String {
    match grant {
        RoleGrant::Rule(rule) => format!("rule {rule}"),
        RoleGrant::Tier(tier) => format!("tier {tier}"),
        RoleGrant::Badge(badge) => format!("badge {badge}"),
    }
}

/// A member as read from Discord, or as a gateway event said.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Seen {
    /// The user id.
    user: i64,
    /// Their Discord role ids.
    roles: Vec<u64>,
    /// When they joined (Unix ms).
    joined_ms: Option<u64>,
    /// When the read was sent, or the event received (Unix ms): writes after it override it.
    read_at_ms: u64,
}

impl Seen {
    /// `member` as a read sent at `read_at_ms` returned it.
    fn read(member: &twilight_model::guild::Member, read_at_ms: u64) -> Option<Self> {
        Some(Self {
            user: i64::try_from(member.user.id.get()).ok()?,
            roles: role_ids(member),
            joined_ms: joined_ms(member),
            read_at_ms,
        })
    }
}

/// When a member joined the guild (Unix ms).
fn joined_ms(member: &twilight_model::guild::Member) -> Option<u64> {
    member.joined_at.and_then(|t| u64::try_from(t.as_micros() / 1000).ok())
}

/// The Discord roles of a member, as ids.
fn role_ids(member: &twilight_model::guild::Member) -> Vec<u64> {
    member.roles.iter().map(|r| r.get()).collect()
}

#[activities]
impl MemberSyncActivities {
    /// What a fresh run picks up from Postgres: the watcher's cursors and a held batch.
    #[activity(name = "member_sync.open")]
    pub async fn open(self: Arc<Self>, _ctx: ActivityContext, input: OpenSync) -> Result<Opened, ActivityError> {
        let Some(community) = self.store.community_of(input.guild_id).await.map_err(storage)? else {
            return Ok(Opened::default());
        };
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let cursors = tx.sync_cursors().await.map_err(storage)?;
        let held = tx.held().await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        // The guild's series exist from its first run, so "no revocations" reads as 0.
        let guild = input.guild_id.to_string();
        for counter in [&metrics().grants, &metrics().revocations, &metrics().held] {
            counter.with_label_values(&[guild.as_str()]);
        }
        Ok(Opened { cursors, held: held_summary(&held) })
    }

    /// Pins what a sweep decides against (or says why there is nothing to decide).
    #[activity(name = "member_sync.plan")]
    pub async fn plan(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: PlanRequest,
    ) -> Result<PlanOutcome, ActivityError> {
        self.plan_for(input.guild_id).await
    }

    /// One page of a sweep: up to 1,000 members after the cursor, decided at the pinned blocks
    /// in one batch of chain reads.
    #[activity(name = "member_sync.sweep_page")]
    pub async fn sweep_page(self: Arc<Self>, ctx: ActivityContext, input: SweepPage) -> Result<Decided, ActivityError> {
        let community = self.tenant(input.guild_id, Some(input.plan.community_id)).await?;
        let guild = input.guild_id.get();
        let read_at_ms = now_ms();
        let page =
            self.gate.reader().members_page(guild, input.after.map(UserId::get), PAGE_SIZE).await.map_err(discord)?;
        let _ = ctx.record_heartbeat("read").await;
        let last = page.last().and_then(|m| UserId::new(m.user.id.get()).ok());
        let done = page.len() < usize::from(PAGE_SIZE);
        let members: Vec<Seen> =
            page.iter().filter(|m| !m.user.bot).filter_map(|m| Seen::read(m, read_at_ms)).collect();
        let attempt = ctx.info().attempt;
        let decided = self
            .decide(
                community,
                &input.plan,
                &members,
                &input.sweep_id,
                input.dry_run,
                input.revoke_confirm_ms,
                priority::SWEEP,
                attempt,
            )
            .await?;
        Ok(Decided { last, done, ..decided })
    }

    /// Decides single members now, at the newest blocks: events, transfers, links, a member's
    /// own request, and (with `due`) every negative whose second read is due.
    #[activity(name = "member_sync.recheck")]
    pub async fn recheck(self: Arc<Self>, ctx: ActivityContext, input: Recheck) -> Result<Decided, ActivityError> {
        let plan = match self.plan_for(input.guild_id).await? {
            PlanOutcome::Plan(plan) => plan,
            PlanOutcome::Skip(_) => return Ok(Decided::default()),
        };
        let community = self.tenant(input.guild_id, Some(plan.community_id)).await?;
        let queued: BTreeMap<i64, &Queued> =
            input.members.iter().filter_map(|(u, q)| Some((i64::try_from(u.get()).ok()?, q))).collect();
        let ids: Vec<i64> = queued.keys().copied().collect();
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let desired = tx.desired_of(&ids).await.map_err(storage)?;
        let written = tx.written_of(&ids).await.map_err(storage)?;
        let mut more_due = false;
        let mut unread: BTreeSet<i64> = BTreeSet::new();
        if input.due {
            let due = tx.due_negatives(now_ms().saturating_sub(input.revoke_confirm_ms)).await.map_err(storage)?;
            more_due = due.len() > RECHECK_MAX;
            unread.extend(due.into_iter().take(RECHECK_MAX));
        }
        tx.commit().await.map_err(storage)?;
        let managed: BTreeSet<u64> = plan.roles.values().copied().collect();
        let mut members = Vec::new();
        for (user_id, q) in &queued {
            let Some(roles) = &q.roles else {
                unread.insert(*user_id);
                continue;
            };
            // What the event said, with the writes sent since it was received applied (the
            // echo of the first of two grants must not ask for the second again).
            let read_at_ms = q.seen_at_ms.unwrap_or_else(now_ms);
            let said: Vec<u64> = roles.iter().map(|r| r.get()).collect();
            let roles = as_discord_has(&said, read_at_ms, written.get(user_id).map_or(&[][..], Vec::as_slice));
            if q.reason == Reason::RolesChanged {
                // An event whose managed roles are what Arrakis decided is its own write coming
                // back (or a change to roles that are not ours): nothing to decide.
                let mut held: Vec<i64> = roles.iter().filter(|r| managed.contains(r)).map(|r| *r as i64).collect();
                let mut want = desired.get(user_id).cloned().unwrap_or_default();
                held.sort_unstable();
                want.sort_unstable();
                if held == want {
                    continue;
                }
            }
            unread.remove(user_id);
            // A member who just joined (GUILD_MEMBER_ADD) joined now.
            let joined_ms = (q.reason == Reason::Joined).then(now_ms);
            members.push(Seen { user: *user_id, roles: said, joined_ms, read_at_ms });
        }
        let read = self.read_members(&ctx, input.guild_id.get(), &unread).await?;
        let reads = read.requests;
        members.extend(read.seen);
        let left = read.left;
        let mut decided = self
            .decide(
                community,
                &plan,
                &members,
                &input.batch,
                false,
                input.revoke_confirm_ms,
                priority::NOW,
                ctx.info().attempt,
            )
            .await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.forget_members(&left).await.map_err(storage)?;
        tx.save_cursors(&input.cursors).await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        decided.more_due = more_due;
        decided.reads = reads;
        Ok(decided)
    }

    /// Puts a batch's confirmed revocations past the mass-removal breaker: queued to be
    /// written, or held for the operator with an audit row.
    #[activity(name = "member_sync.settle")]
    pub async fn settle(self: Arc<Self>, _ctx: ActivityContext, input: Settle) -> Result<Settled, ActivityError> {
        let community = self.tenant(input.guild_id, None).await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let counts = tx.staged_counts(&input.batch).await.map_err(storage)?;
        if counts.is_empty() {
            return Ok(Settled::default());
        }
        let version = tx.latest_manifest().await.map_err(storage)?.map_or(0, |r| r.version);
        let members = tx.staged_members(&input.batch).await.map_err(storage)?;
        // The base: holders at the last sweep, or as decided since if more (grants after it).
        let mut holders = input.holders.clone();
        for (key, n) in tx.decided_holders(&input.batch).await.map_err(storage)? {
            let base = holders.entry(key).or_default();
            *base = (*base).max(n);
        }
        let guild = input.guild_id.to_string();
        let settled = match breaker(&holders, &counts, input.max_revoke_fraction, input.breaker_min_revocations) {
            BreakerVerdict::Pass => {
                let why = format!("manifest v{version}, revoke (no longer qualifies, confirmed by a second read) ");
                Settled { queued: tx.release_staged(&input.batch, &why).await.map_err(storage)?, members, held: None }
            }
            BreakerVerdict::Trip(roles) => {
                let count = tx.hold_staged(&input.batch).await.map_err(storage)?;
                let detail = serde_json::json!({"batch": input.batch, "count": count, "roles": roles,
                    "max_revoke_fraction": input.max_revoke_fraction});
                tx.audit("arrakis:member_sync", "member_sync.revocations_held", detail, None).await.map_err(storage)?;
                metrics().held.with_label_values(&[guild.as_str()]).inc_by(count);
                let held = HeldRevocations { batch: input.batch.clone(), count, roles, held_at_ms: now_ms() };
                Settled { queued: 0, members, held: Some(held) }
            }
        };
        tx.commit().await.map_err(storage)?;
        Ok(settled)
    }

    /// Sends up to `max` queued member-role writes through the gate (atomic per-role PUT and
    /// DELETE, paced by Discord's per-guild bucket and the shared budget). A freeze or shadow
    /// mode writes nothing and says why; a write already sent is never sent twice.
    #[activity(name = "member_sync.write")]
    pub async fn write(self: Arc<Self>, ctx: ActivityContext, input: WriteBatch) -> Result<Written, ActivityError> {
        self.write_queued(&input, Some(&ctx)).await
    }

    /// Polls the manifest's token contracts for Transfer logs from the cursors, up to
    /// `window_ms`, and answers as soon as a linked member's wallet moved (a read only: the
    /// cursors are saved with the decisions they lead to).
    #[activity(name = "member_sync.watch")]
    pub async fn watch(self: Arc<Self>, ctx: ActivityContext, input: Watch) -> Result<Watched, ActivityError> {
        let community = self.tenant(input.guild_id, None).await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let manifest = tx.latest_manifest().await.map_err(storage)?.map(|r| r.manifest);
        tx.commit().await.map_err(storage)?;
        let mut out = Watched { cursors: input.cursors.clone(), ..Watched::default() };
        let Some(manifest) = manifest else { return Ok(out) };
        let mut contracts: BTreeMap<u64, Vec<Address>> = BTreeMap::new();
        for asset in &manifest.assets {
            if matches!(asset.kind, AssetKind::Erc20 | AssetKind::Erc721 | AssetKind::Erc1155)
                && let Ok(address) = asset.address.parse::<Address>()
            {
                contracts.entry(asset.chain_id).or_default().push(address);
            }
        }
        let deadline = Instant::now() + Duration::from_millis(input.window_ms);
        loop {
            let mut moved = BTreeSet::new();
            for (chain, addresses) in &contracts {
                match self.poll_chain(*chain, addresses, &input, &mut out).await {
                    Ok(wallets) => {
                        out.unreadable.remove(chain);
                        moved.extend(wallets);
                    }
                    Err(e) => {
                        out.unreadable.insert(*chain, e.to_string());
                    }
                }
            }
            if !moved.is_empty() {
                let addresses: Vec<String> = moved.iter().map(|a| a.to_checksum(None)).collect();
                let mut tx = self.store.tenant(community).await.map_err(storage)?;
                let users = tx.members_with_wallets(&addresses).await.map_err(storage)?;
                tx.commit().await.map_err(storage)?;
                out.moved.extend(users.into_iter().filter_map(user));
            }
            if !out.moved.is_empty() || Instant::now() >= deadline || ctx.is_cancelled() {
                return Ok(out);
            }
            let _ = ctx.record_heartbeat(out.cursors.clone()).await;
            tokio::time::sleep(Duration::from_millis(input.interval_ms)).await;
        }
    }

    /// Applies (queues) or drops the breaker's held batch, as the operator decided, with an
    /// audit row saying who.
    #[activity(name = "member_sync.decide_held")]
    pub async fn decide_held(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: HeldDecision,
    ) -> Result<u64, ActivityError> {
        let community = self.tenant(input.guild_id, None).await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let version = tx.latest_manifest().await.map_err(storage)?.map_or(0, |r| r.version);
        let why = format!("manifest v{version}, revoke (held by the breaker, confirmed by {}) ", input.decision.actor);
        let count = tx.decide_held(&input.batch, input.confirm, &why, version).await.map_err(storage)?;
        let action =
            if input.confirm { "member_sync.revocations_confirmed" } else { "member_sync.revocations_discarded" };
        let detail = serde_json::json!({"batch": input.batch, "count": count, "reason": input.decision.reason});
        tx.audit(&input.decision.actor, action, detail, None).await.map_err(storage)?;
        let alerts = tx.take_alerts(Some(&input.batch)).await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        let outcome = held_outcome(input.confirm, count, &input.decision.actor, &input.decision.reason);
        self.close_alerts(input.guild_id, alerts, &outcome).await;
        Ok(count)
    }

    /// Tells the operator the breaker holds revocations, with Confirm and Discard buttons, in
    /// the manifest's operator channel; `false` when the manifest names none.
    #[activity(name = "member_sync.alert")]
    pub async fn alert(self: Arc<Self>, _ctx: ActivityContext, input: HeldAlert) -> Result<bool, ActivityError> {
        let community = self.tenant(input.guild_id, None).await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let channel = tx.latest_manifest().await.map_err(storage)?.and_then(|r| r.manifest.operator_channel_id);
        tx.commit().await.map_err(storage)?;
        let Some(channel) = channel else { return Ok(false) };
        let roles: Vec<String> = input
            .held
            .roles
            .iter()
            .map(|(role, revoking, holders)| format!("`{role}`: {revoking} of {holders} holders"))
            .collect();
        let text = format!(
            "**Arrakis held {} role removal(s)** for your decision: more than the safe share of a role's holders \
             would lose it at once ({}). Nothing was removed. If this is expected (you changed the rules), press \
             **Confirm**; if not (a chain read or a rule looks wrong), press **Discard** and check `/arrakis status`.",
            input.held.count,
            roles.join(", ")
        );
        let id = |verb: &str| format!("{BUTTON_PREFIX}:{verb}:{}", input.held.batch);
        let row = button_row(&[
            (id("confirm"), "Confirm removals", ButtonStyle::Danger),
            (id("discard"), "Discard", ButtonStyle::Secondary),
        ]);
        let message =
            self.gate.messenger().post(input.guild_id, channel.get(), &text, &[row]).await.map_err(discord)?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.save_alert(&input.held.batch, channel.get(), message, &text).await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(true)
    }

    /// Forgets members who left the guild.
    #[activity(name = "member_sync.forget")]
    pub async fn forget(self: Arc<Self>, _ctx: ActivityContext, input: Forget) -> Result<(), ActivityError> {
        let community = self.tenant(input.guild_id, None).await?;
        let users: Vec<i64> = input.users.iter().filter_map(|u| i64::try_from(u.get()).ok()).collect();
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.forget_members(&users).await.map_err(storage)?;
        tx.commit().await.map_err(storage)
    }
}

impl MemberSyncActivities {
    /// Sends up to `input.max` queued member-role writes through the gate, heartbeating on
    /// `ctx` after each; what `member_sync.write` runs (tests call it without an activity).
    pub async fn write_queued(
        &self,
        input: &WriteBatch,
        ctx: Option<&ActivityContext>,
    ) -> Result<Written, ActivityError> {
        let community = self.tenant(input.guild_id, None).await?;
        let guild = input.guild_id.to_string();
        let writer = match self.gate.open(input.guild_id, "member sync").await {
            Ok(writer) => writer,
            Err(closed @ (GateClosed::Frozen { .. } | GateClosed::Shadow)) => {
                let out = Written { closed: Some(closed.to_string()), ..Written::default() };
                return self.with_remaining(community, out).await;
            }
            Err(e) => return Err(e.into_activity_error()),
        };
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let batch = tx.next_writes(input.max).await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        let mut out = Written::default();
        // Roles and members Discord just said are gone: their other writes are not sent (each
        // would be a 404 that counts toward Discord's invalid-request limit), and are forgotten.
        let (mut gone_roles, mut gone_members) = (BTreeSet::new(), BTreeSet::new());
        for (i, w) in batch.iter().enumerate() {
            if gone_roles.contains(&w.role_id) || gone_members.contains(&w.user_id) {
                metrics().member_writes.with_label_values(&[guild.as_str(), w.action.as_str(), "gone"]).inc();
                continue;
            }
            out.requests += 1;
            let result = match w.action {
                WriteAction::Grant => writer.grant(w.user_id as u64, w.role_id as u64, &w.why).await,
                WriteAction::Revoke => writer.revoke(w.user_id as u64, w.role_id as u64, &w.why).await,
            };
            let outcome = match result {
                Ok(()) => {
                    match w.action {
                        WriteAction::Grant => out.grants += 1,
                        WriteAction::Revoke => out.revocations += 1,
                    }
                    "ok"
                }
                // The member left or the role is gone: there is nothing to write any more.
                Err(WriteError::Discord(DiscordFailure::NotFound { code, .. })) => {
                    match code {
                        UNKNOWN_ROLE => gone_roles.insert(w.role_id),
                        UNKNOWN_MEMBER => gone_members.insert(w.user_id),
                        _ => false,
                    };
                    "gone"
                }
                Err(WriteError::Closed(closed)) => {
                    // Nothing went out: the gate closed before the request.
                    out.requests -= 1;
                    out.closed = Some(closed.to_string());
                    break;
                }
                Err(WriteError::Discord(failure @ DiscordFailure::Budget(_))) => {
                    // Nothing went out: the shared budget could not be asked.
                    return Err(failure.into_activity_error());
                }
                Err(WriteError::Discord(failure)) if failure.is_retryable() => {
                    // Stays queued; counted, and tried again after the sync's pause.
                    out.errored += 1;
                    out.closed = Some(format!("Discord failed ({failure}); writes resume shortly"));
                    metrics().member_writes.with_label_values(&[guild.as_str(), w.action.as_str(), "errored"]).inc();
                    break;
                }
                Err(refused) => {
                    out.failed += 1;
                    let detail = serde_json::json!({"user_id": w.user_id.to_string(), "role": w.role_key,
                        "action": w.action.as_str(), "why": refused.to_string()});
                    let mut tx = self.store.tenant(community).await.map_err(storage)?;
                    tx.audit("arrakis:member_sync", "member_sync.write_refused", detail, None)
                        .await
                        .map_err(storage)?;
                    tx.commit().await.map_err(storage)?;
                    "refused"
                }
            };
            metrics().member_writes.with_label_values(&[guild.as_str(), w.action.as_str(), outcome]).inc();
            let mut tx = self.store.tenant(community).await.map_err(storage)?;
            tx.write_done(w.user_id, w.role_id, (outcome == "ok").then_some(w.action)).await.map_err(storage)?;
            tx.commit().await.map_err(storage)?;
            if let Some(ctx) = ctx {
                let _ = ctx.record_heartbeat(i + 1).await;
            }
        }
        if !gone_roles.is_empty() || !gone_members.is_empty() {
            let mut tx = self.store.tenant(community).await.map_err(storage)?;
            tx.forget_roles(&gone_roles.into_iter().collect::<Vec<_>>()).await.map_err(storage)?;
            tx.forget_members(&gone_members.into_iter().collect::<Vec<_>>()).await.map_err(storage)?;
            tx.commit().await.map_err(storage)?;
        }
        metrics().grants.with_label_values(&[guild.as_str()]).inc_by(out.grants);
        metrics().revocations.with_label_values(&[guild.as_str()]).inc_by(out.revocations);
        self.with_remaining(community, out).await
    }

    /// `out` with the number of writes still queued.
    async fn with_remaining(&self, community: CommunityId, out: Written) -> Result<Written, ActivityError> {
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let backlog = tx.pending().await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(Written { remaining: backlog.writes, backlog: Some(backlog), ..out })
    }

    /// One poll of one chain: from the cursor (read again from `reorg_margin` blocks back when
    /// the cursor's block changed hash) to the head less `confirmations`.
    async fn poll_chain(
        &self,
        chain: u64,
        contracts: &[Address],
        input: &Watch,
        out: &mut Watched,
    ) -> Result<BTreeSet<Address>, ChainError> {
        let client = self.checker.chains().client(chain)?;
        let safe = client.block_number().await?.saturating_sub(input.confirmations);
        let Some(cursor) = out.cursors.get(&chain).cloned() else {
            // A new watcher starts at the head: the sweep covers what came before.
            let hash = client.block_hash(safe).await?.map(|h| h.to_string()).unwrap_or_default();
            out.cursors.insert(chain, ChainCursor { block: safe, hash });
            return Ok(BTreeSet::new());
        };
        let still = client.block_hash(cursor.block).await?.map(|h| h.to_string());
        let from = if still.as_deref() == Some(cursor.hash.as_str()) || cursor.hash.is_empty() {
            cursor.block + 1
        } else {
            out.reorgs += 1;
            cursor.block.saturating_sub(input.reorg_margin).max(1)
        };
        if from > safe {
            return Ok(BTreeSet::new());
        }
        let (moved, logs) = client.transfers(contracts, from, safe, input.max_block_range).await?;
        out.logs += logs;
        let hash = client.block_hash(safe).await?.map(|h| h.to_string()).unwrap_or_default();
        out.cursors.insert(chain, ChainCursor { block: safe, hash });
        Ok(moved)
    }
}

/// How a held batch ended, in the words its alert is edited to.
fn held_outcome(confirm: bool, count: u64, actor: &str, reason: &str) -> String {
    let why = if reason.is_empty() { String::new() } else { format!(" ({reason})") };
    if confirm {
        format!("**Confirmed by {actor}**{why}: {count} removal(s) are being applied.")
    } else {
        format!("**Discarded by {actor}**{why}: those members keep their roles until their holdings change again.")
    }
}

impl MemberSyncActivities {
    /// Edits each alert to say how its batch ended and removes its buttons. A courtesy: a
    /// message that cannot be edited (deleted by hand) changes no outcome.
    async fn close_alerts(&self, guild: GuildId, alerts: Vec<(u64, u64, String)>, outcome: &str) {
        for (channel, message, shown) in alerts {
            let _ = self.gate.messenger().close(guild, channel, message, &format!("{shown}\n\n{outcome}")).await;
        }
    }
}

/// The held batch on record (the newest, if several), as the status shows it.
fn held_summary(rows: &ledger::HeldRoles) -> Option<HeldRevocations> {
    let batch = rows.last()?.0.clone();
    let roles: Vec<(String, u64, u64)> =
        rows.iter().filter(|r| r.0 == batch).map(|(_, role, n)| (role.clone(), *n as u64, 0)).collect();
    let count = roles.iter().map(|r| r.1).sum();
    Some(HeldRevocations { batch, count, roles, held_at_ms: 0 })
}
