//! Shadow mode's activities: detect the incumbent bot, then, sync after sync, compare what
//! Arrakis would grant with what the incumbent gave, without changing anything in Discord.
//!
//! The activities hold a [`GuildReader`] and no other Discord client: zero mutations is a
//! property of their construction, not a promise of their code.

mod ledger;

pub use crate::discord::GuildReader;
pub use ledger::{MemberRow, PageCounts, Pair, Standing};

use crate::failure::{ActivityFailure, FailureKind, storage};
use crate::{
    CommunityId, Store,
    discord::DiscordFailure,
    eligibility::{CHAIN_ATTEMPTS, EligibilityChecker, MemberVerdicts},
    score::PgScoreStore,
};
use alloy::primitives::Address;
use arrakis_schemas::{
    GuildId, Lenient, Mode, Snowflake, UserId,
    eligibility::Verdict,
    temporal::{IncumbentHealthCheck, ShadowSync},
    workflows::{
        incumbent::{
            self, DetectInput, DetectOutcome, FindingSource, GuildSignals, HealthInput, HealthNotified, HealthReport,
            HealthSignals, Incumbent, SIGNATURES,
        },
        shadow_sync::{
            self, FinishSync, OperatorNotice, PAGE_SIZE, PageOutcome, ShadowSummary, ShadowSyncInput, StartSync,
            SyncFinished, SyncPage, SyncPlan, SyncStart, SyncTally,
        },
    },
};
use std::{collections::BTreeMap, sync::Arc, time::Duration};
use temporalio_client::{
    Client,
    schedules::{
        CreateScheduleOptions, DeleteScheduleOptions, ScheduleAction, ScheduleError, ScheduleOverlapPolicy,
        ScheduleSpec, TriggerScheduleOptions,
    },
    tonic::Code,
};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// How often a guild in shadow mode is synced, and how much each start is spread.
pub const SYNC_EVERY: Duration = Duration::from_secs(6 * 60 * 60);
const SYNC_JITTER: Duration = Duration::from_secs(30 * 60);

fn discord(e: DiscordFailure) -> ActivityError {
    e.into_activity_error()
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default()
}

/// Shadow mode's activities, on the Discord task queue (they read Discord under its budget).
pub struct ShadowActivities {
    store: Store,
    guilds: GuildReader,
    checker: Arc<EligibilityChecker<PgScoreStore>>,
    schedules: Client,
    task_queue: String,
}

impl ShadowActivities {
    /// One health check: the signals, the verdict, and the record (with the level as told
    /// when `told_now`, the older path).
    async fn check_health(&self, input: &HealthInput, told_now: bool) -> Result<HealthReport, ActivityError> {
        let Some(community) = self.store.community_of(input.guild_id).await.map_err(storage)? else {
            return Ok(HealthReport::default());
        };
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let standing = tx.shadow_standing().await.map_err(storage)?;
        let (_, notified) = tx.incumbent_health().await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        let signals = self.health_signals(input.guild_id.get(), standing.incumbent).await.map_err(discord)?;
        let health = incumbent::judge_health(&signals);
        let notify = incumbent::should_notify(notified, health.level);
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.record_health(&health, (notify && told_now).then_some(health.level)).await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(HealthReport { health, notify })
    }

    /// Activities reading Discord through `guilds`, deciding with `checker`, and creating the
    /// sync schedule (whose runs go to `task_queue`) through `schedules`.
    pub fn new(
        store: Store,
        guilds: GuildReader,
        checker: Arc<EligibilityChecker<PgScoreStore>>,
        schedules: Client,
        task_queue: String,
    ) -> Self {
        Self { store, guilds, checker, schedules, task_queue }
    }

