//! Synthesis activities: plan (the pure three-way diff of `arrakis_schemas::plan` over what
//! was applied and what Discord holds) and apply one op, idempotently: an object this manifest
//! item already made is found (by the id recorded in `shadow_states`, then by name) before
//! anything is created. Every change goes through the gate's [`GuildWriter`](crate::discord::GuildWriter).

use crate::failure::{ActivityFailure, FailureKind, storage};
use crate::{
    CommunityId, ShadowState, Store,
    discord::{DiscordFailure, Gate, GateClosed, GuildWriter, WriteError},
};
use arrakis_schemas::{
    CommunityManifest, GuildId, Mode, Snowflake,
    plan::{self, AppliedIds, AppliedItem, Assessment, GuildSnapshot, ItemKind},
    workflows::{
        migration,
        reconcile::{DeleteExtra, DriftNotice, ReconcileDiff, ReconcileInput, ReconcileMode, ReportNotice},
        shadow_sync::OperatorNotice,
        synthesis::{
            ApplyOp, FreezeScope, GuildFreezes, OpAction, OrderRoles, Phase, SynthesisInput, SynthesisOp, SynthesisPlan,
        },
    },
};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, sync::Arc};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Synthesis activities; they run on the Discord task queue.
#[derive(Clone)]
pub struct SynthesisActivities {
    store: Store,
    gate: Gate,
    bot_user_id: Option<u64>,
}

impl SynthesisActivities {
    /// Activities over `store`, changing Discord only through `gate`; `bot_user_id` keeps the
    /// bot able to see the channels it hides from @everyone.
    pub fn new(store: Store, gate: Gate, bot_user_id: Option<u64>) -> Self {
        Self { store, gate, bot_user_id }
    }
}

fn discord(e: DiscordFailure) -> ActivityError {
    e.into_activity_error()
}

fn write(e: WriteError) -> ActivityError {
    e.into_activity_error()
}

/// The community an input names; one that names none (a hand-written input) is refused.
fn community_id(id: CommunityId) -> Result<CommunityId, ActivityError> {
    if id.is_none() {
        return Err(
            ActivityFailure::new(FailureKind::InvalidInput, "community_id: missing (a UUID is required)").into()
        );
    }
    Ok(id)
}

/// The shadow state as planning reads it (rows of unknown kinds are skipped).
pub fn applied_items(states: &[ShadowState]) -> Vec<AppliedItem> {
    states
        .iter()
        .filter_map(|s| {
            Some(AppliedItem {
                kind: ItemKind::parse(&s.kind)?,
                key: s.key.clone(),
                discord_id: s.discord_id.map(|id| id as u64),
                applied_hash: s.applied_hash.clone(),
            })
        })
        .collect()
}

/// A guild's plan against its saved manifest, with what the workflows need around it.
pub struct AssessedGuild {
    /// The community (tenant) id.
    pub community_id: CommunityId,
    /// The manifest version compared against.
    pub version: i32,
    /// The community's mode.
    pub mode: Mode,
    /// The manifest's operator channel.
    pub operator_channel_id: Option<Snowflake>,
    /// The freezes in force.
    pub freezes: Vec<FreezeScope>,
    /// The plan.
    pub assessment: Assessment,
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default()
}

impl SynthesisActivities {
    pub(crate) fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The bot's user id, which is also its application's (interaction tokens belong to it).
    pub(crate) fn bot_user_id(&self) -> Option<u64> {
        self.bot_user_id
    }

    async fn snapshot(&self, guild: GuildId) -> Result<GuildSnapshot, ActivityError> {
        self.gate.reader().snapshot(guild.get(), self.bot_user_id).await.map_err(discord)
    }

