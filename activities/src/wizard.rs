//! The wizard's side effects: the funnel rows, the REVIEW plan, the DEPLOY progress message,
//! and the reconciliation schedule a deployed guild gets.

use crate::failure::{ActivityFailure, FailureKind, storage};
use crate::{
    CommunityId, Store, SynthesisActivities,
    chain::{ChainError, Chains},
    discord::DiscordFailure,
};
use arrakis_schemas::{
    Lenient,
    plan::{self, ItemKind},
    temporal::{ManifestPublishedSignal, MemberSync, Reconcile},
    workflows::{
        member_sync::{self, EnsureSync, MemberSyncInput},
        reconcile::{self, ReconcileInput, ReconcileMode},
        synthesis::OpAction,
        wizard::{
            DeployMessage, DeployPlan, DeployScreen, DeployedManifest, FunnelStep, PlannedItem, PreviewRequest,
            REFRESH_BUTTON, ReconcileSchedule,
            assets::{self, AssetLookup, ChainOption, FoundAsset},
        },
    },
};
use std::{sync::Arc, time::Duration};
use temporalio_client::{
    Client, WorkflowIdConflictPolicy, WorkflowStartOptions,
    schedules::{CreateScheduleOptions, ScheduleAction, ScheduleError, ScheduleOverlapPolicy, ScheduleSpec},
    tonic::Code,
};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use twilight_model::channel::message::component::ButtonStyle;

/// How often a deployed guild is reconciled, and how much each run's start is spread.
const RECONCILE_EVERY: Duration = Duration::from_secs(6 * 60 * 60);
const RECONCILE_JITTER: Duration = Duration::from_secs(30 * 60);

/// The wizard's activities on the main task queue: storage, Temporal schedules, and the
/// chain reads that identify an asset by its address.
pub struct WizardActivities {
    store: Store,
    client: Client,
    chains: Chains,
}

impl WizardActivities {
    /// Activities over `store`, creating schedules through `client` and reading `chains`.
    pub fn new(store: Store, client: Client, chains: Chains) -> Self {
        Self { store, client, chains }
    }

    async fn community(&self, guild: arrakis_schemas::GuildId) -> Result<CommunityId, ActivityError> {
        let mut service = self.store.service().await.map_err(storage)?;
        let community = service.ensure_guild_community(guild).await.map_err(storage)?;
        service.commit().await.map_err(storage)?;
        Ok(community)
    }
}

#[activities]
impl WizardActivities {
    /// The guild's deployed manifest (its newest version), for a new session to start from;
    /// `None` for a guild never deployed.
    #[activity(name = "wizard.deployed_manifest")]
    pub async fn deployed_manifest(
        self: Arc<Self>,
        _ctx: ActivityContext,
        guild_id: arrakis_schemas::GuildId,
    ) -> Result<Option<DeployedManifest>, ActivityError> {
        let Some(community) = self.store.community_of(guild_id).await.map_err(storage)? else { return Ok(None) };
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        let latest = tx.latest_manifest().await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(latest.map(|r| DeployedManifest { version: r.version, manifest: r.manifest }))
    }

    /// The chains this worker reads (`ARRAKIS_CHAINS`): what the chain select offers.
    #[activity(name = "wizard.configured_chains")]
    pub async fn configured_chains(self: Arc<Self>, _ctx: ActivityContext) -> Result<Vec<ChainOption>, ActivityError> {
        Ok(self.chains.options())
    }

    /// Reads the contract at the lookup's address and says what it is: its standard, name,
    /// symbol and decimals. A contract Arrakis cannot use is refused (not retried) with what
    /// was found; an unreachable chain is retried.
    #[activity(name = "wizard.inspect_asset")]
    pub async fn inspect_asset(
        self: Arc<Self>,
        _ctx: ActivityContext,
        lookup: AssetLookup,
    ) -> Result<FoundAsset, ActivityError> {
        let address = lookup.address.parse().map_err(|_| {
            ActivityFailure::new(
                FailureKind::AssetNotUsable,
                format!("address: '{}' is not a 0x-prefixed 20-byte address", lookup.address),
            )
        })?;
        let facts = match self.chains.inspect(lookup.chain_id, address).await {
            Ok(facts) => facts,
            Err(e @ ChainError::NotConfigured(_)) => {
                return Err(ActivityFailure::new(FailureKind::AssetNotUsable, format!("chain_id: {e}")).into());
            }
            Err(e) => {
                return Err(
                    ActivityFailure::new(FailureKind::ChainUnavailable, format!("chain_id: {e}; try again")).into()
                );
            }
        };
        assets::identify(&lookup, &facts)
            .map_err(|why| ActivityFailure::new(FailureKind::AssetNotUsable, format!("address: {why}")).into())
    }