    /// What the guild shows of the known incumbents.
    async fn signals(&self, guild: u64) -> Result<GuildSignals, DiscordFailure> {
        let mut bot_members = Vec::new();
        for id in SIGNATURES.iter().flat_map(|s| s.bot_ids) {
            if self.guilds.is_member(guild, *id).await?
                && let Ok(id) = Snowflake::new(*id)
            {
                bot_members.push(id);
            }
        }
        let channels = self.guilds.channels(guild).await?.into_iter().filter_map(|c| c.name).collect();
        let roles = self.guilds.roles(guild).await?.into_iter().map(|r| r.name).collect();
        Ok(GuildSignals { bot_members, channels, roles })
    }

    /// Creates the guild's sync schedule, or deletes it when there is nothing to shadow.
    async fn schedule(&self, guild_id: GuildId, wanted: bool) -> Result<Option<String>, ActivityError> {
        let run = Lenient::new(&ShadowSyncInput { guild_id, pages_per_run: None, progress: None });
        let action = ScheduleAction::start_workflow(
            ShadowSync,
            run,
            self.task_queue.clone(),
            shadow_sync::workflow_id(guild_id),
        );
        let note = format!("shadow sync of guild {guild_id} (an incumbent bot runs there)");
        self.ensure_schedule(shadow_sync::schedule_id(guild_id), wanted.then_some((action, note))).await
    }

    /// Creates the guild's incumbent health check, or deletes it when no incumbent is on record.
    async fn health_schedule(&self, guild_id: GuildId, wanted: bool) -> Result<Option<String>, ActivityError> {
        let id = incumbent::health_workflow_id(guild_id);
        let run = Lenient::new(&HealthInput { guild_id });
        let action = ScheduleAction::start_workflow(IncumbentHealthCheck, run, self.task_queue.clone(), id.clone());
        let note = format!("health of the incumbent bot of guild {guild_id} (alerts only, never acts)");
        self.ensure_schedule(id, wanted.then_some((action, note))).await
    }

    /// Creates the 6-hourly schedule `id` with `action` (kept when it exists), or deletes it.
    async fn ensure_schedule(
        &self,
        id: String,
        wanted: Option<(ScheduleAction, String)>,
    ) -> Result<Option<String>, ActivityError> {
        let Some((action, note)) = wanted else {
            return match self.schedules.get_schedule_handle(id.clone()).delete(DeleteScheduleOptions::default()).await {
                Ok(()) => Ok(None),
                Err(ScheduleError::Rpc(status)) if status.code() == Code::NotFound => Ok(None),
                Err(e) => {
                    Err(ActivityFailure::new(FailureKind::TemporalUnavailable, format!("deleting schedule {id}: {e}"))
                        .into())
                }
            };
        };
        let options = CreateScheduleOptions::builder()
            .action(action)
            .spec(ScheduleSpec::builder().intervals(vec![SYNC_EVERY.into()]).jitter(SYNC_JITTER).build())
            .overlap_policy(ScheduleOverlapPolicy::Skip)
            .note(note)
            .build();
        match self.schedules.create_schedule(id.clone(), options).await {
            Ok(_) => Ok(Some(id)),
            Err(ScheduleError::Rpc(status)) if status.code() == Code::AlreadyExists => Ok(Some(id)),
            Err(e) => {
                Err(ActivityFailure::new(FailureKind::TemporalUnavailable, format!("creating schedule {id}: {e}"))
                    .into())
            }
        }
    }

    /// What the guild shows of the incumbent's activity: its bot still a member, its newest
    /// member-role change in the audit log, its verification channel's last message.
    async fn health_signals(&self, guild: u64, incumbent: Option<Incumbent>) -> Result<HealthSignals, DiscordFailure> {
        let mut out = HealthSignals { incumbent, checked_at_ms: now_ms(), ..HealthSignals::default() };
        let Some(incumbent) = incumbent else { return Ok(out) };
        let signature = incumbent.signature();
        let mut bot = None;
        for id in signature.bot_ids {
            if self.guilds.is_member(guild, *id).await? {
                bot = Some(*id);
                break;
            }
        }
        out.bot_member = bot.is_some();
        if let Some(bot) = bot {
            match self.guilds.last_role_update_by(guild, bot).await {
                Ok(at) => out.last_role_update_ms = at,
                Err(DiscordFailure::MissingPermissions { .. }) => {
                    out.audit_log_unreadable =
                        Some("Arrakis lacks View Audit Log: grant it to watch the incumbent's role updates".into())
                }
                Err(e) => return Err(e),
            }
        }
        let channel =
            self.guilds.channels(guild).await?.into_iter().find(|c| {
                c.name.as_deref().is_some_and(|n| signature.channels.iter().any(|s| n.eq_ignore_ascii_case(s)))
            });
        if let Some(channel) = channel {
            out.verification_channel = channel.name.clone();
            out.last_message_ms = channel.last_message_id.map(|m| incumbent::snowflake_ms(m.get()));
        }
        Ok(out)
    }