    /// Builds the synthesis plan of a version; reads only.
    pub async fn build_plan(&self, input: &SynthesisInput) -> Result<SynthesisPlan, ActivityError> {
        let a = self.assess(input.guild_id, Some(input.version)).await?;
        let closed = (a.mode == Mode::Shadow).then(|| GateClosed::Shadow.to_string());
        Ok(SynthesisPlan {
            community_id: a.community_id,
            ops: a.assessment.ops,
            unchanged: a.assessment.unchanged,
            removals: a.assessment.removals,
            closed,
            frozen: a.freezes,
        })
    }

    /// The three-way diff of a guild against a saved version (the latest when `None`). Reads
    /// only.
    pub async fn assess(&self, guild_id: GuildId, version: Option<i32>) -> Result<AssessedGuild, ActivityError> {
        let state = self.gate.state(guild_id).await.map_err(GateClosed::into_activity_error)?;
        let mut tx = self.store.tenant(state.community).await.map_err(storage)?;
        let record = match version {
            Some(v) => tx.manifest_version(v).await,
            None => tx.latest_manifest().await,
        }
        .map_err(storage)?
        .ok_or_else(|| {
            let what = match version {
                Some(v) => format!("manifest version {v} of guild {guild_id} does not exist: publish it first"),
                None => format!("guild {guild_id} has no saved manifest yet: deploy one first"),
            };
            ActivityFailure::new(FailureKind::UnknownVersion, what)
        })?;
        let applied = applied_items(&tx.shadow_states().await.map_err(storage)?);
        tx.commit().await.map_err(storage)?;
        let guild = self.snapshot(guild_id).await?;
        let assessment = plan::assess(&record.manifest, record.version, &applied, &guild, now_ms());
        Ok(AssessedGuild {
            community_id: state.community,
            version: record.version,
            mode: state.mode,
            operator_channel_id: record.manifest.operator_channel_id,
            freezes: state.freezes,
            assessment,
        })
    }

    /// The plan of a draft manifest (REVIEW): against what Arrakis applied, if anything.
    pub async fn assess_draft(&self, manifest: &CommunityManifest) -> Result<Assessment, ActivityError> {
        let community = self.store.community_of(manifest.guild_id).await.map_err(storage)?;
        let applied = match community {
            Some(c) => {
                let mut tx = self.store.tenant(c).await.map_err(storage)?;
                let states = tx.shadow_states().await.map_err(storage)?;
                tx.commit().await.map_err(storage)?;
                applied_items(&states)
            }
            None => Vec::new(),
        };
        let guild = self.snapshot(manifest.guild_id).await?;
        Ok(plan::assess(manifest, 0, &applied, &guild, now_ms()))
    }