    /// Records a funnel row: the session reached this step (idempotent).
    #[activity(name = "wizard.record_step")]
    pub async fn record_step(self: Arc<Self>, _ctx: ActivityContext, input: FunnelStep) -> Result<(), ActivityError> {
        let community = self.community(input.guild_id).await?;
        let mut tx = self.store.tenant(community).await.map_err(storage)?;
        tx.record_funnel_step(&input.session_id, input.step.as_str()).await.map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    /// Creates the guild's 6-hourly reconciliation schedule (`reconcile-{guild_id}`); an
    /// existing one is kept as it is.
    #[activity(name = "schedule.ensure_reconcile")]
    pub async fn ensure_reconcile_schedule(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ReconcileSchedule,
    ) -> Result<String, ActivityError> {
        let id = reconcile::schedule_id(input.guild_id);
        let run = Lenient::new(&ReconcileInput {
            guild_id: input.guild_id,
            mode: ReconcileMode::Apply,
            remove: Vec::new(),
            detach: Vec::new(),
        });
        let options = CreateScheduleOptions::builder()
            .action(ScheduleAction::start_workflow(Reconcile, run, input.task_queue, id.clone()))
            .spec(ScheduleSpec::builder().intervals(vec![RECONCILE_EVERY.into()]).jitter(RECONCILE_JITTER).build())
            .overlap_policy(ScheduleOverlapPolicy::Skip)
            .note(format!("reconcile guild {} (created by the wizard's DEPLOY)", input.guild_id))
            .build();
        match self.client.create_schedule(id.clone(), options).await {
            Ok(_) => Ok(id),
            Err(ScheduleError::Rpc(status)) if status.code() == Code::AlreadyExists => Ok(id),
            Err(e) => {
                Err(ActivityFailure::new(FailureKind::TemporalUnavailable, format!("creating schedule {id}: {e}"))
                    .into())
            }
        }
    }

    /// Starts the guild's member sync (`member-sync-{guild_id}`) unless it runs already, and
    /// tells it a manifest version was deployed (signal-with-start); returns its workflow ID.
    #[activity(name = "member_sync.ensure")]
    pub async fn ensure_member_sync(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: EnsureSync,
    ) -> Result<String, ActivityError> {
        let id = member_sync::workflow_id(input.guild_id);
        let start =
            Lenient::new(&MemberSyncInput { guild_id: input.guild_id, settings: Default::default(), carried: None });
        let options = WorkflowStartOptions::new(input.task_queue, id.clone())
            .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
            .build();
        let deployed = Lenient::from_json(serde_json::json!({"deployed": true}));
        self.client
            .signal_with_start_workflow(MemberSync, start, ManifestPublishedSignal, deployed, options)
            .await
            .map_err(|e| ActivityFailure::new(FailureKind::TemporalUnavailable, format!("starting {id}: {e}")))?;
        Ok(id)
    }
}

impl SynthesisActivities {
    /// What deploying `request.manifest` would do: the plan of the draft against the guild
    /// (and what Arrakis applied before, if anything), each item described as it will be, and
    /// what the draft drops. Reads only.
    pub async fn preview_plan(&self, request: &PreviewRequest) -> Result<DeployPlan, ActivityError> {
        let manifest = &request.manifest;
        let assessment = self.assess_draft(manifest).await?;
        let entries = plan::desired_items(manifest);
        let mut out = DeployPlan { unchanged: assessment.unchanged, ..DeployPlan::default() };
        for op in assessment.ops {
            let kind = ItemKind::of_phase(op.phase);
            let detail = entries
                .iter()
                .find(|e| e.kind == kind && e.key == op.key)
                .map(|e| plan::describe_item(manifest, e))
                .filter(|d| !d.is_empty());
            let item = PlannedItem { kind, key: op.key, name: op.desired.name, detail };
            match op.action {
                OpAction::Create => out.create.push(item),
                OpAction::Update => out.update.push(item),
            }
        }
        out.remove = assessment
            .removals
            .into_iter()
            .map(|r| PlannedItem { kind: r.kind, key: r.key, name: r.name, detail: r.detail })
            .collect();
        Ok(out)
    }

    /// Posts the DEPLOY progress message, or edits it; returns its id.
    pub async fn post_deploy_message(&self, input: &DeployMessage) -> Result<String, ActivityError> {
        let messenger = self.gate().messenger();
        let channel = input.channel_id.get();
        let failure = |e: DiscordFailure| e.into_activity_error();
        let id = match input.message_id {
            Some(id) => messenger.edit(input.guild_id, channel, id.get(), &input.content).await.map_err(failure)?,
            None => messenger.post(input.guild_id, channel, &input.content, &[]).await.map_err(failure)?,
        };
        Ok(id.to_string())
    }

    /// Edits the Deploy screen, with Refresh until the deploy ends. Until the gateway has
    /// answered the press, Discord knows no message to edit (10015 Unknown Webhook): that is
    /// retried, soon; an expired token is not.
    pub async fn edit_deploy_screen(&self, input: &DeployScreen) -> Result<bool, ActivityError> {
        let Some(application_id) = self.bot_user_id() else { return Ok(false) };
        let components = if input.finished {
            Vec::new()
        } else {
            vec![crate::discord::button_row(&[(REFRESH_BUTTON.to_string(), "Refresh", ButtonStyle::Secondary)])]
        };
        let messenger = self.gate().messenger();
        match messenger.edit_deploy_screen(application_id, input.guild_id, &input.content, &components).await {
            Ok(edited) => Ok(edited),
            Err(DiscordFailure::NotFound { code: 10015, message }) => Err(ActivityFailure::new(
                FailureKind::DeployScreenNotAnswered,
                format!("the Deploy screen is not answered yet ({message})"),
            )
            .into()),
            Err(e) => Err(e.into_activity_error()),
        }
    }
}