    /// The guild's community, which the sync's input also names (in its plan or its finish
    /// call): the tenant comes from the guild, and an input naming another community, such as
    /// hand-written progress, is refused instead of writing into that community.
    async fn tenant_of(&self, guild_id: GuildId, claimed: CommunityId) -> Result<CommunityId, ActivityError> {
        let community = self.store.community_of(guild_id).await.map_err(storage)?;
        match community {
            Some(community) if community == claimed => Ok(community),
            _ => Err(ActivityFailure::new(
                FailureKind::InvalidInput,
                format!("community_id: {claimed:?} is not the community of guild {guild_id}"),
            )
            .into()),
        }
    }
}

/// One member's side by side: the row to keep, and the pairs to record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// The member as seen.
    pub row: MemberRow,
    /// (role key, `would_grant` | `would_revoke`).
    pub divergences: Vec<(String, &'static str)>,
    /// What the incumbent gave, per compared role.
    pub holdings: Vec<Pair>,
    /// What Arrakis says the member should hold, per role it could decide.
    pub predictions: Vec<Pair>,
    /// Roles Arrakis could not decide.
    pub unknown: u64,
}

/// Compares one member: `roles` are their Discord roles, `verdicts` Arrakis's (none: the
/// member linked no wallet, so Arrakis predicts nothing and diverges on nothing).
pub fn compare(
    user_id: i64,
    roles: &[u64],
    role_map: &BTreeMap<String, Snowflake>,
    wallets: usize,
    verdicts: Option<&MemberVerdicts>,
) -> Comparison {
    let mut out = Comparison::default();
    out.row.user_id = user_id;
    out.row.wallets = i32::try_from(wallets).unwrap_or(i32::MAX);
    out.row.best_rank = verdicts.and_then(|v| v.best_rank).and_then(|r| i32::try_from(r).ok());
    for (key, incumbent_role) in role_map {
        let holds = roles.contains(&incumbent_role.get());
        if holds {
            out.row.incumbent_roles.push(key.clone());
        }
        out.holdings.push(Pair { user_id, role_key: key.clone(), holds });
        let Some(verdicts) = verdicts else { continue };
        let should = match verdicts.roles.iter().find(|v| &v.role == key).map(|v| &v.evaluation.verdict) {
            Some(Verdict::Eligible) => true,
            Some(Verdict::NotEligible) => false,
            Some(Verdict::Unknown { .. }) | None => {
                out.row.unknown_roles.push(key.clone());
                out.unknown += 1;
                continue;
            }
        };
        if should {
            out.row.arrakis_roles.push(key.clone());
        }
        match (should, holds) {
            (true, false) => out.divergences.push((key.clone(), "would_grant")),
            (false, true) => out.divergences.push((key.clone(), "would_revoke")),
            _ => {}
        }
        out.predictions.push(Pair { user_id, role_key: key.clone(), holds: should });
    }
    out
}

#[activities]
impl ShadowActivities {
    /// Detects the guild's incumbent (or takes the operator's word), records it, and creates
    /// the 6-hourly sync schedule when the community is in shadow mode with an incumbent.
    /// On a re-join (`on_join`) a guild already judged keeps its finding.
    #[activity(name = "incumbent.detect")]
    pub async fn detect(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: DetectInput,
    ) -> Result<DetectOutcome, ActivityError> {
        self.judge(&input).await
    }