    /// Puts the manifest's roles in manifest order (first = highest): in parallel mode below
    /// every other role, otherwise among the positions they already hold, so
    /// no other role moves. Returns how many roles moved (0: reads only).
    pub async fn order_roles(&self, input: &OrderRoles) -> Result<u32, ActivityError> {
        let community = community_id(input.community_id)?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let manifest = tx
            .manifest_version(input.version)
            .await
            .map_err(storage)?
            .ok_or_else(|| {
                ActivityFailure::new(
                    FailureKind::UnknownVersion,
                    format!("manifest version {} does not exist", input.version),
                )
            })?
            .manifest;
        let ids = AppliedIds::from(&applied_items(&tx.shadow_states().await.map_err(storage)?));
        let incumbent = tx.shadow_standing().await.map_err(storage)?.incumbent;
        tx.commit().await.map_err(storage)?;
        let reader = self.gate.reader();
        let mut roles: Vec<_> = reader
            .roles(input.guild_id.get())
            .await
            .map_err(discord)?
            .iter()
            .map(crate::discord::actual_role)
            .collect();
        // Moves ask for ranks: positions with gaps or ties are read as the order they give.
        let ranks =
            plan::role_ranks(&roles.iter().map(|r| (r.id, r.position)).collect::<Vec<_>>(), input.guild_id.get());
        let ours_ids: Vec<u64> = manifest.roles.iter().filter_map(|r| ids.id(ItemKind::Role, &r.key)).collect();
        let recreated: Vec<u64> = input.recreated.iter().filter_map(|k| ids.id(ItemKind::Role, k)).collect();
        let wanted = plan::restore_recreated(&ranks, &ours_ids, &recreated);
        for role in &mut roles {
            role.position = wanted.get(&role.id).copied().unwrap_or(role.position);
        }
        // Roles a recreated one passed on its way back shift by one, as Discord shifts them.
        let mut shifted: BTreeMap<u64, u64> = wanted
            .iter()
            .filter(|(id, rank)| **rank > 0 && ranks.get(id) != Some(rank))
            .map(|(id, rank)| (*id, *rank as u64))
            .collect();
        let ours: Vec<(u64, i64)> = manifest
            .roles
            .iter()
            .filter_map(|r| ids.id(ItemKind::Role, &r.key))
            .filter_map(|id| roles.iter().find(|r| r.id == id).map(|r| (id, r.position)))
            .collect();
        // In parallel mode beside an incumbent the roles stand below every other role, so no
        // member's colour or place in the member list changes; otherwise they keep the
        // positions they hold, in manifest order.
        let ceiling = match (manifest.mode, self.bot_user_id) {
            (Mode::Parallel, Some(bot)) => {
                let own: Vec<u64> = match reader.member(input.guild_id.get(), bot).await.map_err(discord)? {
                    Some(member) => member.roles.iter().map(|r| r.get()).collect(),
                    None => Vec::new(),
                };
                let bot_top = roles.iter().filter(|r| own.contains(&r.id)).map(|r| r.position).max().unwrap_or(0);
                let ours_ids: Vec<u64> = ours.iter().map(|(id, _)| *id).collect();
                migration::incumbent_ceiling(&roles, &own, incumbent).map(|_| {
                    let ceiling = migration::parallel_ceiling(&roles, &ours_ids, input.guild_id.get());
                    (ceiling.unwrap_or(bot_top), bot_top)
                })
            }
            _ => None,
        };
        let ordered: Vec<(u64, u64)> = match ceiling {
            Some((ceiling, bot_top)) => migration::parallel_positions(&ours, ceiling, bot_top),
            None => {
                let mut slots: Vec<i64> = ours.iter().map(|(_, p)| *p).collect();
                slots.sort_unstable_by(|a, b| b.cmp(a));
                ours.iter()
                    .zip(&slots)
                    .filter(|((_, current), wanted)| current != *wanted)
                    .map(|((id, _), wanted)| (*id, (*wanted).max(1) as u64))
                    .collect()
            }
        };
        shifted.extend(ordered);
        let moves: Vec<(u64, u64)> = shifted.into_iter().collect();
        if moves.is_empty() {
            return Ok(0);
        }
        let writer = self.open(input.guild_id, input.version).await?;
        writer.position_roles(&moves, "order the manifest's roles").await.map_err(write)?;
        Ok(moves.len() as u32)
    }

    async fn open(&self, guild: GuildId, version: i32) -> Result<GuildWriter, ActivityError> {
        self.gate.open(guild, format!("manifest v{version}")).await.map_err(GateClosed::into_activity_error)
    }

    /// Deletes an object Arrakis made that the manifest no longer has, as the operator
    /// approved, and forgets it.
    pub async fn delete_extra(&self, input: &DeleteExtra) -> Result<(), ActivityError> {
        let community = community_id(input.community_id)?;
        let id: u64 = input
            .item
            .discord_id
            .parse()
            .map_err(|_| ActivityFailure::new(FailureKind::InvalidInput, "discord_id: not a snowflake"))?;
        let writer = self.open(input.guild_id, input.version).await?;
        let what = format!(
            "remove {} {} (dropped from the manifest, removal approved)",
            input.item.kind.as_str(),
            input.item.key
        );
        let result = match input.item.kind {
            ItemKind::Role => writer.delete_role(id, &what).await,
            ItemKind::Category | ItemKind::Channel => writer.delete_channel(id, &what).await,
        };
        match result {
            Ok(()) | Err(WriteError::Discord(DiscordFailure::NotFound { .. })) => {}
            Err(e) => return Err(write(e)),
        }
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.forget_shadow_state(input.item.kind.as_str(), &input.item.key).await.map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    /// Stops managing an object the manifest dropped and leaves it as it is in Discord.
    pub async fn detach_extra(&self, input: &DeleteExtra) -> Result<(), ActivityError> {
        let community = community_id(input.community_id)?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.forget_shadow_state(input.item.kind.as_str(), &input.item.key).await.map_err(storage)?;
        let detail = serde_json::json!({"kind": input.item.kind, "key": input.item.key, "discord_id": input.item.discord_id, "name": input.item.name});
        tx.audit("arrakis", "manifest.item_detached", detail, None).await.map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    /// Applies one op and records it in the shadow state.
    pub async fn apply_op(&self, input: &ApplyOp, attempt: u32) -> Result<String, ActivityError> {
        let community = community_id(input.community_id)?;
        let mut writer = self.open(input.guild_id, input.version).await?;
        if writer.community() != community {
            return Err(ActivityFailure::new(
                FailureKind::InvalidInput,
                format!("community_id: {community} is not the community of guild {}", input.guild_id),
            )
            .into());
        }
        let op = &input.op;
        let kind = ItemKind::of_phase(op.phase);
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let ids = AppliedIds::from(&applied_items(&tx.shadow_states().await.map_err(storage)?));
        tx.commit().await.map_err(storage)?;

        // A create never touches the id of the object it replaces (that one is gone: asking
        // for it would only earn a 404). An earlier attempt may have created the object and
        // crashed before recording it: look for it by name before creating another.
        let mut target = match op.action {
            OpAction::Update => {
                op.discord_id.as_deref().and_then(|id| id.parse::<u64>().ok()).or(ids.id(kind, &op.key))
            }
            OpAction::Create => None,
        };
        if target.is_none() && attempt > 1 {
            target = self.find_by_name(input.guild_id, op).await?;
            if let Some(id) = target {
                writer.adopt(kind, id);
            }
        }
        let what = op.describe();
        let id = match op.phase {
            Phase::Roles => match target {
                Some(id) => match writer.update_role(id, &op.desired, &what).await {
                    Ok(()) => id,
                    // Deleted since the plan was made: make it again.
                    Err(WriteError::Discord(DiscordFailure::NotFound { .. })) => {
                        writer.create_role(&op.desired, &what).await.map_err(write)?
                    }
                    Err(e) => return Err(write(e)),
                },
                None => writer.create_role(&op.desired, &what).await.map_err(write)?,
            },
            Phase::Categories | Phase::Channels => {
                let parent = match &op.desired.parent_key {
                    Some(key) => Some(ids.id(ItemKind::Category, key).ok_or_else(|| {
                        ActivityFailure::new(
                            FailureKind::DependencyMissing,
                            format!("category {key} is not applied yet"),
                        )
                    })?),
                    None => None,
                };
                let roles = ids.roles(&op.desired.visible_to).ok_or_else(|| {
                    ActivityFailure::new(
                        FailureKind::DependencyMissing,
                        format!("a role of {:?} is not applied yet", op.desired.visible_to),
                    )
                })?;
                let overwrites = plan::wanted_overwrites(input.guild_id.get(), self.bot_user_id, &roles);
                match target {
                    Some(id) => match writer.update_channel(id, &op.desired, parent, &overwrites, &what).await {
                        Ok(()) => id,
                        Err(WriteError::Discord(DiscordFailure::NotFound { .. })) => {
                            writer.create_channel(&op.desired, parent, &overwrites, &what).await.map_err(write)?
                        }
                        Err(e) => return Err(write(e)),
                    },
                    None => writer.create_channel(&op.desired, parent, &overwrites, &what).await.map_err(write)?,
                }
            }
        };
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.record_shadow_state(kind.as_str(), &op.key, id as i64, &op.desired_hash, input.version)
            .await
            .map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(id.to_string())
    }

    async fn find_by_name(&self, guild: GuildId, op: &SynthesisOp) -> Result<Option<u64>, ActivityError> {
        let reader = self.gate.reader();
        Ok(match op.phase {
            Phase::Roles => reader
                .roles(guild.get())
                .await
                .map_err(discord)?
                .iter()
                .find(|r| !r.managed && r.name == op.desired.name)
                .map(|r| r.id.get()),
            _ => reader
                .channels(guild.get())
                .await
                .map_err(discord)?
                .iter()
                .find(|c| {
                    c.name.as_deref() == Some(op.desired.name.as_str()) && u8::from(c.kind) == op.desired.channel_type
                })
                .map(|c| c.id.get()),
        })
    }
}

/// One audit row, written by the `audit.record` activity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The community.
    pub community_id: CommunityId,
    /// Who (a workflow, an operator).
    pub actor: String,
    /// What, e.g. `synthesis.started`.
    pub action: String,
    /// Details.
    pub detail: serde_json::Value,
    /// The workflow that wrote it.
    pub workflow_id: String,
}

#[activities]
impl SynthesisActivities {
    /// Plans a synthesis: the ops that make the guild match the manifest version.
    #[activity(name = "synthesis.plan")]
    pub async fn plan(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: SynthesisInput,
    ) -> Result<SynthesisPlan, ActivityError> {
        self.build_plan(&input).await
    }