    /// Judges the incumbent's health (its role updates, its verification channel) and records
    /// it; `notify` says the operator should hear of it (the level got worse than what they
    /// were told). The level told is recorded by `incumbent.health_notified` once Discord took
    /// the notice, so a notice that failed is sent again at the next check.
    #[activity(name = "incumbent.judge_health")]
    pub async fn judge_health(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: HealthInput,
    ) -> Result<HealthReport, ActivityError> {
        self.check_health(&input, false).await
    }

    /// As `incumbent.judge_health`, but recording the level as told before the notice is
    /// posted: what health checks begun before `judge_health` run (and replay).
    #[activity(name = "incumbent.health")]
    pub async fn health(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: HealthInput,
    ) -> Result<HealthReport, ActivityError> {
        self.check_health(&input, true).await
    }

    /// Records that the operator was told of `level`: the notice is in their channel.
    #[activity(name = "incumbent.health_notified")]
    pub async fn health_notified(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: HealthNotified,
    ) -> Result<(), ActivityError> {
        let Some(community) = self.store.community_of(input.guild_id).await.map_err(storage)? else {
            return Ok(());
        };
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.record_health_notified(input.level).await.map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    /// DEPLOY in shadow mode: the incumbent on record (detected now if the guild was never
    /// judged), the sync schedule, and a first sync started at once instead of a synthesis.
    #[activity(name = "shadow.begin")]
    pub async fn begin(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: DetectInput,
    ) -> Result<DetectOutcome, ActivityError> {
        let outcome = self.judge(&DetectInput { on_join: true, ..input }).await?;
        if let Some(id) = &outcome.schedule_id {
            let handle = self.schedules.get_schedule_handle(id.clone());
            handle.trigger(ScheduleOverlapPolicy::Skip, TriggerScheduleOptions::default()).await.map_err(|e| {
                ActivityFailure::new(FailureKind::TemporalUnavailable, format!("starting a sync of {id}: {e}"))
            })?;
        }
        Ok(outcome)
    }
    /// Starts a sync: checks there is something to compare, maps each manifest role to the
    /// incumbent's role of the same name, and pins the newest block of every chain.
    #[activity(name = "shadow.start")]
    pub async fn start(self: Arc<Self>, _ctx: ActivityContext, input: StartSync) -> Result<SyncStart, ActivityError> {
        let guild = input.guild_id.get();
        let Some(community) = self.store.community_of(input.guild_id).await.map_err(storage)? else {
            return Ok(SyncStart::Skip("this server has no community yet".into()));
        };
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let standing = tx.shadow_standing().await.map_err(storage)?;
        let manifest = tx.latest_manifest().await.map_err(storage)?;
        let ours: Vec<i64> = tx
            .shadow_states()
            .await
            .map_err(storage)?
            .iter()
            .filter(|s| s.kind == "role")
            .filter_map(|s| s.discord_id)
            .collect();
        tx.commit().await.map_err(storage)?;
        if standing.mode != Some(Mode::Shadow) {
            let mode = standing.mode.map_or("", Mode::as_str);
            return Ok(SyncStart::Skip(format!("the community is in {mode} mode, not shadow")));
        }
        if standing.incumbent.is_none() {
            return Ok(SyncStart::Skip("no incumbent bot on record".into()));
        }
        let Some(record) = manifest else { return Ok(SyncStart::Skip("no manifest published yet".into())) };
        let guild_roles = self.guilds.roles(guild).await.map_err(discord)?;
        let mut role_map = BTreeMap::new();
        for role in &record.manifest.roles {
            let theirs = guild_roles.iter().find(|r| {
                r.name.eq_ignore_ascii_case(&role.name) && !ours.contains(&i64::try_from(r.id.get()).unwrap_or(-1))
            });
            if let Some(theirs) = theirs.and_then(|r| Snowflake::new(r.id.get()).ok()) {
                role_map.insert(role.key.clone(), theirs);
            }
        }
        if role_map.is_empty() {
            return Ok(SyncStart::Skip("no manifest role has the name of a role in the server".into()));
        }
        let mut blocks = BTreeMap::new();
        let mut chain_ids: Vec<u64> = record.manifest.assets.iter().map(|a| a.chain_id).collect();
        chain_ids.sort_unstable();
        chain_ids.dedup();
        for chain in chain_ids {
            let client = self
                .checker
                .chains()
                .client(chain)
                .map_err(|e| ActivityFailure::new(FailureKind::ChainNotConfigured, e.to_string()))?;
            let block = client
                .block_number()
                .await
                .map_err(|e| ActivityFailure::new(FailureKind::ChainUnavailable, e.to_string()))?;
            blocks.insert(chain, block);
        }
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.begin_sync(&input.sync_id, record.version, &blocks).await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(SyncStart::Plan(SyncPlan { community_id: community, manifest_version: record.version, blocks, role_map }))
    }

    /// One page: up to 1,000 members after the cursor, their wallets, Arrakis's verdicts at
    /// the pinned blocks in one batch, the comparison, and its rows in one transaction.
    #[activity(name = "shadow.page")]
    pub async fn page(self: Arc<Self>, ctx: ActivityContext, input: SyncPage) -> Result<PageOutcome, ActivityError> {
        let community = self.tenant_of(input.guild_id, input.plan.community_id).await?;
        let guild = input.guild_id.get();
        let members =
            self.guilds.members_page(guild, input.after.map(UserId::get), PAGE_SIZE).await.map_err(discord)?;
        let _ = ctx.record_heartbeat("read").await;
        let last = members.last().and_then(|m| UserId::new(m.user.id.get()).ok());
        let done = members.len() < usize::from(PAGE_SIZE);
        let humans: Vec<_> = members.iter().filter(|m| !m.user.bot).collect();
        let ids: Vec<i64> = humans.iter().filter_map(|m| i64::try_from(m.user.id.get()).ok()).collect();

        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let record = tx.manifest_version(input.plan.manifest_version).await.map_err(storage)?.ok_or_else(|| {
            ActivityFailure::new(
                FailureKind::NoManifest,
                format!("manifest version {} is gone", input.plan.manifest_version),
            )
        })?;
        let linked = tx.wallets_of(&ids).await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        let wallets: BTreeMap<String, Vec<Address>> = linked
            .iter()
            .map(|(user, addresses)| (user.to_string(), addresses.iter().filter_map(|a| a.parse().ok()).collect()))
            .collect();
        let now = chrono::Utc::now().timestamp();
        let calls_before = self.checker.chains().round_trips();
        let verdicts = self.checker.verdicts(community, &record.manifest, &wallets, &input.plan.blocks, now).await;
        if let Some((chain, why)) = verdicts.unreachable.iter().next()
            && ctx.info().attempt < CHAIN_ATTEMPTS
        {
            return Err(ActivityFailure::new(
                FailureKind::ChainUnavailable,
                format!("chain {chain} unreadable, retrying: {why}"),
            )
            .into());
        }
        let _ = ctx.record_heartbeat("decided").await;

        let rpc_calls = self.checker.chains().round_trips().saturating_sub(calls_before);
        let mut tally = SyncTally { pages: 1, rpc_calls, ..Default::default() };
        let (mut rows, mut divergences, mut holdings, mut predictions) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for member in &humans {
            let Ok(user_id) = i64::try_from(member.user.id.get()) else { continue };
            let roles: Vec<u64> = member.roles.iter().map(|r| r.get()).collect();
            let key = user_id.to_string();
            let theirs = verdicts.members.get(&key).filter(|_| wallets.get(&key).is_some_and(|w| !w.is_empty()));
            let c = compare(user_id, &roles, &input.plan.role_map, wallets.get(&key).map_or(0, Vec::len), theirs);
            tally.members += 1;
            if theirs.is_some() {
                tally.compared += 1;
            } else {
                tally.unverified += 1;
            }
            tally.unknown += c.unknown;
            for (role, kind) in c.divergences {
                tally.divergences += 1;
                if kind == "would_grant" {
                    tally.would_grant += 1;
                } else {
                    tally.would_revoke += 1;
                }
                divergences.push((user_id, role, kind));
            }
            rows.push(c.row);
            holdings.extend(c.holdings);
            predictions.extend(c.predictions);
        }
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let counts =
            tx.record_page(&input.sync_id, &rows, &divergences, &holdings, &predictions).await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        tally.predictions_validated = counts.validated;
        tally.predictions_correct = counts.correct;
        Ok(PageOutcome { tally, last, done })
    }

    /// Closes the sync and answers the community's standing, with the digest when the
    /// operator opted in and the manifest names an operator channel.
    #[activity(name = "shadow.finish")]
    pub async fn finish(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: FinishSync,
    ) -> Result<SyncFinished, ActivityError> {
        let community = self.tenant_of(input.guild_id, input.community_id).await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let closed = tx.finish_sync(&input.sync_id, &input.tally).await.map_err(storage)?;
        let standing = tx.shadow_standing().await.map_err(storage)?;
        let channel = tx.latest_manifest().await.map_err(storage)?.and_then(|r| r.manifest.operator_channel_id);
        tx.commit().await.map_err(storage)?;
        let now = chrono::Utc::now();
        let summary = ShadowSummary {
            mode: standing.mode,
            incumbent: standing.incumbent.map(|i| i.signature().name.to_string()),
            confidence: standing.confidence,
            accuracy: closed.accuracy,
            validated: closed.validated,
            days_in_shadow: standing.shadow_since.map(|since| (now - since).num_days().max(0).unsigned_abs()),
            last_sync_at: closed.finished_at.map(|at| at.to_rfc3339()),
            last_divergences: input.tally.divergences,
        };
        let digest = match channel {
            Some(channel_id) if standing.digest => {
                Some(OperatorNotice { guild_id: input.guild_id, channel_id, text: digest_text(&summary, &input.tally) })
            }
            _ => None,
        };
        Ok(SyncFinished { summary, digest })
    }
}

impl ShadowActivities {
    /// Detects the guild's incumbent, or takes the operator's word, and records it. The
    /// operator's word beats detection on every path: a run that names no override (the digest
    /// opt-in, a re-join) keeps an override on record and changes only what it names.
    async fn judge(&self, input: &DetectInput) -> Result<DetectOutcome, ActivityError> {
        let guild_id = input.guild_id;
        let mut service = self.store.service().await.map_err(storage)?;
        let community = service.ensure_guild_community(guild_id).await.map_err(storage)?;
        service.commit().await.map_err(storage)?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let before = tx.shadow_standing().await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        // An override is always recorded; without one, a judged guild's re-join and anything
        // after the operator spoke keep what is on record.
        let keep = input.operator_override.is_none()
            && ((input.on_join && before.checked_at.is_some()) || before.source == Some(FindingSource::Operator));
        let (standing, kept) = if keep {
            let standing = match input.digest {
                Some(digest) => {
                    let mut tx = self.store.tenant(community).await.map_err(storage)?;
                    let standing = tx.set_digest(digest).await.map_err(storage)?;
                    tx.commit().await.map_err(storage)?;
                    standing
                }
                None => before,
            };
            (standing, true)
        } else {
            let finding = match input.operator_override {
                Some(choice) => incumbent::overridden(choice),
                None => incumbent::detect(&self.signals(guild_id.get()).await.map_err(discord)?),
            };
            let mut tx = self.store.tenant(community).await.map_err(storage)?;
            let (standing, recorded) = tx.record_finding(&finding, input.digest).await.map_err(storage)?;
            tx.commit().await.map_err(storage)?;
            (standing, !recorded)
        };
        let shadowing = standing.incumbent.is_some() && standing.mode == Some(Mode::Shadow);
        let schedule_id = self.schedule(guild_id, shadowing).await?;
        self.health_schedule(guild_id, standing.incumbent.is_some()).await?;
        Ok(DetectOutcome {
            finding: incumbent::IncumbentFinding {
                incumbent: standing.incumbent,
                confidence: standing.confidence.unwrap_or_default(),
                evidence: standing.evidence,
                source: standing.source,
            },
            mode: standing.mode,
            schedule_id,
            kept,
            done: true,
        })
    }
}

/// The operator's digest of one sync.
pub fn digest_text(summary: &ShadowSummary, tally: &SyncTally) -> String {
    let accuracy = summary.accuracy.map_or_else(|| "not measured yet".to_string(), |a| format!("{:.1} %", a * 100.0));
    format!(
        "**Arrakis shadow sync** beside {}: {} members read, {} compared ({} without a linked wallet).\n\
         Divergences: {} (would grant {}, would revoke {}); undecided: {}.\n\
         Accuracy: {accuracy} over {} validated predictions; {} day(s) in shadow. Nothing was changed.",
        summary.incumbent.as_deref().unwrap_or("no incumbent"),
        tally.members,
        tally.compared,
        tally.unverified,
        tally.divergences,
        tally.would_grant,
        tally.would_revoke,
        tally.unknown,
        summary.validated,
        summary.days_in_shadow.unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrakis_schemas::eligibility::{Evaluation, RoleVerdict};

    fn verdicts(roles: &[(&str, Verdict)]) -> MemberVerdicts {
        MemberVerdicts {
            roles: roles
                .iter()
                .map(|(key, verdict)| RoleVerdict {
                    role: key.to_string(),
                    evaluation: Evaluation { verdict: verdict.clone(), sources: Default::default(), degraded: vec![] },
                })
                .collect(),
            best_rank: None,
        }
    }

    fn map() -> BTreeMap<String, Snowflake> {
        [("gold", 11), ("silver", 12), ("bronze", 13)]
            .into_iter()
            .map(|(k, id)| (k.to_string(), Snowflake::new(id).expect("id")))
            .collect()
    }

    #[test]
    fn a_member_diverges_where_the_verdict_and_the_incumbent_disagree() {
        let v = verdicts(&[
            ("gold", Verdict::Eligible),
            ("silver", Verdict::NotEligible),
            ("bronze", Verdict::Unknown { reason: "chain down".into() }),
        ]);
        let c = compare(7, &[12, 13], &map(), 1, Some(&v));
        assert_eq!(c.divergences, vec![("gold".to_string(), "would_grant"), ("silver".to_string(), "would_revoke")]);
        assert_eq!(c.unknown, 1);
        assert_eq!(c.row.incumbent_roles, vec!["bronze", "silver"]);
        assert_eq!(c.row.arrakis_roles, vec!["gold"]);
        assert_eq!(c.row.unknown_roles, vec!["bronze"]);
        assert_eq!(c.predictions.len(), 2, "no prediction on an unknown");
        assert_eq!(c.holdings.len(), 3);
    }

    #[test]
    fn a_member_without_a_wallet_is_seen_but_not_judged() {
        let c = compare(8, &[11], &map(), 0, None);
        assert!(c.divergences.is_empty() && c.predictions.is_empty());
        assert_eq!(c.row.incumbent_roles, vec!["gold"]);
        assert_eq!(c.holdings.iter().filter(|p| p.holds).count(), 1);
    }

    #[test]
    fn agreement_is_not_a_divergence() {
        let v =
            verdicts(&[("gold", Verdict::Eligible), ("silver", Verdict::NotEligible), ("bronze", Verdict::Eligible)]);
        let c = compare(9, &[11, 13], &map(), 2, Some(&v));
        assert!(c.divergences.is_empty());
        assert_eq!(c.predictions.iter().filter(|p| p.holds).count(), 2);
    }
}