    /// The freezes standing for a guild now (a held synthesis asks while it waits).
    #[activity(name = "synthesis.freezes")]
    pub async fn freezes(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: GuildFreezes,
    ) -> Result<Vec<FreezeScope>, ActivityError> {
        let state = self.gate.state(input.guild_id).await.map_err(GateClosed::into_activity_error)?;
        Ok(state.freezes)
    }

    /// Applies one op; returns the Discord id of the object.
    #[activity(name = "synthesis.apply")]
    pub async fn apply(self: Arc<Self>, ctx: ActivityContext, input: ApplyOp) -> Result<String, ActivityError> {
        let attempt = ctx.info().attempt;
        self.apply_op(&input, attempt).await
    }

    /// The three-way diff against the latest manifest version.
    #[activity(name = "reconcile.diff")]
    pub async fn reconcile_diff(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ReconcileInput,
    ) -> Result<ReconcileDiff, ActivityError> {
        let a = self.assess(input.guild_id, None).await?;
        let mut tx = self.store.tenant(a.community_id).await.map_err(storage)?;
        let rolling_back = tx.rollback_under_way().await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        let mut diff = ReconcileDiff {
            community_id: a.community_id,
            version: a.version,
            drift: a.assessment.drift,
            ops: a.assessment.ops,
            extras: a.assessment.removals,
            operator_channel_id: a.operator_channel_id,
            mode: Some(a.mode),
            held: None,
        };
        if rolling_back {
            tracing::info!(guild = %input.guild_id, "a migration's rollback is under way: nothing reconciled");
            diff = ReconcileDiff {
                drift: Vec::new(),
                ops: Vec::new(),
                extras: Vec::new(),
                held: Some("a migration's rollback is under way".into()),
                ..diff
            };
        }
        Ok(diff)
    }

    /// Posts a drift report in the operator's channel before the fixes: kept for runs that
    /// started before reports moved after the fixes (`reconcile.report`).
    #[activity(name = "reconcile.notify")]
    pub async fn reconcile_notify(
        self: Arc<Self>,
        _ctx: ActivityContext,
        notice: DriftNotice,
    ) -> Result<(), ActivityError> {
        let verb = if notice.mode == ReconcileMode::Apply { "found" } else { "found (dry run, nothing changed)" };
        let mut content = format!("Arrakis reconciliation {verb} {} difference(s):", notice.drift.len());
        for d in notice.drift.iter().take(20) {
            content.push_str(&format!("\n- `{}`: {} ({})", d.key, d.kind.words(), d.detail));
        }
        self.gate.messenger().post(notice.guild_id, notice.channel_id.get(), &content, &[]).await.map_err(discord)?;
        Ok(())
    }

    /// Posts a run's report in the operator's channel, after the fixes: each item's outcome.
    #[activity(name = "reconcile.report")]
    pub async fn reconcile_report(
        self: Arc<Self>,
        _ctx: ActivityContext,
        notice: ReportNotice,
    ) -> Result<(), ActivityError> {
        let text = notice.report.text();
        self.gate.messenger().post(notice.guild_id, notice.channel_id.get(), &text, &[]).await.map_err(discord)?;
        Ok(())
    }

    /// Posts a notice (the shadow digest) in the operator's channel.
    #[activity(name = "notify.operator")]
    pub async fn notify_operator(
        self: Arc<Self>,
        _ctx: ActivityContext,
        notice: OperatorNotice,
    ) -> Result<(), ActivityError> {
        self.gate
            .messenger()
            .post(notice.guild_id, notice.channel_id.get(), &notice.text, &[])
            .await
            .map_err(discord)?;
        Ok(())
    }

    /// Deletes an object the manifest dropped, as the operator approved.
    #[activity(name = "reconcile.delete_extra")]
    pub async fn reconcile_delete(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: DeleteExtra,
    ) -> Result<(), ActivityError> {
        self.delete_extra(&input).await
    }

    /// Stops managing an object the manifest dropped; it stays in Discord as it is.
    #[activity(name = "reconcile.detach_extra")]
    pub async fn reconcile_detach(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: DeleteExtra,
    ) -> Result<(), ActivityError> {
        self.detach_extra(&input).await
    }

    /// Orders the manifest's roles as the manifest lists them.
    #[activity(name = "synthesis.order_roles")]
    pub async fn order(self: Arc<Self>, _ctx: ActivityContext, input: OrderRoles) -> Result<u32, ActivityError> {
        self.order_roles(&input).await
    }

    /// REVIEW's plan: what deploying the wizard's draft would create, change and drop.
    #[activity(name = "wizard.preview")]
    pub async fn preview(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: arrakis_schemas::workflows::wizard::PreviewRequest,
    ) -> Result<arrakis_schemas::workflows::wizard::DeployPlan, ActivityError> {
        self.preview_plan(&input).await
    }

    /// Posts or edits the wizard's DEPLOY progress message; returns the message id.
    #[activity(name = "wizard.deploy_message")]
    pub async fn deploy_message(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: arrakis_schemas::workflows::wizard::DeployMessage,
    ) -> Result<String, ActivityError> {
        self.post_deploy_message(&input).await
    }

    /// Edits the operator's Deploy screen to where the deploy is; false when nobody's screen
    /// can be edited (no token left by the gateway).
    #[activity(name = "wizard.deploy_screen")]
    pub async fn deploy_screen(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: arrakis_schemas::workflows::wizard::DeployScreen,
    ) -> Result<bool, ActivityError> {
        self.edit_deploy_screen(&input).await
    }

    /// Writes an audit row.
    #[activity(name = "synthesis.audit")]
    pub async fn audit(self: Arc<Self>, _ctx: ActivityContext, entry: AuditEntry) -> Result<(), ActivityError> {
        let community = community_id(entry.community_id)?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.audit(&entry.actor, &entry.action, entry.detail, Some(&entry.workflow_id)).await.map_err(storage)?;
        tx.commit().await.map_err(storage)
    }
}
